"""Fixtures for the APK tests: signing keys (slow to make, so made once) and the slow marker."""

from __future__ import annotations

import apkfactory
import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow: takes seconds (androguard parses every fixture DEX for comparison)"
    )


@pytest.fixture(scope="session")
def signer() -> apkfactory.SigningKey:
    return apkfactory.signing_key("示例教育科技有限公司", organisation="Example Edu")


@pytest.fixture(scope="session")
def other_signer() -> apkfactory.SigningKey:
    return apkfactory.signing_key("Someone Else", organisation="Repackager")


@pytest.fixture(scope="session")
def ec_signer() -> apkfactory.SigningKey:
    return apkfactory.signing_key("EC signer", kind="ec")

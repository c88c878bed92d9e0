"""Silencing androguard's loguru output once, before androguard is first used."""

from __future__ import annotations

from functools import cache


@cache
def quiet_androguard() -> None:
    """androguard logs thousands of DEBUG lines per APK; the audit wants none of them."""
    from loguru import logger

    logger.disable("androguard")

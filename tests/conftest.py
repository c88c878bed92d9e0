"""Fixtures shared by every test package."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

# Test helpers (APK and spreadsheet factories) live in tests/support and are imported by name.
sys.path.insert(0, str(Path(__file__).resolve().parent / "support"))


def shared_dir() -> Path | None:
    """The shared reference folder beside the checkout (or $APPAUDIT_SHARED), if present."""
    env = os.environ.get("APPAUDIT_SHARED")
    candidate = Path(env) if env else REPO_ROOT.parent / "shared"
    return candidate if candidate.is_dir() else None


@pytest.fixture(scope="session")
def shared() -> Path:
    """The shared folder; tests that need it skip with a reason when it is absent."""
    found = shared_dir()
    if found is None:
        pytest.skip("shared fixtures folder not found beside the checkout (set APPAUDIT_SHARED)")
    return found


@pytest.fixture(scope="session")
def fixture_apks(shared: Path) -> Path:
    """The folder of real APKs from the shared fixtures."""
    folder = shared / "fixtures" / "apks"
    if not folder.is_dir():
        pytest.skip(f"no fixtures/apks folder in {shared}")
    return folder


PG_ENV = "APPAUDIT_TEST_PG_URL"


@pytest.fixture(autouse=True)
def _isolated_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """No test reads the user's database, language, config or data folder."""
    monkeypatch.delenv("APPAUDIT_DB", raising=False)
    monkeypatch.delenv("APPAUDIT_LANG", raising=False)
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))


def _postgres_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database on the server named by $APPAUDIT_TEST_PG_URL."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(
            f"PostgreSQL not configured: set {PG_ENV} to a server URL, e.g. "
            "postgresql+psycopg://postgres@127.0.0.1:5432/postgres (.ci/run starts one)"
        )
    from sqlalchemy import create_engine, make_url, text

    name = f"appaudit_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new, empty registry database: SQLite, and PostgreSQL when a server is configured."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'registry.db'}"
    else:
        yield from _postgres_database()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'registry.db'}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A new, empty PostgreSQL database (skips when no server is configured)."""
    yield from _postgres_database()

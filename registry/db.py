"""Opening the registry database: URL resolution, engine set-up, migrations on first use.

Default: a SQLite file in the platform's user-data folder. `--db URL` or `APPAUDIT_DB`
select any SQLAlchemy URL (a plain file path means SQLite). Writers are serialised —
SQLite takes its write lock at BEGIN, PostgreSQL an advisory lock — so two processes
importing at once both land, one after the other.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from platformdirs import user_data_dir
from sqlalchemy import Connection, Engine, create_engine, event, exc, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker

from appaudit.errors import AppauditError

ENV_VAR = "APPAUDIT_DB"
_WRITE_LOCK_KEY = 0x41505041  # "APPA": one advisory lock for every registry writer
_SQLITE_BUSY_SECONDS = 60


class DatabaseError(AppauditError):
    """The database cannot be opened or used; the message is fit for a user."""


def default_url() -> str:
    folder = Path(user_data_dir("appaudit", appauthor=False))
    return f"sqlite:///{folder / 'registry.db'}"


def resolve_url(url: str | None) -> str:
    """The URL to use: the given one, else $APPAUDIT_DB, else the default SQLite file."""
    chosen = url or os.environ.get(ENV_VAR) or default_url()
    if "://" not in chosen:
        # A plain path: treat it as a SQLite file, as people naturally type it.
        return f"sqlite:///{Path(chosen).expanduser().absolute()}"
    return chosen


def describe(url: str) -> str:
    """The URL with any password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except exc.ArgumentError:
        return url


def _migrations_config() -> Config:
    config = Config()
    config.set_main_option("script_location", "registry:migrations")
    return config


def head_revision() -> str:
    heads = ScriptDirectory.from_config(_migrations_config()).get_heads()
    return heads[0]


class Database:
    """An open registry database with its schema at the current revision."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _create_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def ensure_schema(self) -> None:
        """Create or upgrade the schema; a no-op (one query) when it is current."""
        head = head_revision()
        with self.engine.connect() as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
        if current == {head}:
            return
        known = {
            rev.revision
            for rev in ScriptDirectory.from_config(_migrations_config()).walk_revisions()
        }
        if current - known:
            raise DatabaseError(
                f"database {describe(self.url)} has schema revision {', '.join(sorted(current))}, "
                "newer than this appaudit knows; upgrade appaudit"
            )
        with self.engine.begin() as conn:
            self._lock_writers(conn)
            config = _migrations_config()
            config.attributes["connection"] = conn
            command.upgrade(config, "head")

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session in a transaction that serialises with every other registry writer."""
        with self._sessions() as session, session.begin():
            self._lock_writers(session.connection())
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading; it commits nothing."""
        with self._sessions() as session:
            yield session
            session.rollback()

    def _lock_writers(self, conn: Connection) -> None:
        if self.dialect == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _WRITE_LOCK_KEY})

    def close(self) -> None:
        self.engine.dispose()


def open_database(url: str | None = None, *, migrate: bool = True) -> Database:
    """Open (and on first use create) the registry at `url`; DatabaseError if it cannot."""
    resolved = resolve_url(url)
    try:
        database = Database(resolved)
    except exc.NoSuchModuleError as error:
        raise DatabaseError(
            f"unsupported database URL {describe(resolved)!r}: {error}; "
            "use sqlite:///FILE or postgresql+psycopg://USER@HOST/DB"
        ) from error
    except ModuleNotFoundError as error:
        raise DatabaseError(
            f"the database driver {error.name!r} for {describe(resolved)} is not installed "
            "(for PostgreSQL: pip install 'appaudit[postgres]')"
        ) from error
    except (exc.ArgumentError, ValueError) as error:
        raise DatabaseError(
            f"invalid database URL {describe(resolved)!r} "
            "(expected e.g. sqlite:///registry.db or postgresql+psycopg://USER@HOST/DB)"
        ) from error
    if migrate:
        try:
            database.ensure_schema()
        except exc.SQLAlchemyError as error:
            database.close()
            raise DatabaseError(
                f"cannot open database {describe(resolved)}: {first_line(error)}"
            ) from error
    return database


def first_line(error: BaseException) -> str:
    """The first line of a driver's error, without SQLAlchemy's background links."""
    original = getattr(error, "orig", None) or error
    message = str(original).strip().splitlines()
    return message[0] if message else type(original).__name__


def _create_engine(url: str) -> Engine:
    parsed: URL = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    database = parsed.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        folder = Path(database).expanduser().parent
        if not folder.exists():
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise DatabaseError(
                    f"cannot create the folder {folder} for the database: {error.strerror}"
                ) from error
    engine = create_engine(url, connect_args={"timeout": _SQLITE_BUSY_SECONDS})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over transaction control from the driver so that BEGIN can be IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA busy_timeout = {_SQLITE_BUSY_SECONDS * 1000}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # IMMEDIATE takes the write lock up front: a second writer waits instead of failing
        # half-way with "database is locked".
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine

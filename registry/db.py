"""Opening the registry database: URL resolution, engine set-up, migrations on first use.

Default: a SQLite file in the platform's user-data folder. `--db URL` or `APPAUDIT_DB`
select any SQLAlchemy URL (a plain file path means SQLite). Writers are serialised —
SQLite takes its write lock at BEGIN, PostgreSQL an advisory lock — so two processes
importing at once both land, one after the other. Readers take no lock at all: SQLite
runs in WAL mode, so a `registry list` or a scan reads the last committed state while a
long import is still writing.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from platformdirs import user_data_dir
from sqlalchemy import Connection, Engine, create_engine, event, exc, inspect, make_url, text
from sqlalchemy.engine import URL

from appaudit.errors import AppauditError
from registry.values import message

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.orm import Session

ENV_VAR = "APPAUDIT_DB"
_WRITE_LOCK_KEY = 0x41505041  # "APPA": one advisory lock for every registry writer
_SQLITE_BUSY_SECONDS = 60.0
"""How long a SQLite writer waits for another's transaction (`?timeout=S` in the URL sets it)."""
SCHEMA_HEAD = "0005"
"""The newest migration: a database stamped with it needs no migrating, which is known
without loading Alembic (a test checks that it is Alembic's head)."""
_WRITER = "appaudit_writer"
"""Execution option marking the connections that write (SQLite: BEGIN IMMEDIATE)."""


class DatabaseError(AppauditError):
    """The database cannot be opened or used; the message is fit for a user."""


class MissingDatabaseError(DatabaseError):
    """An explicitly named SQLite file does not exist, and the command only reads."""


def default_url() -> str:
    folder = Path(user_data_dir("appaudit", appauthor=False))
    return f"sqlite:///{folder / 'registry.db'}"


def resolve_url(url: str | None) -> str:
    """The URL to use: the given one, else $APPAUDIT_DB, else the default SQLite file."""
    chosen = url or os.environ.get(ENV_VAR) or default_url()
    if "://" not in chosen:
        # A plain path: treat it as a SQLite file, as people naturally type it.
        try:
            path = Path(chosen).expanduser()
        except RuntimeError as error:  # ~user of a user this system does not have
            raise DatabaseError(
                message("database_path_unusable", path=chosen, reason=error)
            ) from error
        return f"sqlite:///{path.absolute()}"
    return chosen


def is_explicit(url: str | None) -> bool:
    """Whether the user named the database (--db or $APPAUDIT_DB) rather than taking the default."""
    return bool(url or os.environ.get(ENV_VAR))


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names; None for other backends, memory and `file:` URIs."""
    try:
        parsed = make_url(url)
    except (exc.ArgumentError, ValueError):
        return None
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


_SECRET_QUERY_KEYS = ("password", "passwd", "pwd", "sslpassword")
# Greedy up to the last @ of the word: a password typed with an @ in it is hidden whole.
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^:/@\s]*):[^\s'\"]*@")
_QUERY_SECRET = re.compile(
    r"(?P<key>(?<![A-Za-z0-9_])(?:" + "|".join(_SECRET_QUERY_KEYS) + r"))\s*=\s*[^&\s'\"]*",
    re.IGNORECASE,
)


_KIND_NAMES = {"postgresql": "PostgreSQL", "sqlite": "SQLite", "mysql": "MySQL",
               "mariadb": "MariaDB", "mssql": "SQL Server", "oracle": "Oracle"}  # fmt: skip


def describe(url: str, *, brief: bool = False) -> str:
    """The database as output names it: its kind and name, never a user, host or password.

    `PostgreSQL appaudit`, `SQLite /srv/appaudit/registry.db`; `brief` gives a SQLite file
    by its name alone (`SQLite registry.db`), for reports that leave the machine. A URL
    that cannot be parsed is shown as given, its credentials hidden.
    """
    try:
        parsed = make_url(url)
    except (exc.ArgumentError, ValueError):
        return redact(url)
    backend = parsed.get_backend_name()
    name = parsed.database or ""
    if backend == "sqlite":
        path = sqlite_file(url)
        if path is not None:
            name = path.name if brief else str(path)
        elif name.startswith("file:"):
            name = name.removeprefix("file:")
            name = Path(name).name if brief else name
        else:
            name = ":memory:"
    # Also a name: a password with an unescaped @ in it may parse as part of anything.
    return redact(f"{_KIND_NAMES.get(backend, backend)} {name}".strip())


_SECRETS: set[str] = set()
"""Passwords of the URLs opened in this process, hidden wherever a message repeats them."""
_RAW_PASSWORD = re.compile(r"://[^:/@\s]*:(?P<password>[^\s'\"]*)@")


def _remember_secrets(url: str) -> None:
    found = _RAW_PASSWORD.search(url)
    passwords = [found.group("password")] if found else []
    query: Mapping[str, str | tuple[str, ...]] = {}
    with contextlib.suppress(exc.ArgumentError, ValueError):
        query = make_url(url).query
    for key, value in query.items():
        if key.lower() in _SECRET_QUERY_KEYS:
            passwords.extend([value] if isinstance(value, str) else value)
    for password in passwords:
        # An unescaped @ splits a password; a driver may then quote a piece of it as the host.
        for piece in (password, *password.split("@")):
            if len(piece) >= 3:
                _SECRETS.add(piece)


def _shown_url(url: str) -> str:
    """A URL the user must correct, as typed but without its password."""
    try:
        rendered = make_url(url).render_as_string(hide_password=True)
    except (exc.ArgumentError, ValueError):
        rendered = url
    return redact(rendered)


def redact(text: str) -> str:
    """`text` with credentials of any URL in it (user:password@, ?password=) replaced by ***.

    For messages that may quote a URL or a connection string, such as a driver's error.
    """
    text = _USERINFO.sub(r"\g<scheme>\g<user>:***@", text)
    text = _QUERY_SECRET.sub(r"\g<key>=***", text)
    for secret in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _migrations_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "registry:migrations")
    return config


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(_migrations_config()).get_heads()
    return heads[0]


class Database:
    """An open registry database with its schema at the current revision."""

    def __init__(self, url: str, *, connect_url: str | None = None) -> None:
        self.url = url
        """The URL as the user gave it, for messages."""
        self.engine = _create_engine(connect_url or url)
        # Writers share the engine's pool; the option tells SQLite's BEGIN to take the lock.
        self._writer = self.engine.execution_options(**{_WRITER: True})

    def __repr__(self) -> str:
        return f"Database({describe(self.url)!r})"

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def ensure_schema(self) -> None:
        """Create or upgrade the schema; a no-op (one query) when it is current."""
        with self.engine.connect() as conn:
            current = _stamped(conn)
        if current == {SCHEMA_HEAD}:
            return
        from alembic import command
        from alembic.script import ScriptDirectory

        known = {
            rev.revision
            for rev in ScriptDirectory.from_config(_migrations_config()).walk_revisions()
        }
        if current - known:
            raise DatabaseError(
                message(
                    "schema_newer",
                    database=describe(self.url),
                    revisions=", ".join(sorted(current)),
                )
            )
        with self._writer.begin() as conn:
            self._lock_writers(conn)
            config = _migrations_config()
            config.attributes["connection"] = conn
            command.upgrade(config, "head")

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session in a transaction that serialises with every other registry writer."""
        from sqlalchemy.orm import Session

        with Session(self._writer, expire_on_commit=False) as session, session.begin():
            self._lock_writers(session.connection())
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading; it commits nothing and waits for no writer."""
        from sqlalchemy.orm import Session

        with Session(self.engine, expire_on_commit=False) as session:
            yield session
            session.rollback()

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection for reading with SQLAlchemy Core, which does not load the ORM (a
        quick command's start); it commits nothing and waits for no writer."""
        with self.engine.connect() as connection:
            yield connection
            connection.rollback()

    def _lock_writers(self, conn: Connection) -> None:
        if self.dialect == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _WRITE_LOCK_KEY})

    def close(self) -> None:
        self.engine.dispose()


def _stamped(conn: Connection) -> set[str]:
    """The migrations the database says it is at (Alembic's version table), if any."""
    if not inspect(conn).has_table("alembic_version"):
        return set()
    return {str(row[0]) for row in conn.execute(text("SELECT version_num FROM alembic_version"))}


def open_database(url: str | None = None, *, migrate: bool = True, create: bool = True) -> Database:
    """Open (and on first use create) the registry at `url`; DatabaseError if it cannot.

    With `create=False`, a SQLite file the user named (`url` or $APPAUDIT_DB) must exist
    already: a command that only reads must not turn a mistyped path into an empty
    registry in which every app looks unfiled. The default database is still created.
    """
    resolved = resolve_url(url)
    _remember_secrets(resolved)
    if not create and is_explicit(url):
        path = sqlite_file(resolved)
        if path is not None and not path.exists():
            raise MissingDatabaseError(message("no_database", path=path, env=ENV_VAR))
    try:
        database = Database(resolved)
    except exc.NoSuchModuleError as error:
        raise DatabaseError(
            message("unsupported_url", database=_shown_url(resolved), reason=redact(str(error)))
        ) from error
    except ModuleNotFoundError as error:
        raise DatabaseError(
            message("driver_missing", driver=error.name, database=describe(resolved))
        ) from error
    except (exc.ArgumentError, ValueError) as error:
        raise DatabaseError(
            message("invalid_database_url", database=_shown_url(resolved))
        ) from error
    if migrate:
        try:
            database.ensure_schema()
        except exc.SQLAlchemyError as error:
            database.close()
            path = sqlite_file(resolved)
            if path is not None and _read_only(path):
                return _open_read_only(resolved, path, error)
            raise DatabaseError(
                message("cannot_open", database=describe(resolved), reason=first_line(error))
            ) from error
    return database


def _read_only(path: Path) -> bool:
    """Whether a SQLite file exists but neither it nor its folder may be written here."""
    return (
        path.is_file()
        and os.access(path, os.R_OK)
        and not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK))
    )


def _open_read_only(url: str, path: Path, error: exc.SQLAlchemyError) -> Database:
    """A WAL database on a read-only disk or folder, opened to be read as it stands.

    Reading WAL needs a shared-memory file beside the database, which cannot be made
    there; SQLite's `immutable` mode reads without it (and without locks: on a read-only
    disk nobody writes, and in a folder only others may write to, a write they have under
    way is not seen). Every write fails, so a scan says its run could not be stored.
    """
    database = Database(url, connect_url=f"sqlite:///file:{quote(str(path))}?immutable=1&uri=true")
    try:
        database.ensure_schema()
    except exc.SQLAlchemyError:
        database.close()
        raise DatabaseError(
            message("cannot_open", database=describe(url), reason=first_line(error))
        ) from error
    return database


def first_line(error: BaseException) -> str:
    """The first line of a driver's error, without SQLAlchemy's background links.

    Credentials are hidden: a driver may quote the connection string it was given.
    """
    original = getattr(error, "orig", None) or error
    message = str(original).strip().splitlines()
    return redact(message[0]) if message else type(original).__name__


def _busy_seconds(parsed: URL) -> float:
    raw = parsed.query.get("timeout")
    try:
        return float(raw) if isinstance(raw, str) else _SQLITE_BUSY_SECONDS
    except ValueError:
        return _SQLITE_BUSY_SECONDS


SQLITE_PAGE_SIZE = 32768
"""The page size of a new SQLite file, in bytes."""


def _create_engine(url: str) -> Engine:
    parsed: URL = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    path = sqlite_file(url)
    if path is not None and not path.parent.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise DatabaseError(
                message("cannot_create_folder", path=path.parent, reason=error.strerror)
            ) from error
    busy = _busy_seconds(parsed)
    engine = create_engine(url, connect_args={"timeout": busy})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over transaction control from the driver so that BEGIN can be IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA busy_timeout = {int(busy * 1000)}")
        if path is not None:
            # A new file gets pages larger than SQLite's 4 KiB: a scan writes hundreds of
            # thousands of ledger items, which take a quarter less time to insert or update
            # in 32 KiB pages. An existing file keeps the size it was made with.
            cursor.execute(f"PRAGMA page_size = {SQLITE_PAGE_SIZE}")
            # WAL: readers see the last commit and never wait for a writer. The mode is
            # stored in the file, so this changes something only on a database's first use.
            # A read-only file keeps its mode; reading it still works.
            with contextlib.suppress(sqlite3.OperationalError):
                cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A writer's IMMEDIATE takes the write lock up front: a second writer waits instead
        # of failing half-way with "database is locked". A reader's plain BEGIN takes none.
        writer = conn.get_execution_options().get(_WRITER, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")

    return engine

"""Engines and sessions: SQLite by default (WAL, foreign keys, busy timeout), PostgreSQL by URL.

`open_database(url)` gives a `Database` with an engine and a session factory; `upgrade()` runs
the Alembic migrations to head. Storage failures (missing, locked, read-only, corrupt file;
unreachable server) become `DatabaseUnavailable` with a one-line reason.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_MS = 5000

# Set while a write transaction opens: SQLite then takes its write lock at BEGIN.
_IMMEDIATE: ContextVar[bool] = ContextVar("kaizen_sqlite_immediate", default=False)


class DatabaseUnavailable(Exception):
    """The database cannot be opened or used; the message says why in one line."""


@dataclass(eq=False)
class Database:
    url: str
    engine: Engine
    sessions: sessionmaker[Session]

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commit on success, roll back on any exception."""
        with self.sessions() as session, session.begin():
            token = _IMMEDIATE.set(True)
            try:
                session.connection()  # BEGIN now, under the flag
            finally:
                _IMMEDIATE.reset(token)
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with self.sessions() as session:
            yield session

    def is_initialised(self) -> bool:
        try:
            return inspect(self.engine).has_table("alembic_version")
        except DBAPIError as e:
            raise DatabaseUnavailable(describe(e, self.url)) from e

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # pysqlite's own transaction handling would BEGIN behind our back; we issue BEGIN
    # ourselves (IMMEDIATE for writes) so autocommit mode at the driver level is required.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys = ON")
    cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_MS}")
    cur.execute("PRAGMA journal_mode")
    mode = cur.fetchone()[0]
    if mode != "wal" and mode != "memory":
        with suppress(sqlite3.OperationalError):  # read-only media: keep its journal mode
            cur.execute("PRAGMA journal_mode = WAL")
    cur.execute("PRAGMA synchronous = NORMAL")  # safe with WAL: a crash loses no commit's pages
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    # Take the write lock up front in write transactions: a read-then-write transaction
    # that upgrades its lock later fails with SQLITE_BUSY without waiting for busy_timeout.
    conn.exec_driver_sql("BEGIN IMMEDIATE" if _IMMEDIATE.get() else "BEGIN")


def open_database(url: str, *, create: bool = True, echo: bool = False) -> Database:
    """An engine for the URL; with `create=False` a missing SQLite file is an error."""
    try:
        u = make_url(url)
    except ArgumentError:
        raise DatabaseUnavailable(f"データベースの URL が不正です: '{url}'") from None
    kwargs: dict[str, Any] = {"echo": echo}
    if u.get_backend_name() == "sqlite":
        path = u.database or ""
        if path and path != ":memory:":
            p = Path(path)
            if not create and not p.exists():
                raise DatabaseUnavailable(
                    f"データベースがありません: {p} ('kaizen init' で作成してください)"
                )
            if not create and p.is_file() and p.stat().st_size == 0:
                # Opening it would write an SQLite header into someone's empty file.
                raise DatabaseUnavailable(
                    f"データベースが空のファイルです: {p} ('kaizen init' で作成してください)"
                )
            if not p.parent.exists():
                raise DatabaseUnavailable(f"データベースのフォルダがありません: {p.parent}")
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_MS / 1000}
    elif u.get_backend_name() == "postgresql":
        kwargs["pool_pre_ping"] = True
        kwargs["connect_args"] = {"connect_timeout": 5}
    try:
        engine = create_engine(u, **kwargs)
    except (NoSuchModuleError, ModuleNotFoundError) as e:
        raise DatabaseUnavailable(
            f"このデータベースの種類は使えません: {u.get_backend_name()} ({e}); "
            "PostgreSQL には 'pip install kaizen[postgres]'"
        ) from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    db = Database(url, engine, sessionmaker(engine, expire_on_commit=False))
    _OPEN.append(db)
    return db


# Strong references: a Database dropped by its caller must still have its pool closed here,
# or the driver's connections are only closed (with a warning) by the garbage collector.
_OPEN: list[Database] = []


def dispose_all() -> None:
    """Close every pool this process opened (when a CLI command ends)."""
    while _OPEN:
        _OPEN.pop().dispose()


def describe(e: BaseException, url: str = "") -> str:
    """A storage failure in one line, without the SQL or the parameters."""
    orig = getattr(e, "orig", e)
    text = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    where = make_url(url).render_as_string(hide_password=True) if url else "データベース"
    low = text.lower()
    if "locked" in low or "busy" in low:
        return f"データベースが他の処理で使用中です ({where}): しばらくして再実行してください"
    if "readonly" in low or "read-only" in low:
        return f"データベースが読み取り専用です ({where})"
    if "not a database" in low or "malformed" in low or "disk image" in low:
        return f"データベースのファイルが壊れているか、データベースではありません ({where})"
    if "unable to open" in low:
        return f"データベースを開けません ({where})"
    if isinstance(e, OperationalError) and ("connect" in low or "connection" in low):
        return f"データベースに接続できません ({where}): {text}"
    return f"データベースのエラー ({where}): {text}"


def alembic_config(db: Database) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    return cfg


def upgrade(db: Database) -> None:
    """Create or upgrade the schema to the newest migration, in one connection."""
    from alembic import command

    cfg = alembic_config(db)
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def current_revision(db: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()

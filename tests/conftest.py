"""Shared fixtures: databases (SQLite always, PostgreSQL when it answers), engines, the CLI.

PostgreSQL: `KAIZEN_TEST_PG` (a SQLAlchemy URL) or postgresql+psycopg://postgres@127.0.0.1:5432/test.
Each test gets its own schema (via `search_path`), dropped afterwards. Without a server the
PostgreSQL half of each database test is skipped with the reason — unless `KAIZEN_REQUIRE_PG=1`
(set by .ci/run), where an unreachable server fails the run instead of skipping silently.
"""

from __future__ import annotations

import io
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from states.ids import make_corporate_number
from workflow.clock import FixedClock
from workflow.config import Settings

PG_URL = os.environ.get("KAIZEN_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
_pg_state: dict[str, str | None] = {}


def pg_unavailable() -> str | None:
    """None when PostgreSQL answers, else the reason (checked once per session)."""
    if "reason" not in _pg_state:
        try:
            import psycopg
            from sqlalchemy.engine import make_url

            u = make_url(PG_URL)
            with psycopg.connect(
                host=u.host,
                port=u.port or 5432,
                user=u.username,
                dbname=u.database,
                password=u.password,
                connect_timeout=3,
            ):
                pass
            _pg_state["reason"] = None
        except Exception as e:  # any failure means "not here": say which
            _pg_state["reason"] = (
                f"PostgreSQL not reachable at {PG_URL}: {str(e).splitlines()[0] if str(e) else type(e).__name__}"
            )
    return _pg_state["reason"]


def _need_pg() -> None:
    reason = pg_unavailable()
    if reason:
        if os.environ.get("KAIZEN_REQUIRE_PG") == "1":
            pytest.fail(reason + " (KAIZEN_REQUIRE_PG=1: CI must not skip PostgreSQL tests)")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, seeded SQLite file built once; each test copies it (migrations run once)."""
    from storage.db import open_database, upgrade

    path = tmp_path_factory.mktemp("template") / "template.db"
    db = open_database(f"sqlite:///{path}")
    upgrade(db)
    with db.engine.connect() as c:
        c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    return path


def _pg_schema_url() -> tuple[str, str]:
    schema = "kz_" + uuid.uuid4().hex[:12]
    sep = "&" if "?" in PG_URL else "?"
    return schema, f"{PG_URL}{sep}options=-csearch_path%3D{schema}"


def _pg_exec(sql: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(PG_URL)
    with psycopg.connect(
        host=u.host,
        port=u.port or 5432,
        user=u.username,
        dbname=u.database,
        password=u.password,
        autocommit=True,
    ) as conn:
        conn.execute(sql)


@contextmanager
def migrated(backend: str, sqlite_template: Path, path: Path) -> Iterator[str]:
    """An empty, migrated database: a copy of the template at `path` on SQLite, a schema of
    its own (dropped afterwards) on PostgreSQL."""
    if backend == "sqlite":
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    _need_pg()
    schema, url = _pg_schema_url()
    _pg_exec(f"CREATE SCHEMA {schema}")
    try:
        from storage.db import open_database, upgrade

        db = open_database(url)
        upgrade(db)
        db.dispose()
        yield url
    finally:
        _pg_exec(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    """An empty, migrated database on each backend."""
    with migrated(request.param, sqlite_template, tmp_path / "kaizen.db") as url:
        yield url


@pytest.fixture
def pg_url() -> Iterator[str]:
    """An empty PostgreSQL schema (not migrated), for tests that only make sense there."""
    _need_pg()
    schema, url = _pg_schema_url()
    _pg_exec(f"CREATE SCHEMA {schema}")
    try:
        yield url
    finally:
        _pg_exec(f"DROP SCHEMA {schema} CASCADE")


START = datetime(2026, 6, 1, 1, 0, tzinfo=UTC)  # 2026-06-01 10:00 JST, a Monday


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@dataclass
class World:
    """An initialised engine with a cast: admin, officers of councils 40 and 41, a supervisor."""

    k: object  # workflow.service.Kaizen
    clock: FixedClock
    url: str
    company: str


@pytest.fixture
def world(db_url: str, clock: FixedClock) -> Iterator[World]:
    from workflow.setup import init_database

    k, _ = init_database(Settings(db_url=db_url), clock, "admin")
    k.add_officer("admin", "tanaka", name="田中", council="40", role="officer")
    k.add_officer("admin", "boss", name="統括", council="40", role="supervisor")
    k.add_officer("admin", "saga", name="佐賀", council="41", role="officer")
    company = make_corporate_number("123456789012")
    k.add_company(
        "tanaka",
        number=company,
        name="株式会社テスト製作所",
        fiscal_year_end=5,
        industry="manufacturing",
        capital=10_000_000,
        employees=20,
    )
    yield World(k, clock, db_url, company)
    k.db.dispose()


def pinned_clock(now: str) -> FixedClock:
    """A test's clock from ISO 8601 (naive = JST), for `cli.app.set_clock`."""
    at = datetime.fromisoformat(now)
    return FixedClock(at if at.tzinfo else at.replace(tzinfo=ZoneInfo("Asia/Tokyo")))


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def run_cli(  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, request: pytest.FixtureRequest
):
    """Run `kaizen ARGS` in-process with a pinned clock; returns exit code, stdout, stderr."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KAIZEN_CONFIG", raising=False)
    monkeypatch.setenv("COLUMNS", "120")
    from cli.app import set_clock

    default = pinned_clock("2026-06-01T10:00:00+09:00")
    set_clock(default)
    request.addfinalizer(lambda: set_clock(None))

    def run(
        *args: str, user: str = "admin", db: str | None = None, now: str | None = None
    ) -> Result:
        from cli.app import main

        env = {"KAIZEN_USER": user}
        if db:
            env["KAIZEN_DB"] = db
        if now:  # stays pinned there for the test's later calls, as before
            set_clock(pinned_clock(now))
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = main(list(args))
        return Result(code, out.getvalue(), err.getvalue())

    return run

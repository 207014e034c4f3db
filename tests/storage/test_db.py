"""Storage: migrations match the models on both backends, SQLite settings, aware UTC, errors."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select

from storage.db import (
    DatabaseUnavailable,
    alembic_config,
    current_revision,
    open_database,
    upgrade,
)
from storage.models import Base, Council, Event

HEAD = "0005"


def test_migrations_reach_head_and_match_the_models(db_url: str) -> None:
    db = open_database(db_url)
    try:
        assert current_revision(db) == HEAD
        with db.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    finally:
        db.dispose()


def test_migrations_go_down_to_nothing_and_up_again(db_url: str) -> None:
    db = open_database(db_url)
    try:
        cfg = alembic_config(db)
        with db.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "base")
        assert current_revision(db) is None
        upgrade(db)
        assert current_revision(db) == HEAD
    finally:
        db.dispose()


def test_sqlite_runs_in_wal_with_foreign_keys(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'k.db'}")
    try:
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
    finally:
        db.dispose()


@pytest.mark.parametrize(
    "at",
    [
        datetime(2026, 6, 1, 1, 0, tzinfo=UTC),
        datetime(2026, 6, 1, 10, 0, tzinfo=timezone(timedelta(hours=9))),  # JST in, UTC out
    ],
)
def test_timestamps_are_aware_utc_in_and_out(db_url: str, at: datetime) -> None:
    db = open_database(db_url)
    try:
        with db.transaction() as s:
            s.add(Council(code="40", name="福岡", address="", phone="", url=""))
            s.flush()
            from storage.models import Case, Company, Officer

            s.add(
                Officer(
                    id="a", name="a", council_code="40", role="officer", active=True, created_at=at
                )
            )
            s.add(
                Company(
                    key="7000012050002",
                    name="x",
                    fiscal_year_end=5,
                    industry="other",
                    legal_form="株式会社",
                    created_at=at,
                )
            )
            s.flush()
            s.add(
                Case(
                    id="40-2026-0001",
                    program="405",
                    track="normal",
                    council_code="40",
                    company_key="7000012050002",
                    officer_id="a",
                    stage="consultation",
                    opened_on=date(2026, 6, 1),
                    last_event_on=date(2026, 6, 1),
                    updated_at=at,
                )
            )
            s.flush()
            s.add(
                Event(
                    case_id="40-2026-0001",
                    seq=1,
                    kind="transition",
                    trigger="open",
                    to_stage="consultation",
                    effective_on=date(2026, 6, 1),
                    recorded_at=at,
                    actor="a",
                )
            )
        with db.reading() as s:
            got = s.scalar(select(Event.recorded_at))
        assert got is not None and got.tzinfo is not None
        assert got.utcoffset() == timedelta(0)
        assert got == at
    finally:
        db.dispose()


def test_naive_timestamps_are_refused(tmp_path: Path, sqlite_template: Path) -> None:
    import shutil

    path = tmp_path / "k.db"
    shutil.copy(sqlite_template, path)
    db = open_database(f"sqlite:///{path}")
    try:
        from storage.models import Officer

        with pytest.raises(Exception, match="naive datetime refused"), db.transaction() as s:
            s.add(
                Officer(
                    id="a",
                    name="a",
                    role="admin",
                    active=True,
                    created_at=datetime(2026, 6, 1, 10, 0),
                )
            )
            s.flush()
    finally:
        db.dispose()


@pytest.mark.parametrize(
    ("url", "create", "message"),
    [
        ("not a url://", True, "URL が不正"),
        ("sqlite:///{tmp}/missing.db", False, "データベースがありません"),
        ("sqlite:///{tmp}/no/such/folder/k.db", True, "フォルダがありません"),
        ("sqlite:///{tmp}/empty.db", False, "空のファイル"),
        ("oracle+nosuchdriver://x/y", True, "使えません"),
    ],
)
def test_open_database_refuses_in_one_line(
    tmp_path: Path, url: str, create: bool, message: str
) -> None:
    (tmp_path / "empty.db").touch()
    with pytest.raises(DatabaseUnavailable, match=message) as e:
        open_database(url.format(tmp=tmp_path), create=create)
    assert "\n" not in str(e.value)
    assert (tmp_path / "empty.db").stat().st_size == 0  # nothing written into it

"""One table maps database exceptions to the workflow's error tree (workflow/dberrors.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError

from storage import db as storage_db
from storage.db import DatabaseUnavailable, open_database
from workflow.dberrors import STALE, translate_errors
from workflow.errors import Conflict, KaizenError, NotFound, StorageError
from workflow.pools import close_all

URL = "postgresql+psycopg://kaizen:secret@db.example/kaizen"


def _dbapi(cls: type[Exception], text: str) -> Exception:
    return cls("SELECT …", {"p": 1}, Exception(text))


@pytest.mark.parametrize(
    ("raised", "expect", "code", "says"),
    [
        (StaleDataError("version"), Conflict, 7, STALE),
        (_dbapi(IntegrityError, "UNIQUE constraint failed"), Conflict, 7, "同時に登録されました"),
        (_dbapi(OperationalError, "database is locked"), StorageError, 8, "他の処理で使用中"),
        (_dbapi(OperationalError, "connection refused"), StorageError, 8, "接続できません"),
        (sqlite3.DatabaseError("file is not a database"), StorageError, 8, "壊れているか"),
        (DatabaseUnavailable("データベースがありません: x.db"), StorageError, 8, "x.db"),
        (NotFound("案件 40-2026-0001 が見つかりません"), NotFound, 3, "見つかりません"),
    ],
)
def test_database_errors_become_the_error_tree(
    raised: Exception, expect: type[KaizenError], code: int, says: str
) -> None:
    with pytest.raises(expect) as info, translate_errors(URL):
        raise raised
    assert info.value.exit_code == code
    assert says in info.value.message
    assert "\n" not in info.value.message and "secret" not in info.value.message
    assert "SELECT" not in info.value.message  # the SQL is never shown


def test_other_exceptions_pass_through() -> None:
    with pytest.raises(ZeroDivisionError), translate_errors(URL):
        _ = 1 // 0


def test_close_all_disposes_every_pool_opened(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'k.db'}")
    with db.engine.connect():
        pass
    assert db in storage_db._OPEN
    close_all()
    assert storage_db._OPEN == []
    assert db.engine.pool.checkedin() == 0  # type: ignore[attr-defined]

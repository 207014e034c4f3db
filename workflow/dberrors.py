"""The one place where database exceptions become the workflow's error tree (workflow/errors.py).

    with translate_errors(k.db):
        with k.db.transaction() as s:
            ...

    sqlalchemy StaleDataError (a version check lost)    → Conflict
    sqlalchemy IntegrityError (a duplicate, a race)     → Conflict
    sqlalchemy DBAPIError, sqlite3.Error                → StorageError
    storage.db.DatabaseUnavailable                      → StorageError
    KaizenError                                         → itself

Messages are `storage.db.describe`'s one line (no SQL, no parameters, the password hidden).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from storage.db import Database, DatabaseUnavailable, describe
from workflow.errors import Conflict, KaizenError, StorageError

STALE = (
    "他の担当者が同時にこの案件を変更しました: 何も保存していません。"
    "'kaizen case show' で確認してから再実行してください"
)


def storage_error(e: BaseException, db: Database | str) -> StorageError:
    """A database failure as a StorageError (for callers that must decide per exception)."""
    if isinstance(e, DatabaseUnavailable):
        return StorageError(str(e))
    return StorageError(describe(e, db if isinstance(db, str) else db.url))


@contextmanager
def translate_errors(db: Database | str) -> Iterator[None]:
    """Turn a database exception raised inside the block into the workflow's error tree.

    `db` is the database (or its URL) the block works on; it names it in the message.
    """
    try:
        yield
    except KaizenError:
        raise
    except StaleDataError:
        raise Conflict(STALE) from None
    except IntegrityError as e:
        raise Conflict(
            f"同じデータが既に登録されているか、同時に登録されました: {describe(e)}"
        ) from None
    except (DBAPIError, sqlite3.Error, DatabaseUnavailable) as e:
        raise storage_error(e, db) from None


__all__ = ["STALE", "storage_error", "translate_errors"]

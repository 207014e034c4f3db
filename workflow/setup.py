"""Opening the database for a command, and `kaizen init`: schema, seed councils, first admin."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from states.councils import seed_councils
from storage.db import Database, DatabaseUnavailable, describe, open_database, upgrade
from storage.models import Council, Officer
from workflow.clock import Clock
from workflow.config import Settings
from workflow.errors import InvalidInput, StorageError
from workflow.service import Kaizen, _upsert_councils


def connect(settings: Settings, *, create: bool = False) -> Database:
    try:
        db = open_database(settings.db_url, create=create)
        if not create and not db.is_initialised():
            raise StorageError(
                f"データベースが初期化されていません ({settings.db_url}): 'kaizen init' を実行してください"
            )
        return db
    except DatabaseUnavailable as e:
        raise StorageError(str(e)) from None


@dataclass(frozen=True)
class InitResult:
    url: str
    councils_loaded: int
    admin_created: str | None


def init_database(settings: Settings, clock: Clock, actor_id: str) -> tuple[Kaizen, InitResult]:
    """Create or upgrade the schema, load the seed councils, make the first admin."""
    if not re.fullmatch(r"[A-Za-z0-9._@-]{1,64}", actor_id):
        raise InvalidInput(f"担当者IDは英数字と . _ @ - で入力してください: '{actor_id}'")
    db = connect(settings, create=True)
    try:
        upgrade(db)
        with db.transaction() as s:
            have = {c for c in s.scalars(select(Council.code))}
            new = [c for c in seed_councils() if c["code"] not in have]
            loaded = _upsert_councils(s, new)
            admin = None
            if not s.scalar(select(func.count()).select_from(Officer)):
                s.add(
                    Officer(
                        id=actor_id,
                        name=actor_id,
                        council_code=None,
                        role="admin",
                        active=True,
                        created_at=clock.now(),
                    )
                )
                admin = actor_id
    except DBAPIError as e:
        raise StorageError(describe(e, settings.db_url)) from None
    except DatabaseUnavailable as e:
        raise StorageError(str(e)) from None
    return Kaizen(db, settings, clock), InitResult(settings.db_url, loaded, admin)

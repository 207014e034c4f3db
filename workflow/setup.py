"""Opening the database for a command, and `kaizen init`: schema, seed councils, first admin."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from states.councils import seed_councils
from storage.db import Database, DatabaseUnavailable, open_database, upgrade
from storage.models import Council, Officer
from workflow import access
from workflow.clock import Clock
from workflow.config import Settings
from workflow.dberrors import storage_error, translate_errors
from workflow.errors import InvalidInput, StorageError
from workflow.people import write_councils
from workflow.service import Kaizen


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
    with translate_errors(settings.db_url):
        upgrade(db)
        with db.transaction() as s:
            have = {c for c in s.scalars(select(Council.code))}
            new = [c for c in seed_councils() if c["code"] not in have]
            loaded = write_councils(s, new)
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
    return Kaizen(db, settings, clock), InitResult(settings.db_url, loaded, admin)


def backup(k: Kaizen, actor_id: str, target: Path) -> int:
    """`kaizen backup`: admins only, since the copy holds every council's cases and officers.

    A target that cannot be written is refused first: a mistake in the command line is
    reported as such whoever types it (as every command refuses bad input before asking who).
    """
    if target.exists():
        raise InvalidInput(f"{target} は既にあります: 上書きしません")
    if not target.parent.exists():
        raise InvalidInput(f"保存先のフォルダがありません: {target.parent}")
    access.require_admin(k.whoami(actor_id), "バックアップ (kaizen backup)")
    return backup_sqlite(k.settings, target)


def backup_sqlite(settings: Settings, target: Path) -> int:
    """Online backup of the SQLite database to `target` (consistent while others write)."""
    import sqlite3

    from sqlalchemy.engine import make_url

    u = make_url(settings.db_url)
    if u.get_backend_name() != "sqlite" or not u.database:
        raise InvalidInput("kaizen backup は SQLite 用です: PostgreSQL は pg_dump を使ってください")
    source = Path(u.database)
    if not source.exists():
        raise StorageError(f"データベースがありません: {source}")
    from urllib.parse import quote

    # Quoted: a '#', '?' or '%' in the path would otherwise cut the URI short.
    src_uri = f"file:{quote(str(source.resolve()))}?mode=ro"
    try:
        with (
            sqlite3.connect(src_uri, uri=True) as src,
            sqlite3.connect(target) as dst,
        ):
            src.backup(dst)
            pages = int(dst.execute("PRAGMA page_count").fetchone()[0])
        dst.close()
        src.close()
    except sqlite3.Error as e:
        target.unlink(missing_ok=True)
        raise storage_error(e, settings.db_url) from None
    return pages

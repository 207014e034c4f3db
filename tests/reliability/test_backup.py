"""Backups: `kaizen backup FILE` (SQLite online backup) and pg_dump for PostgreSQL.

- The copy has the same content as the database (dump compared), passes `kaizen doctor` and
  `PRAGMA integrity_check`, and serves as KAIZEN_DB directly; copied back over the database
  it restores exactly the state of the backup, and the restored database takes writes.
- A backup taken while another process writes is consistent.
- An existing file is never overwritten; a PostgreSQL URL gets one line pointing to pg_dump.
- The pg_dump / pg_restore procedure of docs/reliability.md round-trips a database,
  append-only trigger included.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PG_URL, _pg_exec
from tests.reliability.conftest import (
    AFTER_THE_LIVES,
    advance_to,
    assert_clean_refusal,
    company,
    dump,
    integrity,
    open_case,
    spawn,
    sqlite_path,
    writer,
)

SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
POSTGRES = [pytest.mark.postgres, pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)]


def some_cases(k: Any, number: str) -> None:
    advance_to(k, open_case(k, number), "monitoring")
    advance_to(k, open_case(k, company(k, 2), program="early"), "completed")
    advance_to(k, open_case(k, company(k, 3)), "withdrawn")
    k.db.dispose()


def doctor_ok(cli: Any, url: str) -> None:
    r = cli("doctor", "--json", db=url, now=AFTER_THE_LIVES)
    assert r.code == 0 and json.loads(r.out)["ok"] is True, r.out + r.err


@SQLITE
def test_backup_and_restore_give_identical_content(cli: Any, world: Any, tmp_path: Path) -> None:
    some_cases(world.k, world.company)
    target = tmp_path / "backups" / "kaizen-2026-06-01.db"
    target.parent.mkdir()
    r = cli("backup", str(target), db=world.url)
    assert r.code == 0, r.err
    at_backup = dump(world.url)
    copy = f"sqlite:///{target}"
    assert dump(copy) == at_backup
    assert integrity(copy) == "ok"
    doctor_ok(cli, copy)  # the backup opened as KAIZEN_DB

    # Life goes on, then the backup is restored over the database (the app stopped).
    k = world.k
    advance_to(k, open_case(k, company(k, 4)), "planning")
    k.db.dispose()
    assert dump(world.url) != at_backup
    live = sqlite_path(world.url)
    for extra in ("-wal", "-shm"):  # a stale WAL would be replayed over the restored file
        Path(f"{live}{extra}").unlink(missing_ok=True)
    shutil.copy(target, live)
    assert dump(world.url) == at_backup
    doctor_ok(cli, world.url)
    k2 = open_case(k, company(k, 5))  # and it takes writes again
    assert k.show("tanaka", k2).stage == "consultation"
    k.db.dispose()


@SQLITE
def test_backup_while_another_process_writes_is_consistent(
    cli: Any, world: Any, tmp_path: Path
) -> None:
    world.k.db.dispose()
    ack = tmp_path / "ack.log"
    pid = spawn(lambda: writer(world.url, ack, 0, 1))
    try:
        time.sleep(0.3)
        r = cli("backup", str(tmp_path / "hot.db"), db=world.url)
        time.sleep(0.1)
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    assert r.code == 0, r.err
    assert "ERROR" not in ack.read_text("utf-8")
    copy = f"sqlite:///{tmp_path / 'hot.db'}"
    assert integrity(copy) == "ok"
    doctor_ok(cli, copy)


@SQLITE
def test_backup_never_overwrites(cli: Any, world: Any, tmp_path: Path) -> None:
    target = tmp_path / "precious.db"
    target.write_bytes(b"last month's backup")
    r = cli("backup", str(target), db=world.url)
    assert_clean_refusal(r.err, r.code)
    assert r.code == 2 and "上書き" in r.err
    assert target.read_bytes() == b"last month's backup"


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
@pytest.mark.postgres
def test_backup_of_postgresql_points_to_pg_dump(cli: Any, world: Any, tmp_path: Path) -> None:
    r = cli("backup", str(tmp_path / "pg.db"), db=world.url)
    assert_clean_refusal(r.err, r.code)
    assert r.code == 2 and "pg_dump" in r.err
    assert not (tmp_path / "pg.db").exists()


@SQLITE
def test_backup_of_a_path_with_a_hash(cli: Any, world: Any, tmp_path: Path) -> None:
    some_cases(world.k, world.company)
    odd = tmp_path / "council#1.db"
    shutil.copy(sqlite_path(world.url), odd)
    r = cli("backup", str(tmp_path / "b.db"), db=f"sqlite:///{odd}")
    assert r.code == 0
    assert dump(f"sqlite:///{tmp_path / 'b.db'}") == dump(f"sqlite:///{odd}")


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
@pytest.mark.postgres
def test_pg_dump_and_pg_restore_round_trip(cli: Any, world: Any, tmp_path: Path) -> None:
    """The procedure of docs/reliability.md, run as written: dump (custom format), lose the
    schema, restore it with pg_restore; same content, doctor passes, events still append-only."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.pool import NullPool

    if not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.skip("pg_dump / pg_restore are not installed here")
    some_cases(world.k, world.company)
    options = make_url(world.url).query["options"]
    assert isinstance(options, str)
    schema = options.split("search_path=")[1]
    base = make_url(PG_URL)
    env = {**os.environ, "PGHOST": base.host or "", "PGPORT": str(base.port or 5432),
           "PGUSER": base.username or "", "PGPASSWORD": base.password or ""}  # fmt: skip
    dumpfile = tmp_path / "kaizen.dump"
    subprocess.run(
        ["pg_dump", "--format=custom", "--no-owner", f"--schema={schema}", f"--file={dumpfile}",
         base.database or ""],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    before = dump(world.url)
    world.k.db.dispose()
    _pg_exec(f"DROP SCHEMA {schema} CASCADE")  # the disaster
    subprocess.run(
        ["pg_restore", "--no-owner", f"--dbname={base.database}", str(dumpfile)],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    assert dump(world.url) == before
    doctor_ok(cli, world.url)
    engine = create_engine(world.url, poolclass=NullPool)
    try:
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as c:
            c.execute(text("DELETE FROM events"))
    finally:
        engine.dispose()


@SQLITE
@pytest.mark.parametrize(
    ("user", "fragment"),
    [
        ("tanaka", "管理者 (admin) のみ"),  # an officer: the copy would hold other councils
        ("boss", "管理者 (admin) のみ"),
        ("stranger", "stranger"),  # not registered
    ],
)
def test_backup_is_an_admins_act(
    cli: Any, world: Any, tmp_path: Path, user: str, fragment: str
) -> None:
    target = tmp_path / "copy.db"
    r = cli("backup", str(target), db=world.url, user=user)
    assert_clean_refusal(r.err, r.code)
    assert r.code == 4 and fragment in r.err
    assert not target.exists()

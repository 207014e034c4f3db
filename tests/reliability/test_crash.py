"""Crashes: writers killed with SIGKILL at random moments, then every invariant is checked.

Each loop forks two writer processes that open cases and walk them through their lives with
the engine (the same use cases every `kaizen` command calls), and kills each after a random
delay — mid-transaction, mid-commit, mid-read, wherever it happens to be. Then:
- `kaizen doctor --json` reports `ok: true` (stages match events, paths are edges of the
  graph, no orphans, money within caps, re-use respected);
- on SQLite, `PRAGMA integrity_check` answers `ok`;
- every write a writer saw acknowledged (the case's event count after the call returned) is
  still there: a crash never takes back a commit;
- the next loop's writers carry on with the interrupted cases (no stale lock, no half case).

KAIZEN_CRASH_LOOPS sets the number of loops (default 10, the CI budget); KAIZEN_CRASH_SEED
replays a run (the seed is in every failure message).
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import START
from tests.reliability.conftest import (
    AFTER_THE_LIVES,
    FINAL,
    LOOPS_ENV,
    WRITERS,
    integrity,
    spawn,
    step,
    writer,
)

LOOPS = int(os.environ.get(LOOPS_ENV, "10"))
SEED = int(os.environ.get("KAIZEN_CRASH_SEED", str(random.randrange(1_000_000))))
IMPORT_ROWS = 15  # an import of this many cases takes a few hundred ms here


def acked(ack: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in ack.read_text("utf-8").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():  # a torn last line is ignored
            out[parts[0]] = max(out.get(parts[0], 0), int(parts[1]))
    return out


def test_sigkill_during_advances_breaks_nothing(world: Any, cli: Any, tmp_path: Path) -> None:
    from sqlalchemy import func, select

    from storage.models import Event

    rng = random.Random(SEED)
    ack = tmp_path / "ack.log"
    ack.touch()
    k = world.k
    k.db.dispose()  # nothing of the parent's pool crosses the fork
    killed_mid_work = 0
    for loop in range(LOOPS):
        pids = [
            spawn(lambda lane=lane, loop=loop: writer(world.url, ack, lane, loop))  # type: ignore[misc]
            for lane in range(WRITERS)
        ]
        for pid in pids:
            time.sleep(rng.uniform(0.03, 0.25))
            os.kill(pid, signal.SIGKILL)
        for pid in pids:
            _, status = os.waitpid(pid, 0)
            assert os.WIFSIGNALED(status), (
                f"seed {SEED}: a writer stopped by itself: {ack.read_text()}"
            )
            killed_mid_work += 1

        errors = [x for x in ack.read_text("utf-8").splitlines() if x.startswith("ERROR")]
        assert errors == [], f"seed {SEED}, loop {loop}"
        r = cli("doctor", "--json", db=world.url, now=AFTER_THE_LIVES)
        doc = json.loads(r.out)
        assert r.code == 0 and doc["ok"] is True, f"seed {SEED}, loop {loop}: {doc['problems']}"
        if world.url.startswith("sqlite"):
            assert integrity(world.url) == "ok", f"seed {SEED}, loop {loop}"
        with k.db.reading() as s:
            rows = s.execute(select(Event.case_id, func.count()).group_by(Event.case_id))
            have = {cid: int(n) for cid, n in rows}
        for cid, n in acked(ack).items():
            assert have.get(cid, 0) >= n, (
                f"seed {SEED}, loop {loop}: {cid} lost acknowledged events"
            )
        k.db.dispose()

    progress = acked(ack)
    assert sum(progress.values()) > LOOPS, f"seed {SEED}: the writers hardly wrote: {progress}"
    assert killed_mid_work == LOOPS * WRITERS
    # The database still takes writes after all those crashes.
    live = [r for r in k.list_cases("tanaka") if r.stage not in FINAL]
    if live:
        step(k, live[0].id)
    k.db.dispose()


# ---------------------------------------------------------------------------- bulk import


@pytest.fixture(scope="module")
def import_rows(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> list[dict[str, str]]:
    """Rows of a council's spreadsheet: the demo's cases (every stage), exported by Kaizen,
    with the officer columns emptied (the importing admin takes the cases)."""
    import csv
    import shutil

    from workflow.clock import FixedClock
    from workflow.config import Settings
    from workflow.demo import run_demo
    from workflow.importer import export_cases

    d = tmp_path_factory.mktemp("demo")
    shutil.copy(sqlite_template, d / "demo.db")
    k, _ = run_demo(
        Settings(db_url=f"sqlite:///{d / 'demo.db'}"), FixedClock(START), "admin", seed=7, cases=30
    )
    export_cases(k, "admin", d / "cases.csv")
    k.db.dispose()
    with open(d / "cases.csv", encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        r["案件番号"] = r["担当者"] = r["受付者"] = ""
    return rows[:IMPORT_ROWS]


def import_file(rows: list[dict[str, str]], loop: int, path: Path) -> set[str]:
    """The rows with companies of their own for this loop; returns their 法人番号."""
    import csv

    from states.ids import make_corporate_number

    numbers: dict[str, str] = {}
    out = []
    for r in rows:
        old = r["法人番号"]
        new = numbers.setdefault(old, make_corporate_number(f"8{loop:03d}{len(numbers):08d}"))
        out.append({**r, "法人番号": new, "会社名": f"{r['会社名']}{loop}"})
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(out)
    return set(numbers.values())


def importer(url: str, path: Path) -> None:
    """Body of a forked child: `kaizen import cases PATH` as the admin. Exits with its code."""
    code = 1
    try:
        import io
        from contextlib import redirect_stderr, redirect_stdout

        from cli.app import main, set_clock
        from tests.conftest import pinned_clock

        set_clock(pinned_clock("2026-06-01T10:00:00+09:00"))
        os.environ.update(KAIZEN_DB=url, KAIZEN_USER="admin")
        with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
            code = main(["import", "cases", str(path), "--json"])
    finally:
        os._exit(code)


def test_sigkill_during_bulk_import_writes_all_or_nothing(
    world: Any, cli: Any, tmp_path: Path, import_rows: list[dict[str, str]]
) -> None:
    from sqlalchemy import func, select

    from storage.models import Case

    rng = random.Random(SEED + 1)
    k = world.k
    k.db.dispose()
    n = len(import_rows)
    loops = max(3, LOOPS // 3)

    def imported(numbers: set[str]) -> int:
        with k.db.reading() as s:
            got = s.scalar(
                select(func.count()).select_from(Case).where(Case.company_key.in_(numbers))
            )
        k.db.dispose()
        return int(got or 0)

    # Loop 0 runs to the end: the file imports, and it says how long an import takes here.
    path = tmp_path / "cases-0.csv"
    numbers = import_file(import_rows, 0, path)
    started = time.monotonic()
    _, status = os.waitpid(spawn(lambda: importer(world.url, path)), 0)
    full = time.monotonic() - started
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, "the import file does not import"
    assert imported(numbers) == n

    finished = 0
    for loop in range(1, loops + 1):
        path = tmp_path / f"cases-{loop}.csv"
        numbers = import_file(import_rows, loop, path)
        pid = spawn(lambda path=path: importer(world.url, path))  # type: ignore[misc]
        time.sleep(rng.uniform(0.0, 0.8 * full))
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        if os.WIFEXITED(status):  # it finished first: then everything must be there
            assert os.WEXITSTATUS(status) == 0
            finished += 1
            full /= 2  # imports run faster than the first one: aim earlier
        got = imported(numbers)
        assert got in (0, n), f"seed {SEED}, loop {loop}: a killed import left {got} of {n} cases"
        doc = json.loads(cli("doctor", "--json", db=world.url, now=AFTER_THE_LIVES).out)
        assert doc["ok"] is True, f"seed {SEED}, loop {loop}: {doc['problems']}"
        if world.url.startswith("sqlite"):
            assert integrity(world.url) == "ok", f"seed {SEED}, loop {loop}"
    assert finished < loops, f"seed {SEED}: no import was ever interrupted"

"""Helpers of the reliability suite: database dumps, the CLI in a subprocess, cases at a stage.

`dump(url)` is the yardstick of "nothing was written": SQLite's `iterdump` for a file, every
row of every table (ordered) for PostgreSQL. `advance_to` walks a case along the happy path
with the engine, recording the facts each step needs.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from states.ids import make_corporate_number
from tests.conftest import migrated

HERE = Path(__file__).parent
NOW = "2026-06-01T10:00:00+09:00"  # the `world` fixture's clock, for CLI runs
LOOPS_ENV = "KAIZEN_CRASH_LOOPS"
# The real clock of a `kaizen doctor` run after lives whose test clock ran ahead (catch_up):
# doctor flags events recorded after the real clock.
AFTER_THE_LIVES = "2089-06-01T10:00:00+09:00"


# ------------------------------------------------------------------ dumps


def sqlite_path(url: str) -> Path:
    from sqlalchemy.engine import make_url

    return Path(make_url(url).database or "")


_COLUMNS: dict[str, dict[str, int]] = {}  # url -> table -> number of columns


def dump(url: str) -> list[Any]:
    """The whole content of the database, comparable with `==`."""
    if url.startswith("sqlite"):
        con = sqlite3.connect(sqlite_path(url))
        try:
            return list(con.iterdump())
        finally:
            con.close()
    from sqlalchemy import create_engine, inspect, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as c:
            if url not in _COLUMNS:
                insp = inspect(c)
                _COLUMNS[url] = {t: len(insp.get_columns(t)) for t in insp.get_table_names()}
            out: list[Any] = []
            for table, ncols in sorted(_COLUMNS[url].items()):
                order = ", ".join(str(i) for i in range(1, ncols + 1))
                rows = c.execute(text(f'SELECT * FROM "{table}" ORDER BY {order}')).all()
                out.append((table, [tuple(r) for r in rows]))
            return out
    finally:
        engine.dispose()


_LAST: dict[str, list[Any]] = {}


def dump_before(url: str) -> list[Any]:
    """The dump taken after the previous refusal on this database, or a fresh one.

    Tables of refusals run one after another on a module's database that nothing else
    writes: the state after one row is the state before the next, which halves the dumps.
    """
    return _LAST[url] if url in _LAST else dump(url)


def dump_after(url: str) -> list[Any]:
    _LAST[url] = dump(url)
    return _LAST[url]


def integrity(url: str) -> str:
    con = sqlite3.connect(sqlite_path(url))
    try:
        return str(con.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        con.close()


# ------------------------------------------------------------------ the CLI as a process


@dataclass
class Proc:
    code: int
    out: str
    err: str


def cli_env(db: str, user: str = "admin") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAIZEN_")}
    env.update(KAIZEN_DB=db, KAIZEN_USER=user, COLUMNS="120")
    env["PYTHONPATH"] = str(HERE.parent.parent)  # tests.pinned_cli, tests.conftest
    env["PYTHONWARNINGS"] = "ignore"
    return env


def kaizen_proc(
    *args: str, db: str, user: str = "admin", cwd: Path | None = None, now: str = NOW
) -> Proc:
    """`kaizen ARGS` in its own process (what an officer's shell runs), on a clock pinned at
    `now` (tests/pinned_cli.py)."""
    cp = subprocess.run(
        [sys.executable, "-m", "tests.pinned_cli", now, *args],
        env=cli_env(db, user),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return Proc(cp.returncode, cp.stdout, cp.stderr)


def assert_clean_refusal(err: str, code: int) -> None:
    """A refusal: non-zero exit, one line on stderr starting `kaizen: `, no traceback."""
    assert code != 0, "expected a refusal"
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}: {err!r}"
    assert lines[0].startswith("kaizen: "), lines[0]


@pytest.fixture
def cli(run_cli: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """`run_cli`, closing the engines each command opened once it returns.

    A `kaizen` process exits after one command, so the CLI never disposes its engine; run
    in-process against PostgreSQL, those pools would outlive the call and their connections
    be garbage-collected open (a ResourceWarning, an error under `filterwarnings = error`).
    """
    import workflow.setup as setup

    opened: list[Any] = []
    real = setup.connect

    def tracking(settings: Any, *, create: bool = False) -> Any:
        db = real(settings, create=create)
        opened.append(db)
        return db

    monkeypatch.setattr(setup, "connect", tracking)

    def run(*args: str, **kw: Any) -> Any:
        try:
            return run_cli(*args, **kw)
        finally:
            for db in opened:
                db.dispose()
            opened.clear()

    return run


# ------------------------------------------------------------------ databases outside `db_url`


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def module_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[str]:
    """A migrated database per backend shared by one module (for tests that write nothing)."""

    path = tmp_path_factory.mktemp("moddb") / "kaizen.db"
    with migrated(request.param, sqlite_template, path) as url:
        yield url


# ------------------------------------------------------------------ cases


def company_number(n: int) -> str:
    return make_corporate_number(f"{900000000000 + n:012d}")


def company(k: Any, n: int, actor: str = "tanaka", name: str | None = None) -> str:
    """A fresh eligible company (法人番号 from `n`)."""
    number = company_number(n)
    k.add_company(
        actor,
        number=number,
        name=name or f"株式会社信頼{n}",
        fiscal_year_end=5,
        industry="manufacturing",
        capital=10_000_000,
        employees=20,
    )
    return number


def categories(k: Any, actor: str, case_id: str) -> list[tuple[str, str]]:
    return [(c.category, c.phase) for c in k.subsidy(actor, case_id).categories]


ESTIMATE = {"plan": 1_500_000, "monitoring": 300_000}


def catch_up(k: Any, v: Any) -> None:
    """Move a test's fixed clock up to the case's latest date, and in monitoring to the first
    day the current period's report fits (a report covers a period that ended, rules.md §5):
    a process that restarts, or a life that reaches monitoring, goes on from there."""
    from workflow.clock import FixedClock

    clock = k.clock
    if not isinstance(clock, FixedClock):
        return
    latest = max(e.on for e in v.events)
    if v.stage == "monitoring" and v.missing.get("claim_monitoring") and v.report_from:
        latest = max(latest, v.report_from)
    if k.today() < latest:
        clock.at = datetime(latest.year, latest.month, latest.day, 1, 0, tzinfo=UTC)


def step(k: Any, case_id: str, actor: str = "tanaka") -> str:
    """Take the case one stage further along the happy path; returns the new stage.

    Safe to repeat after an interruption: it records only the facts still missing.
    """
    v = k.show(actor, case_id)
    catch_up(k, v)
    st = v.stage
    if st == "consultation":
        if not v.lenders:
            k.add_lender(actor, case_id, "福岡銀行")
        if v.certificate_issued is None:
            k.record_certificate(actor, case_id, k.today())
        for cat, phase in categories(k, actor, case_id):
            k.record_estimate(actor, case_id, cat, ESTIMATE[phase])
        return str(k.advance(actor, case_id, "apply").stage)
    if st == "application":
        return str(k.advance(actor, case_id, "accept").stage)
    if st == "due_diligence":
        return str(k.advance(actor, case_id, "start_planning").stage)
    if st == "planning":
        if v.plan_recorded is None:
            k.record_plan(actor, case_id)
        return str(k.advance(actor, case_id, "submit_plan").stage)
    if st == "bank_negotiation":
        for lender in v.lenders:
            if lender.consented_on is None:
                k.record_consent(actor, case_id, lender.name)
        return str(k.advance(actor, case_id, "agree").stage)
    if st == "payment_claim":
        for cat, phase in categories(k, actor, case_id):
            if phase == "plan":
                k.record_fee(actor, case_id, cat, ESTIMATE[phase])
        return str(k.advance(actor, case_id, "decide_payment").stage)
    if st == "monitoring":
        if v.missing.get("claim_monitoring"):  # this period's report not yet recorded
            k.record_report(actor, case_id)
        if v.periods_paid == 0:
            for cat, phase in categories(k, actor, case_id):
                if phase == "monitoring":
                    k.record_fee(actor, case_id, cat, ESTIMATE[phase])
        return str(k.advance(actor, case_id, "claim_monitoring").stage)
    if st == "monitoring_claim":
        last = v.periods_paid + 1 >= v.periods_total
        return str(k.advance(actor, case_id, "complete" if last else "pay_monitoring").stage)
    raise AssertionError(f"no step from {st}")


def advance_to(k: Any, case_id: str, stage: str, actor: str = "tanaka") -> None:
    """Walk the happy path until the case is at `stage` (withdrawn/discontinued/rejected too)."""
    closing = {
        "withdrawn": ("planning", "withdraw"),
        "discontinued": ("monitoring", "discontinue"),
        "rejected": ("application", "reject"),
    }
    target, trigger = closing.get(stage, (stage, ""))
    for _ in range(40):
        if k.show(actor, case_id).stage == target:
            break
        step(k, case_id, actor)
    else:
        raise AssertionError(f"{case_id} never reached {target}")
    if trigger:
        k.advance(actor, case_id, trigger, reason="テストのため")


def open_case(
    k: Any, number: str, *, program: str = "405", track: str = "normal", actor: str = "tanaka"
) -> str:
    council = {"tanaka": "40", "boss": "40", "saga": "41"}.get(actor, "40")
    v = k.open_case(
        actor, company=number, program=program, track=track, council=council, advisor="博多会計"
    )
    return str(v.id)


# ------------------------------------------------------------------ writers to kill

FINAL = ("completed", "rejected", "withdrawn", "discontinued")
WRITERS = 2


class Acking:
    """The engine, writing down the event count of every case view a call returns."""

    def __init__(self, k: Any, fd: int) -> None:
        self._k, self._fd = k, fd

    def __getattr__(self, name: str) -> Any:
        f = getattr(self._k, name)
        if not callable(f):
            return f

        def call(*a: Any, **kw: Any) -> Any:
            v = f(*a, **kw)
            if hasattr(v, "events") and hasattr(v, "id"):
                os.write(self._fd, f"{v.id} {len(v.events)}\n".encode())
            return v

        return call


def writer(url: str, ack: Path, lane: int, loop: int) -> None:
    """Body of a forked child: write until killed. Never returns."""
    code = 0
    try:
        from tests.conftest import START
        from workflow.clock import FixedClock
        from workflow.config import Settings
        from workflow.errors import KaizenError
        from workflow.service import Kaizen
        from workflow.setup import connect

        settings = Settings(db_url=url)
        fd = os.open(ack, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        k = Acking(Kaizen(connect(settings), settings, FixedClock(START)), fd)
        n = 0
        while True:
            mine = [
                r.id
                for r in k.list_cases("tanaka")
                if r.stage not in FINAL and int(r.id[-4:]) % WRITERS == lane
            ]
            try:
                if mine:
                    step(k, mine[0])
                else:
                    n += 1
                    open_case(k, company(k, 10_000 * loop + 1_000 * lane + n))
            except KaizenError as e:  # a clean refusal (e.g. a case number taken meanwhile)
                os.write(fd, f"refused {type(e).__name__} {e.message}\n".encode())
    except BaseException as e:
        try:
            with open(ack, "a", encoding="utf-8") as f:
                f.write(f"ERROR {type(e).__name__}: {e}\n".replace("\n", " ") + "\n")
        finally:
            code = 1
    finally:
        os._exit(code)


def spawn(body: Callable[[], None]) -> int:
    pid = os.fork()
    if pid == 0:  # pragma: no cover  (the child)
        body()
    return pid

"""Concurrent officers, and the machines they share (design.md §2, §3).

Each thread uses its own engine (its own connection pool), as separate CLI processes would.
On PostgreSQL two sessions are made to load the same case before either writes (a barrier in
the guard step), so optimistic locking must turn the loser away with `Conflict`. On SQLite a
write transaction takes the lock at BEGIN, so the loser waits and then finds the stage moved
(`NotAllowed`). Either way exactly one transition is written and event seqs stay unique.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import date
from functools import partial
from typing import Any

import pytest
import transitions

from storage.db import open_database
from tests.conftest import World
from tests.workflow.conftest import SQLITE_ONLY, Driver
from workflow import machines
from workflow.config import Settings
from workflow.errors import Conflict, KaizenError, NotAllowed
from workflow.service import Kaizen


@pytest.fixture
def engines(world: World) -> Iterator[Callable[[int], list[Kaizen]]]:
    made: list[Kaizen] = []

    def make(n: int) -> list[Kaizen]:
        ks = [
            Kaizen(open_database(world.url), Settings(db_url=world.url), world.clock)
            for _ in range(n)
        ]
        made.extend(ks)
        return ks

    yield make
    for k in made:
        k.db.dispose()


def _race(jobs: list[Callable[[], Any]]) -> list[tuple[str, Any]]:
    """Start every job at once; each result is ('ok', value) or ('error', exception)."""
    start = threading.Barrier(len(jobs), timeout=20)
    out: list[tuple[str, Any]] = [("missing", None)] * len(jobs)

    def run(i: int, job: Callable[[], Any]) -> None:
        try:
            start.wait()
            out[i] = ("ok", job())
        except BaseException as e:  # reported to the test, not lost in the thread
            out[i] = ("error", e)

    threads = [threading.Thread(target=run, args=(i, j)) for i, j in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    return out


def _hold_after_load(k: Kaizen, barrier: threading.Barrier) -> None:
    """Make this engine wait, once, after it has loaded the case and before it writes."""
    waited = threading.Event()

    def hold(_snapshot: Any) -> None:
        if not waited.is_set():
            waited.set()
            barrier.wait()

    k.after_load = hold


def _check_log(k: Kaizen, cid: str, trigger: str) -> None:
    events = k.show("tanaka", cid).events
    seqs = [e.seq for e in events]
    assert seqs == list(range(1, len(events) + 1))  # no duplicate, no gap
    assert [e.trigger for e in events if e.kind == "transition"].count(trigger) == 1


def test_two_sessions_advancing_the_same_case(
    world: World, drive: Driver, engines: Callable[[int], list[Kaizen]]
) -> None:
    cid = drive.open("405", "normal")
    drive.prepare_apply(cid)
    version = drive.k.show("tanaka", cid).version
    a, b = engines(2)
    pg = world.url.startswith("postgresql")
    if pg:  # both load version N before either writes: the loser must see a conflict
        loaded = threading.Barrier(2, timeout=20)
        _hold_after_load(a, loaded)
        _hold_after_load(b, loaded)
    results = _race(
        [
            lambda: a.advance("tanaka", cid, "apply", on=date(2026, 6, 1)),
            lambda: b.advance("boss", cid, "apply", on=date(2026, 6, 1)),
        ]
    )
    kinds = sorted(kind for kind, _ in results)
    assert kinds == ["error", "ok"], results
    [err] = [e for kind, e in results if kind == "error"]
    if pg:
        assert isinstance(err, Conflict), err
        assert err.exit_code == 7
    else:
        assert isinstance(err, Conflict | NotAllowed), err
    if isinstance(err, Conflict):
        assert "同時に" in err.message
    v = drive.k.show("tanaka", cid)
    assert v.stage == "application" and v.version == version + 1
    _check_log(drive.k, cid, "apply")


def test_many_threads_one_transition(
    world: World, drive: Driver, engines: Callable[[int], list[Kaizen]]
) -> None:
    cid = drive.open("405", "normal")
    ks = engines(6)
    results = _race([partial(k.advance, "tanaka", cid, "withdraw", reason="取下げ") for k in ks])
    oks = [v for kind, v in results if kind == "ok"]
    errors = [e for kind, e in results if kind == "error"]
    assert len(oks) == 1, results
    assert all(isinstance(e, Conflict | NotAllowed) for e in errors), errors
    assert all(e.exit_code in (5, 7) for e in errors)
    assert drive.k.show("tanaka", cid).stage == "withdrawn"
    _check_log(drive.k, cid, "withdraw")


def test_threads_on_different_cases_do_not_mix(
    world: World, drive: Driver, engines: Callable[[int], list[Kaizen]]
) -> None:
    """The shared machines move tokens, not cases: parallel cases land where they should."""
    ids = [drive.open("405", "normal"), drive.open("early", "normal"), drive.open("405", "gl")]
    for cid in ids:
        drive.prepare_apply(cid)
    drive.to(ids[1], "application")
    ks = engines(3)
    plan = [("apply", "application"), ("accept", "planning"), ("apply", "application")]
    results = _race(
        [partial(k.advance, "tanaka", cid, t[0]) for k, cid, t in zip(ks, ids, plan, strict=True)]
    )
    assert all(kind == "ok" for kind, _ in results), results
    assert [v.stage for _, v in results] == [dest for _, dest in plan]


def test_concurrent_opens_get_distinct_ids(
    world: World,
    drive: Driver,
    engines: Callable[[int], list[Kaizen]],
    request: pytest.FixtureRequest,
) -> None:
    ks = engines(8)

    def open_one(k: Kaizen) -> str:
        return k.open_case(
            "tanaka", company=world.company, program="405", track="normal", council="40"
        ).id

    results = _race([partial(open_one, k) for k in ks])
    errors = [e for kind, e in results if kind == "error"]
    assert errors == []
    ids = sorted(v for _, v in results)
    assert ids == [f"40-2026-{n:04d}" for n in range(1, 9)]


@SQLITE_ONLY
def test_a_fact_bumps_the_case_version(drive: Driver) -> None:
    cid = drive.open("405", "normal")
    before = drive.k.show("tanaka", cid).version
    after = drive.k.add_lender("tanaka", cid, "福岡銀行").version
    assert after > before


# ---------------------------------------------------------------- one machine per definition


@SQLITE_ONLY
def test_no_machine_is_built_per_case(drive: Driver, monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[int] = []
    original = transitions.Machine.__init__

    def counting(self: Any, *args: Any, **kw: Any) -> None:
        built.append(1)
        original(self, *args, **kw)

    monkeypatch.setattr(transitions.Machine, "__init__", counting)
    machines.machine_for.cache_clear()
    monkeypatch.setitem(machines.BUILDS, "count", 0)

    kinds = [("405", "normal"), ("405", "gl"), ("early", "normal"), ("early", "guarantee")]
    ids = [drive.open(p, t) for p, t in kinds * 3]  # 12 cases
    for cid in ids[:6]:
        drive.to(cid, "application")
    drive.to(ids[0], "payment_claim")  # one company: only one case may be accepted (re-use)
    for cid in ids:
        drive.k.show("tanaka", cid)
    drive.k.list_cases("tanaka")
    assert machines.BUILDS["count"] == len(kinds)  # one per (program, track)
    assert len(built) == len(kinds)


@SQLITE_ONLY
def test_a_refused_trigger_builds_nothing_either(drive: Driver) -> None:
    cid = drive.open("405", "normal")
    drive.k.show("tanaka", cid)
    before = machines.BUILDS["count"]
    for _ in range(20):
        with pytest.raises(KaizenError):
            drive.k.advance("tanaka", cid, "agree")
    assert machines.BUILDS["count"] == before

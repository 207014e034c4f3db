"""Races: several `kaizen` processes writing at the same instant, on SQLite and PostgreSQL.

A crowd of worker processes (tests/reliability/worker.py) imports the CLI once and then runs
`kaizen …` commands round by round, every worker of a round released by the same go-file.
- Same case, same step: exactly one process wins; each other one gets a clean refusal
  (exit 7 conflict, or exit 5 when it already saw the new stage) in one line, and the case's
  event log stays numbered 1..n with one event for the step.
- Different cases at once: every command succeeds and every write is there afterwards.
- Opening cases at once (case numbers are allocated per council and year): no number is
  handed out twice and no acknowledged case is lost.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import START
from tests.reliability.conftest import (
    HERE,
    NOW,
    advance_to,
    assert_clean_refusal,
    catch_up,
    cli_env,
    company,
    open_case,
)
from workflow.clock import FixedClock
from workflow.config import Settings
from workflow.doctor import check_database

WORKERS = ("w0", "w1", "w2")
Result = tuple[int, str, str]


class Crowd:
    """Worker processes that run one list of commands each per round, all released at once."""

    def __init__(self, sync: Path) -> None:
        self.sync = sync
        self.k = 0
        self.procs = {
            name: subprocess.Popen(
                [sys.executable, str(HERE / "worker.py"), str(sync), name, NOW],
                env=cli_env(""),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            for name in WORKERS
        }
        self._wait(lambda: all((sync / f"ready-{n}").exists() for n in WORKERS), "ready")

    def _wait(self, done: Any, what: str) -> None:
        deadline = time.monotonic() + 90
        while not done():
            for name, p in self.procs.items():
                if p.poll() is not None:
                    err = p.stderr.read().decode() if p.stderr else ""
                    raise AssertionError(
                        f"worker {name} died ({p.returncode}) before {what}: {err}"
                    )
            if time.monotonic() > deadline:
                raise AssertionError(f"workers not {what} in time")
            time.sleep(0.005)

    def round(
        self, cmds: Mapping[str, list[dict[str, Any]] | None], db: str = ""
    ) -> dict[str, list[Result]]:
        k = self.k
        for name in WORKERS:
            todo = cmds.get(name, [])
            if todo is not None:
                todo = [{"db": db, "user": "tanaka", **c} for c in todo]
            (self.sync / f"cmd-{k}-{name}.json").write_text(
                json.dumps(todo, ensure_ascii=False), "utf-8"
            )
        (self.sync / f"go-{k}").touch()
        self.k += 1
        if all(v is None for v in cmds.values()):
            return {}
        files = {n: self.sync / f"done-{k}-{n}.json" for n in WORKERS}
        self._wait(lambda: all(f.exists() for f in files.values()), f"done with round {k}")
        return {n: [tuple(r) for r in json.loads(f.read_text("utf-8"))] for n, f in files.items()}

    def close(self) -> None:
        try:
            self.round(dict.fromkeys(WORKERS))
            for p in self.procs.values():
                p.wait(timeout=30)
        finally:
            for p in self.procs.values():
                if p.poll() is None:
                    p.kill()
                    p.wait()
                if p.stderr:
                    p.stderr.close()


@pytest.fixture(scope="module")
def kz(module_db: str) -> Iterator[Any]:
    from workflow.setup import init_database

    k, _ = init_database(Settings(db_url=module_db), FixedClock(START), "admin")
    k.add_officer("admin", "tanaka", name="田中", council="40", role="officer")
    yield k
    k.db.dispose()


@pytest.fixture(scope="module")
def crowd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crowd]:
    """One crowd for the module: each command names its database (KAIZEN_DB)."""
    c = Crowd(tmp_path_factory.mktemp("sync"))
    try:
        yield c
    finally:
        c.close()


def advance(case_id: str, trigger: str, *extra: str) -> dict[str, Any]:
    return {"argv": ["case", "advance", case_id, trigger, *extra, "--json"], "user": "tanaka"}


def seqs(k: Any, case_id: str) -> list[int]:
    return [e.seq for e in k.show("tanaka", case_id).events]


def _report_when_due(k: Any, cid: str) -> None:
    """The period's report, on the first day it fits (the test's clock moves there)."""
    catch_up(k, k.show("tanaka", cid))
    k.record_report("tanaka", cid)


def to_payment_claim_with_fees(k: Any, cid: str) -> None:
    advance_to(k, cid, "payment_claim")  # the agree/revise round may have gone either way
    k.record_fee("tanaka", cid, "dd_plan", 1_500_000)


def test_same_case_exactly_one_wins_each_step(crowd: Crowd, kz: Any, module_db: str) -> None:
    k = kz
    k.clock.at = START  # the module's clock: other tests move it on
    cid = open_case(k, company(k, 1))
    advance_to(k, cid, "application")
    steps: list[tuple[str, Any]] = [
        ("accept", None),
        ("start_planning", None),
        ("submit_plan", lambda: k.record_plan("tanaka", cid)),
        ("mixed", lambda: k.record_consent("tanaka", cid, "福岡銀行")),
        ("decide_payment", lambda: to_payment_claim_with_fees(k, cid)),
        ("claim_monitoring", lambda: _report_when_due(k, cid)),
        ("discontinue", None),
    ]
    for trigger, prepare in steps:
        if prepare:
            prepare()
        before = k.show("tanaka", cid)
        if trigger == "mixed":  # two triggers that exclude each other: agree or revise
            cmds = {
                n: [advance(cid, "agree") if i % 2 else advance(cid, "revise", "--reason", "修正")]
                for i, n in enumerate(WORKERS)
            }
        else:
            why = ["--reason", "廃業"] if trigger == "discontinue" else []
            cmds = {n: [advance(cid, trigger, *why)] for n in WORKERS}
        for todo in cmds.values():  # the workers' clock is the test's
            for c in todo:
                c["now"] = k.now().isoformat()
        results = crowd.round(cmds, module_db)
        codes = {n: r[0][0] for n, r in results.items()}
        assert sorted(codes.values()).count(0) == 1, (trigger, codes, results)
        for n, [(code, _out, err)] in results.items():
            if code != 0:
                assert code in (5, 7), (trigger, n, code, err)
                assert_clean_refusal(err, code)
        after = k.show("tanaka", cid)
        assert after.version > before.version, trigger
        assert seqs(k, cid) == list(range(1, len(before.events) + 2)), trigger
        new = after.events[-1]
        assert new.kind == "transition" and new.from_stage == before.stage
        assert new.to_stage == after.stage
    assert k.show("tanaka", cid).stage == "discontinued"
    _, problems = check_database(k.db, k.settings)
    assert problems == []


LIFE = [
    ["case", "lender", "{cid}", "福岡銀行"],
    ["case", "certificate", "{cid}", "--issued", "2026-05-20"],
    ["case", "estimate", "{cid}", "dd_plan", "1500000"],
    ["case", "estimate", "{cid}", "monitoring", "300000"],
    ["case", "advance", "{cid}", "apply"],
    ["case", "advance", "{cid}", "accept"],
    ["case", "advance", "{cid}", "start_planning"],
    ["case", "plan", "{cid}"],
    ["case", "advance", "{cid}", "submit_plan"],
    ["case", "consent", "{cid}", "福岡銀行"],
    ["case", "advance", "{cid}", "agree"],
    ["case", "fee", "{cid}", "dd_plan", "1500000"],
    ["case", "advance", "{cid}", "decide_payment"],
    # (second round: once the first monitoring period is over)
    ["case", "report", "{cid}"],
    ["case", "fee", "{cid}", "monitoring", "300000"],
    ["case", "advance", "{cid}", "claim_monitoring"],
    ["case", "advance", "{cid}", "pay_monitoring"],
]


def test_different_cases_lose_no_write(crowd: Crowd, kz: Any, module_db: str) -> None:
    k = kz
    k.clock.at = START  # the module's clock: other tests move it on
    cases = {n: open_case(k, company(k, 10 + i)) for i, n in enumerate(WORKERS)}
    split = LIFE.index(["case", "report", "{cid}"])
    results: dict[str, list[Result]] = {n: [] for n in cases}
    for part in (LIFE[:split], LIFE[split:]):
        first = next(iter(cases.values()))
        catch_up(k, k.show("tanaka", first))  # the second round: the period is over
        done = crowd.round(
            {
                n: [
                    {
                        "argv": [*(a.format(cid=cid) for a in argv), "--json"],
                        "user": "tanaka",
                        "now": k.now().isoformat(),
                    }
                    for argv in part
                ]
                for n, cid in cases.items()
            },
            module_db,
        )
        for n, rs in done.items():
            results[n] += rs
    for n, rs in results.items():
        for argv, (code, _out, err) in zip(LIFE, rs, strict=True):
            assert code == 0, (n, argv, code, err)
    for cid in cases.values():
        v = k.show("tanaka", cid)
        assert v.stage == "monitoring" and v.periods_paid == 1
        assert [e.seq for e in v.events] == list(range(1, len(LIFE) + 2))
        assert [e.trigger for e in v.events[1:]] == [
            a[3] if a[1] == "advance" else a[1] for a in LIFE
        ]
        assert [(x.name, x.consented_on is not None) for x in v.lenders] == [("福岡銀行", True)]
        sub = k.subsidy("tanaka", cid)
        assert sub.paid == 1_000_000 + 200_000  # plan 2/3 of 1.5m, both halves; monitoring 2/3
    _, problems = check_database(k.db, k.settings)
    assert problems == []


def test_concurrent_opens_never_share_a_number(crowd: Crowd, kz: Any, module_db: str) -> None:
    k = kz
    numbers = {n: [company(k, 100 + 10 * i + j) for j in range(2)] for i, n in enumerate(WORKERS)}
    before = {r.id for r in k.list_cases("tanaka")}
    results = crowd.round(
        {
            n: [
                {
                    "argv": [
                        "case", "open", "--company", num, "--program", "405",
                        "--council", "40", "--advisor", "博多会計", "--json",
                    ],
                    "user": "tanaka",
                }
                for num in nums
            ]
            for n, nums in numbers.items()
        },
        module_db,
    )  # fmt: skip
    opened = []
    for n, rs in results.items():
        for code, out, err in rs:
            if code == 0:
                opened.append(json.loads(out)["id"])
            else:  # the engine retries a taken number; a last collision must still be clean
                assert code == 7, (n, code, err)
                assert_clean_refusal(err, code)
    assert len(opened) == len(set(opened)), opened
    now = {r.id for r in k.list_cases("tanaka")}
    assert now - before == set(opened)
    assert len(opened) >= len(WORKERS)
    for cid in opened:
        assert seqs(k, cid) == [1]

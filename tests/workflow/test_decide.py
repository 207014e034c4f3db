"""The decision core is pure: decisions are made on hand-built snapshots, with no database.

`workflow/decide.py`, `facts.py`, `money.py`, `snapshot.py` (and the guards, re-use, planner
and machines they call) import neither SQLAlchemy nor `storage`, read no clock, and return the
same decision for the same snapshot. Their refusals list every unmet condition.
"""

from __future__ import annotations

import ast
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from states.calendar import BusinessCalendar
from states.rules import get_version, version_for
from workflow.decide import Env, decide_move, decide_open
from workflow.errors import GuardFailed, InvalidInput, NotAllowed
from workflow.facts import AddLender, Certificate, Estimate, apply_fact, decide_fact
from workflow.snapshot import CaseState, CompanyState, Snapshot
from workflow.views import Actor

CORE = (
    "decide",
    "facts",
    "money",
    "snapshot",
    "guards",
    "reuse",
    "milestones",
    "machines",
    "corrections",
)
WORKFLOW = Path(__file__).resolve().parents[2] / "workflow"
TODAY = date(2026, 6, 1)
OFFICER = Actor("tanaka", "田中", "officer", "40")


@pytest.mark.parametrize("module", CORE)
def test_the_core_imports_no_database_and_no_clock(module: str) -> None:
    tree = ast.parse((WORKFLOW / f"{module}.py").read_text("utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    assert not {n for n in names if n.split(".")[0] in ("sqlalchemy", "storage", "time")}
    assert "workflow.clock" not in names and "workflow.store" not in names
    assert "datetime.now" not in ast.unparse(tree) and "date.today" not in ast.unparse(tree)


def env(today: date = TODAY) -> Env:
    return Env(
        calendar=BusinessCalendar(),
        version_on=lambda d: version_for(d),
        version=get_version,
        version_key="application",
        today=today,
        first_day=date(2022, 4, 1),
    )


def fresh(program: str = "405", track: str = "normal") -> Snapshot:
    case = CaseState(
        id="40-2026-0001",
        program=program,
        track=track,
        council="40",
        company="7123456789012",
        officer="tanaka",
        advisor="博多会計事務所",
        stage="consultation",
        rule_version=None,
        affected=(),
        affected_note=None,
        interim_monitoring=False,
        guarantee_release=False,
        reuse_reason=None,
        reuse_exception=False,
        certificate_issued=None,
        plan_recorded=None,
        opened_on=date(2026, 5, 1),
        applied_on=None,
        accepted_on=None,
        agreed_on=None,
        decided_on=None,
        valid_until=None,
        last_event_on=date(2026, 5, 1),
        periods_paid=0,
        version=1,
    )
    company = CompanyState(
        "7123456789012", "株式会社テスト", 5, "manufacturing", 10_000_000, 20, "株式会社"
    )
    snap = Snapshot(case, company, (), {}, 1)
    return decide_open(case, snap, OFFICER, env()).after


def test_opening_plans_the_timeline_without_a_database() -> None:
    snap = fresh()
    assert snap.moves == (("open", date(2026, 5, 1)),) and snap.next_seq == 2
    assert {"kickoff", "dd", "final_plan"} <= set(snap.milestones)


def test_apply_refuses_with_every_unmet_condition() -> None:
    snap = replace(fresh(), uses=())
    with pytest.raises(GuardFailed) as e:
        decide_move(snap, OFFICER, "apply", None, None, env())
    reasons = " / ".join(e.value.reasons)
    for missing in ("取引金融機関", "履歴事項全部証明書", "見積額"):
        assert missing in reasons
    assert snap == replace(fresh(), uses=())  # nothing about the snapshot changed


def test_apply_decides_the_stage_event_rule_version_and_milestones() -> None:
    snap = replace(fresh(), uses=())
    for cmd in (
        AddLender("福岡銀行"),
        Certificate(date(2026, 5, 20)),
        Estimate("dd_plan", 2_400_000),
        Estimate("monitoring", 900_000),
    ):
        snap = decide_fact(snap, OFFICER, cmd, env(), replan=False).after
    first = decide_move(snap, OFFICER, "apply", None, None, env())
    again = decide_move(snap, OFFICER, "apply", None, None, env())
    assert first == again  # the same snapshot, the same decision
    ch = first.changes
    assert (ch.case.stage, ch.case.rule_version, ch.case.applied_on) == ("application", "R7", TODAY)
    assert ch.expected_version == snap.case.version and ch.case.version == snap.case.version + 1
    [ev] = ch.events
    assert (ev.seq, ev.trigger, ev.from_stage, ev.to_stage) == (
        snap.next_seq,
        "apply",
        "consultation",
        "application",
    )
    assert ch.milestones["kickoff"].done_on == TODAY  # replanned into the same change


@pytest.mark.parametrize(
    ("trigger", "on", "error", "says"),
    [
        ("frobnicate", None, InvalidInput, "不明なトリガー"),
        ("agree", None, NotAllowed, "から agree はできません"),
        ("apply", date(2026, 6, 2), InvalidInput, "未来の日付"),
        ("apply", date(2026, 4, 30), InvalidInput, "最後の記録日"),
    ],
)
def test_refusals_are_decided_before_anything(
    trigger: str, on: date | None, error: type[Exception], says: str
) -> None:
    with pytest.raises(error, match=says):
        decide_move(replace(fresh(), uses=()), OFFICER, trigger, on, None, env())


def test_a_fact_is_refused_outside_its_stage_window() -> None:
    snap = replace(fresh(), lenders=(), costs={})
    moved = replace(snap, case=replace(snap.case, stage="planning"))
    with pytest.raises(NotAllowed, match="estimateは 相談 の段階でのみ"):
        decide_fact(moved, OFFICER, Estimate("dd_plan", 1), env())
    # The importer sets a file's facts without the window, through the same rule.
    after, ch, detail = apply_fact(snap, OFFICER, Estimate("dd_plan", 1), env())
    assert detail == {"category": "dd_plan", "estimate": 1}
    assert after.cost_map["dd_plan"].estimate == 1 and "dd_plan" in ch.costs

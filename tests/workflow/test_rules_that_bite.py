"""Deadlines that are states, monitoring that waits for its period, and the smaller rules of
rules.md §3–§5: each refusal one line naming the date or the rule, with nothing written."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tests.conftest import World
from tests.workflow.conftest import SQLITE_ONLY, Driver, set_today, snapshot
from workflow.errors import GuardFailed, InvalidInput, KaizenError, NotAllowed, PermissionDenied

# ---------------------------------------------------------------- 405: the application lapses


def _lapsed(world: World, drive: Driver, stage: str) -> tuple[str, date]:
    """A 405 case at `stage`, with the clock one day past its validity."""
    cid = drive.new("405", "normal", stage)
    v = drive.k.show("tanaka", cid)
    # What the next step needs besides time, recorded while the application is valid.
    if stage == "planning":
        drive.k.record_plan("tanaka", cid)
    for lender in v.lenders if stage == "bank_negotiation" else []:
        drive.k.record_consent("tanaka", cid, lender.name)
    for line in drive.k.subsidy("tanaka", cid).categories if stage == "payment_claim" else []:
        if line.phase == "plan" and line.estimate:
            drive.k.record_fee("tanaka", cid, line.category, line.estimate)
    assert v.valid_until is not None
    set_today(world, v.valid_until + timedelta(days=1))
    return cid, v.valid_until


@pytest.mark.parametrize(
    ("stage", "trigger"),
    [
        ("due_diligence", "start_planning"),
        ("planning", "submit_plan"),
        ("bank_negotiation", "agree"),
        ("payment_claim", "decide_payment"),
    ],
)
def test_a_lapsed_405_application_cannot_move_forward(
    world: World, drive: Driver, stage: str, trigger: str
) -> None:
    cid, valid = _lapsed(world, drive, stage)
    before = snapshot(world.url)
    with pytest.raises(GuardFailed) as e:
        drive.k.advance("tanaka", cid, trigger)
    assert f"利用申請の有効期限 {valid} を過ぎて失効しています" in e.value.message
    assert "kaizen case extend" in e.value.message and "\n" not in e.value.message
    assert snapshot(world.url) == before
    [row] = [r for r in drive.k.list_cases("tanaka") if r.id == cid]
    assert (row.lapsed, row.stage_label) == (True, "失効")
    # Closing is still possible; moving on needs a supervisor's extension first.
    later = valid + timedelta(days=90)
    v = drive.k.extend_validity("boss", cid, later, "金融機関調整の長期化")
    assert (v.valid_until, v.events[-1].trigger, v.events[-1].reason) == (later, "extend", None)
    assert v.events[-1].detail == {
        "valid_until": later.isoformat(),
        "reason": "金融機関調整の長期化",
    }
    [row] = [r for r in drive.k.list_cases("tanaka") if r.id == cid]
    assert not row.lapsed
    assert drive.k.advance("tanaka", cid, trigger).stage != stage


@SQLITE_ONLY
def test_a_lapsed_405_case_may_still_be_withdrawn(world: World, drive: Driver) -> None:
    cid, _ = _lapsed(world, drive, "planning")
    assert drive.k.advance("tanaka", cid, "withdraw", reason="事業者の申出").stage == "withdrawn"


@SQLITE_ONLY
def test_the_lapse_milestone_is_overdue_and_named_in_report_overdue(
    world: World, drive: Driver
) -> None:
    from workflow import reports

    cid, valid = _lapsed(world, drive, "bank_negotiation")
    set_today(world, valid + timedelta(days=10))
    rows = [x for x in reports.overdue(drive.k, "tanaka").rows if x["case"] == cid]
    lapse = [x for x in rows if x["milestone"] == "application_lapse"]
    assert lapse and lapse[0]["stage_label"] == "失効" and lapse[0]["days_late"] > 0


# ---------------------------------------------------------------- early: the claim's year


def test_an_early_claim_past_a_year_needs_a_supervisors_exception(
    world: World, drive: Driver
) -> None:
    cid = drive.new("early", "normal", "payment_claim")
    v = drive.k.show("tanaka", cid)
    due = next(m.due for m in v.milestones if m.key == "payment_claim_deadline")
    for line in drive.k.subsidy("tanaka", cid).categories:
        if line.phase == "plan" and line.estimate:
            drive.k.record_fee("tanaka", cid, line.category, line.estimate)
    set_today(world, due + timedelta(days=1))
    before = snapshot(world.url)
    with pytest.raises(GuardFailed) as e:
        drive.k.advance("tanaka", cid, "decide_payment")
    assert f"支払申請の期限 {due} (利用申請から1年) を過ぎています" in e.value.message
    assert snapshot(world.url) == before
    drive.k.extend_validity("boss", cid, due + timedelta(days=30), "決算確定の遅れ")
    assert drive.k.advance("tanaka", cid, "decide_payment").stage == "monitoring"


# ---------------------------------------------------------------- extensions are bounded


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("who", "until", "error", "says"),
    [
        ("tanaka", 30, PermissionDenied, r"統括責任者 \(supervisor\) のみ"),
        ("boss", 0, InvalidInput, "現在の期限"),
        ("boss", -5, InvalidInput, "現在の期限"),
        ("boss", 800, InvalidInput, "24か月"),
    ],
)
def test_an_extension_is_a_supervisors_and_bounded(
    world: World, drive: Driver, who: str, until: int, error: type[KaizenError], says: str
) -> None:
    cid = drive.new("405", "normal", "planning")
    valid = drive.k.show("tanaka", cid).valid_until
    assert valid is not None
    before = snapshot(world.url)
    with pytest.raises(error, match=says):
        drive.k.extend_validity(who, cid, valid + timedelta(days=until), "理由")
    assert snapshot(world.url) == before


@SQLITE_ONLY
def test_an_early_exception_comes_after_the_application_and_before_the_decision(
    drive: Driver,
) -> None:
    with pytest.raises(NotAllowed, match="利用申請後・支払決定前"):
        drive.k.extend_validity("boss", drive.new("early", "normal"), date(2027, 1, 4), "x")
    with pytest.raises(NotAllowed, match="利用申請後・支払決定前"):
        cid = drive.new("early", "normal", "monitoring")
        drive.k.extend_validity("boss", cid, date(2028, 1, 4), "x")


# ---------------------------------------------------------------- monitoring waits


@pytest.mark.parametrize(
    ("program", "options"),
    [("405", {}), ("early", {}), ("early", {"interim_monitoring": True})],
)
def test_a_report_waits_for_its_period_and_closes_its_milestone(
    world: World, drive: Driver, program: str, options: dict[str, Any]
) -> None:
    cid = drive.new(program, "normal", "monitoring", **options)
    v = drive.k.show("tanaka", cid)
    assert v.report_from is not None
    first = v.report_from
    last_day = first - timedelta(days=1)
    set_today(world, last_day)
    before = snapshot(world.url)
    with pytest.raises(InvalidInput) as e:
        drive.k.record_report("tanaka", cid)
    assert f"は {last_day} に終わります: 報告は {first} 以降に登録してください" in e.value.message
    assert snapshot(world.url) == before
    set_today(world, first + timedelta(days=3))
    v = drive.k.record_report("tanaka", cid)
    report = next(m for m in v.milestones if m.key.startswith("monitoring") and m.done)
    assert report.done_on == first + timedelta(days=3)  # closed on the report's day
    claim = next(m for m in v.milestones if m.key == f"{report.key}_claim")
    assert not claim.done and claim.due >= report.due  # never due before its report


@SQLITE_ONLY
def test_a_milestone_done_late_keeps_its_lateness(world: World, drive: Driver) -> None:
    cid = drive.open("405", "normal")
    kickoff = next(m for m in drive.k.show("tanaka", cid).milestones if m.key == "kickoff")
    set_today(world, kickoff.due + timedelta(days=14))
    v = drive.next(cid)  # apply, two weeks after the kick-off's due date
    done = next(m for m in v.milestones if m.key == "kickoff")
    assert done.done and done.done_on is not None and not done.overdue
    assert done.days_late == drive.k.calendar.business_days_between(kickoff.due, done.done_on)
    assert done.days_late >= 8


# ---------------------------------------------------------------- smaller rules


@SQLITE_ONLY
def test_a_consultation_may_predate_the_first_rule_version(drive: Driver) -> None:
    cid = drive.open("405", "normal", on=date(2022, 2, 14))
    v = drive.k.show("tanaka", cid)
    assert v.id.startswith("40-2021-") and v.milestones and v.rule_version is None
    drive.prepare_apply(cid)
    with pytest.raises(InvalidInput, match="2022-04-01"):
        drive.k.advance("tanaka", cid, "apply", on=date(2022, 3, 1))


@SQLITE_ONLY
def test_early_guarantee_bank_negotiation_is_at_the_firms_wish(drive: Driver) -> None:
    cid = drive.open("early", "guarantee")
    drive.k.add_lender("tanaka", cid, "福岡銀行")
    drive.k.record_certificate("tanaka", cid, drive.k.today())
    drive.k.record_estimate("tanaka", cid, "plan", 240_000)
    drive.k.record_estimate("tanaka", cid, "monitoring_year_end", 75_000)
    assert drive.k.show("tanaka", cid).missing["apply"] == []  # no 金融機関交渉費用 needed
    assert drive.step(cid, "apply").stage == "application"

"""Milestones of a case (workflow.milestones.compute) and their upkeep by the engine (rules.md §5).

Expected dates are written out by hand from the calendar, not recomputed with the code under
test: 2026-06-30 is a Tuesday, 2026-10-31 a Saturday, 2029-04-30 a 振替休日, and so on.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from states.calendar import BusinessCalendar
from states.rules import get_version
from workflow.milestones import CaseDates, Planned, compute

CAL = BusinessCalendar()
R7 = get_version("R7")
OPEN = date(2026, 6, 1)

BASE_405 = CaseDates(
    program="405",
    fiscal_year_end=5,
    interim_monitoring=False,
    opened_on=OPEN,
    certificate_issued=None,
    applied_on=None,
    accepted_on=None,
    agreed_on=None,
    decided_on=None,
    valid_until=None,
    stage="consultation",
)
BASE_EARLY = replace(BASE_405, program="early")


def _plan(
    case: CaseDates = BASE_405,
    events: list[tuple[str, date]] | None = None,
    cal: BusinessCalendar = CAL,
) -> dict[str, Planned]:
    evs = [("open", case.opened_on), *(events or [])]
    return {p.key: p for p in compute(case, evs, R7, cal)}


def _dues(plan: dict[str, Planned]) -> dict[str, date]:
    return {k: p.due for k, p in plan.items()}


# ------------------------------------------------------------------ the seed's 5月決算 example

SEED_405 = {
    # m+1 (June) 相談 … m+4 (September) 計画確定・金融機関協議, then payment and monitoring.
    "kickoff": date(2026, 6, 30),  # Tue
    "dd": date(2026, 7, 31),  # Fri
    "draft_plan": date(2026, 8, 31),  # Mon
    "final_plan": date(2026, 9, 30),  # Wed
    "payment_claim": date(2026, 10, 30),  # Fri: 10/31 is a Saturday
    # Six periods: each 中間決算 (November) and 決算 (May), reported two months later.
    "monitoring_1": date(2027, 1, 29),  # Nov 2026 → Jan 2027 (1/30-31 weekend)
    "monitoring_2": date(2027, 7, 30),  # May 2027 → Jul 2027 (7/31 Sat)
    "monitoring_3": date(2028, 1, 31),
    "monitoring_4": date(2028, 7, 31),
    "monitoring_5": date(2029, 1, 31),
    "monitoring_6": date(2029, 7, 31),
    # Claims: 60 days after the period's last day, rolled forward — but never before the
    # period's report (rules.md §5), so the later of the two.
    "monitoring_1_claim": date(2027, 1, 29),  # 2026-11-30 + 60
    "monitoring_2_claim": date(2027, 7, 30),  # 2027-05-31 + 60
    "monitoring_3_claim": date(2028, 1, 31),  # 2027-11-30 + 60 = Sat 1/29 → Mon
    "monitoring_4_claim": date(2028, 7, 31),  # 2028-05-31 + 60 = Sun 7/30 → Mon
    "monitoring_5_claim": date(2029, 1, 31),  # 2028-11-30 + 60 = 1/29, report due 1/31
    "monitoring_6_claim": date(2029, 7, 31),  # 2029-05-31 + 60 = 7/30, report due 7/31
}


def test_405_opened_2026_06_01_month_by_month() -> None:
    plan = _plan()
    assert _dues(plan) == SEED_405
    assert all(p.done_on is None for p in plan.values())


@pytest.mark.parametrize(
    ("key", "stage"),
    [
        ("kickoff", "consultation"),
        ("dd", "due_diligence"),
        ("draft_plan", "planning"),
        ("final_plan", "bank_negotiation"),
        ("payment_claim", "payment_claim"),
        ("monitoring_1", "monitoring"),
        ("monitoring_6_claim", "monitoring"),
    ],
)
def test_each_milestone_belongs_to_its_stage(key: str, stage: str) -> None:
    assert _plan()[key].stage == stage


def test_monitoring_labels_name_the_period() -> None:
    plan = _plan()
    assert plan["monitoring_1"].label == "モニタリング報告 第1期 (2026年11月 中間決算)"
    assert plan["monitoring_2"].label == "モニタリング報告 第2期 (2027年5月 決算)"
    assert plan["monitoring_1_claim"].label.startswith("伴走支払申請 第1期 (期末2026年11月から60日")


def test_every_due_date_is_a_business_day() -> None:
    for case in (
        BASE_405,
        BASE_EARLY,
        replace(BASE_EARLY, interim_monitoring=True),
        replace(BASE_405, fiscal_year_end=12, opened_on=date(2026, 12, 1)),
    ):
        for p in _plan(case).values():
            assert CAL.is_business_day(p.due), (p.key, p.due)


# ------------------------------------------------------------------ early: interim or not


def test_early_without_interim_has_the_year_end_report_only() -> None:
    plan = _plan(BASE_EARLY)
    assert _dues(plan) == {
        "kickoff": date(2026, 6, 30),
        "draft_plan": date(2026, 8, 31),
        "final_plan": date(2026, 9, 30),
        "payment_claim": date(2026, 10, 30),
        # Plan in September 2026: the first May year end at least 12 months later is May
        # 2028, reported two months after.
        "monitoring_year_end": date(2028, 7, 31),
        "monitoring_year_end_claim": date(2028, 7, 31),  # 2028-05-31 + 60 = Sun → Mon
    }
    assert plan["monitoring_year_end"].label == "伴走支援 (決算期) 報告 (2028年5月決算)"


def test_early_with_interim_adds_the_interim_report_six_months_before() -> None:
    plan = _plan(replace(BASE_EARLY, interim_monitoring=True))
    assert plan["monitoring_interim"].due == date(2028, 1, 31)  # Nov 2027 + 2 months
    assert plan["monitoring_interim_claim"].due == date(2028, 1, 31)
    assert plan["monitoring_year_end"].due == date(2028, 7, 31)
    # The claim labels say which period they are about.
    assert "期中" in plan["monitoring_interim_claim"].label
    assert "決算期" in plan["monitoring_year_end_claim"].label


def test_early_year_end_follows_the_actual_agreement() -> None:
    case = replace(BASE_EARLY, agreed_on=date(2027, 6, 10), stage="payment_claim")
    plan = _plan(case, [("agree", date(2027, 6, 10))])
    # June 2027 + 12 months = June 2028: the next May year end is May 2029.
    assert plan["monitoring_year_end"].due == date(2029, 7, 31)


def test_monitoring_claims_are_done_in_order() -> None:
    case = replace(
        BASE_EARLY, interim_monitoring=True, decided_on=date(2026, 10, 20), stage="monitoring"
    )
    plan = _plan(case, [("claim_monitoring", date(2028, 1, 20))])
    assert plan["monitoring_interim"].done_on == date(2028, 1, 20)
    assert plan["monitoring_interim_claim"].done_on == date(2028, 1, 20)
    assert plan["monitoring_year_end"].done_on is None


# ------------------------------------------------------------------ year-end rollover


def test_fiscal_year_end_december_rolls_into_the_next_year() -> None:
    case = replace(BASE_405, fiscal_year_end=12, opened_on=date(2027, 1, 5))
    plan = _plan(case)
    assert [plan[k].due for k in ("kickoff", "dd", "draft_plan", "final_plan")] == [
        date(2027, 1, 29),  # Fri
        date(2027, 2, 26),  # Fri
        date(2027, 3, 31),  # Wed
        date(2027, 4, 30),  # Fri
    ]
    assert plan["payment_claim"].due == date(2027, 5, 31)
    # Monitoring from June: June is the 中間決算 of a December year end, December the 決算.
    assert plan["monitoring_1"].label == "モニタリング報告 第1期 (2027年6月 中間決算)"
    assert plan["monitoring_1"].due == date(2027, 8, 31)
    assert plan["monitoring_2"].label == "モニタリング報告 第2期 (2027年12月 決算)"
    assert plan["monitoring_2"].due == date(2028, 2, 29)  # a leap year


def test_fiscal_year_end_march_with_the_template_crossing_new_year() -> None:
    case = replace(BASE_405, fiscal_year_end=3, opened_on=date(2026, 10, 1))
    plan = _plan(case)
    assert plan["kickoff"].due == date(2026, 10, 30)
    assert plan["dd"].due == date(2026, 11, 30)
    assert plan["draft_plan"].due == date(2026, 12, 28)  # 12/29–12/31 closed
    assert plan["final_plan"].due == date(2027, 1, 29)
    assert plan["payment_claim"].due == date(2027, 2, 26)
    assert plan["monitoring_1"].label == "モニタリング報告 第1期 (2027年3月 決算)"
    assert plan["monitoring_1"].due == date(2027, 5, 31)
    assert plan["monitoring_2"].label == "モニタリング報告 第2期 (2027年9月 中間決算)"
    assert plan["monitoring_2"].due == date(2027, 11, 30)


def test_early_year_end_rolls_over_to_a_later_calendar_year() -> None:
    case = replace(BASE_EARLY, fiscal_year_end=3, opened_on=date(2026, 10, 1))
    plan = _plan(case)
    # Plan January 2027 (kick-off + 3) + 12 months = January 2028 → March 2028 year end.
    assert plan["monitoring_year_end"].label == "伴走支援 (決算期) 報告 (2028年3月決算)"
    assert plan["monitoring_year_end"].due == date(2028, 5, 31)


# ------------------------------------------------------------------ closed days


@pytest.mark.parametrize(
    ("opened", "fye", "kickoff_due"),
    [
        (date(2026, 12, 1), 11, date(2026, 12, 28)),  # 12/29–12/31 government closure
        (date(2030, 12, 2), 11, date(2030, 12, 27)),  # 12/28/2030 is a Saturday too
        (date(2029, 4, 2), 3, date(2029, 4, 27)),  # 4/30/2029 is a 振替休日 (Monday)
        (date(2026, 5, 1), 4, date(2026, 5, 29)),  # 5/30–31 weekend
    ],
)
def test_month_milestones_fall_on_the_last_business_day(
    opened: date, fye: int, kickoff_due: date
) -> None:
    plan = _plan(replace(BASE_405, fiscal_year_end=fye, opened_on=opened))
    assert plan["kickoff"].due == kickoff_due


def test_a_council_closed_day_moves_the_month_end_back() -> None:
    cal = BusinessCalendar(extra_closed=[date(2026, 6, 30), date(2026, 6, 29)])
    assert _plan(cal=cal)["kickoff"].due == date(2026, 6, 26)  # Friday before


def test_day_counted_deadlines_roll_forward() -> None:
    case = replace(
        BASE_405,
        applied_on=date(2026, 7, 1),
        accepted_on=date(2026, 7, 8),
        stage="due_diligence",
    )
    # Two years after 2026-07-08 is Saturday 2028-07-08: the lapse moves to Monday.
    assert _plan(case)["application_lapse"].due == date(2028, 7, 10)
    early = replace(BASE_EARLY, applied_on=date(2026, 7, 11), stage="application")
    # A year after Saturday 2026-07-11 is Sunday 2027-07-11 → Monday.
    assert _plan(early)["payment_claim_deadline"].due == date(2027, 7, 12)


# ------------------------------------------------------------------ facts and deadlines


def test_certificate_must_be_used_within_three_months() -> None:
    plan = _plan(replace(BASE_405, certificate_issued=date(2026, 5, 20)))
    assert plan["certificate_expiry"].due == date(2026, 8, 20)  # Thu
    assert plan["certificate_expiry"].done_on is None


def test_certificate_limit_on_a_weekend_rolls_back() -> None:
    # 2026-05-23 + 3 months = Sunday 2026-08-23; an application on Monday would find the
    # certificate too old (guards.certificate_fresh), so the last day to act is Friday.
    plan = _plan(replace(BASE_405, certificate_issued=date(2026, 5, 23)))
    assert plan["certificate_expiry"].due == date(2026, 8, 21)


def test_certificate_milestone_is_done_by_the_application() -> None:
    case = replace(
        BASE_405,
        certificate_issued=date(2026, 5, 20),
        applied_on=date(2026, 6, 15),
        stage="application",
    )
    plan = _plan(case, [("apply", date(2026, 6, 15))])
    assert plan["certificate_expiry"].done_on == date(2026, 6, 15)
    assert plan["kickoff"].done_on == date(2026, 6, 15)


def test_405_application_lapses_two_years_after_acceptance() -> None:
    case = replace(
        BASE_405,
        applied_on=date(2026, 6, 15),
        accepted_on=date(2026, 7, 10),
        stage="due_diligence",
    )
    plan = _plan(case, [("apply", date(2026, 6, 15)), ("accept", date(2026, 7, 10))])
    assert plan["application_lapse"].due == date(2028, 7, 10)
    extended = _plan(replace(case, valid_until=date(2028, 12, 25)))
    assert extended["application_lapse"].due == date(2028, 12, 25)
    decided = _plan(replace(case, decided_on=date(2026, 12, 1), stage="monitoring"))
    assert decided["application_lapse"].done_on == date(2026, 12, 1)


def test_no_lapse_before_acceptance_nor_for_early() -> None:
    assert "application_lapse" not in _plan()
    early = replace(BASE_EARLY, applied_on=date(2026, 6, 15), accepted_on=date(2026, 7, 1))
    assert "application_lapse" not in _plan(early)


def test_early_payment_claim_within_a_year_of_the_application() -> None:
    case = replace(BASE_EARLY, applied_on=date(2026, 6, 10), stage="application")
    plan = _plan(case)
    assert plan["payment_claim_deadline"].due == date(2027, 6, 10)
    assert plan["payment_claim_deadline"].stage == "payment_claim"
    # Agreeing opens the payment_claim stage; the claim is still to be filed.
    agreed = _plan(replace(case, agreed_on=date(2026, 9, 20), stage="payment_claim"))
    assert agreed["payment_claim_deadline"].done_on is None
    decided = _plan(
        replace(case, agreed_on=date(2026, 9, 20), decided_on=date(2026, 10, 5), stage="monitoring")
    )
    assert decided["payment_claim_deadline"].done_on == date(2026, 10, 5)
    assert "payment_claim_deadline" not in _plan(replace(BASE_405, applied_on=date(2026, 6, 10)))


def test_405_monitoring_follows_the_payment_decision() -> None:
    case = replace(BASE_405, decided_on=date(2026, 12, 10), stage="monitoring")
    plan = _plan(case, [("decide_payment", date(2026, 12, 10))])
    # Periods after December 2026: May 2027 (決算) first, then November 2027…
    assert plan["monitoring_1"].label == "モニタリング報告 第1期 (2027年5月 決算)"
    assert plan["monitoring_1"].due == date(2027, 7, 30)
    assert plan["monitoring_6"].label == "モニタリング報告 第6期 (2029年11月 中間決算)"


# ------------------------------------------------------------------ running late, done early


def test_a_stage_done_late_shifts_every_later_milestone() -> None:
    case = replace(BASE_405, applied_on=date(2026, 8, 10), stage="application")
    plan = _plan(case, [("apply", date(2026, 8, 10))])
    # Kick-off was due in June and done in August: two months over.
    assert plan["kickoff"].due == date(2026, 6, 30)
    assert plan["kickoff"].done_on == date(2026, 8, 10)
    assert [plan[k].due for k in ("dd", "draft_plan", "final_plan", "payment_claim")] == [
        date(2026, 9, 30),
        date(2026, 10, 30),
        date(2026, 11, 30),
        date(2026, 12, 28),
    ]
    # Monitoring is projected from the shifted template: periods after December 2026.
    assert plan["monitoring_1"].label.startswith("モニタリング報告 第1期 (2027年5月")


def test_shifts_add_up_and_done_ones_keep_their_dates() -> None:
    events = [
        ("apply", date(2026, 6, 20)),  # on time
        ("accept", date(2026, 7, 1)),
        ("start_planning", date(2026, 9, 15)),  # DD due July, done September: +2
    ]
    case = replace(
        BASE_405,
        applied_on=date(2026, 6, 20),
        accepted_on=date(2026, 7, 1),
        stage="planning",
    )
    plan = _plan(case, events)
    assert (plan["kickoff"].due, plan["kickoff"].done_on) == (date(2026, 6, 30), date(2026, 6, 20))
    assert (plan["dd"].due, plan["dd"].done_on) == (date(2026, 7, 31), date(2026, 9, 15))
    assert plan["draft_plan"].due == date(2026, 10, 30)  # August + 2
    events.append(("submit_plan", date(2026, 12, 1)))  # due October, done December: +2 more
    plan = _plan(replace(case, stage="bank_negotiation"), events)
    assert plan["draft_plan"].due == date(2026, 10, 30)
    assert plan["draft_plan"].done_on == date(2026, 12, 1)
    assert plan["final_plan"].due == date(2027, 1, 29)  # September + 4
    assert plan["payment_claim"].due == date(2027, 2, 26)


def test_done_early_does_not_pull_the_timeline_forward() -> None:
    events = [("apply", date(2026, 6, 5)), ("accept", date(2026, 6, 10))]
    events.append(("start_planning", date(2026, 6, 25)))  # DD due July, done in June
    case = replace(
        BASE_405, applied_on=date(2026, 6, 5), accepted_on=date(2026, 6, 10), stage="planning"
    )
    plan = _plan(case, events)
    assert plan["dd"].done_on == date(2026, 6, 25)
    assert _dues(plan) | {"application_lapse": SEED_405["kickoff"]} == SEED_405 | {
        "application_lapse": SEED_405["kickoff"]
    }


# ------------------------------------------------------------------ the engine keeps them


def _apply_ready(world: object, case_id: str, issued: date) -> None:
    k = world.k  # type: ignore[attr-defined]
    k.add_lender("tanaka", case_id, "福岡銀行")
    k.record_certificate("tanaka", case_id, issued)
    k.record_estimate("tanaka", case_id, "dd_plan", 2_000_000)
    k.record_estimate("tanaka", case_id, "monitoring", 1_000_000)


def test_the_engine_writes_the_plan_when_a_case_opens(world: object) -> None:
    k, company = world.k, world.company  # type: ignore[attr-defined]
    view = k.open_case(
        "tanaka", company=company, program="405", track="normal", council="40", advisor="X"
    )
    got = {m.key: m.due for m in view.milestones}
    assert got == SEED_405


def test_the_engine_shifts_later_milestones_when_a_stage_runs_late(world: object) -> None:
    k, company, clock = world.k, world.company, world.clock  # type: ignore[attr-defined]
    cid = k.open_case(
        "tanaka", company=company, program="405", track="normal", council="40", advisor="X"
    ).id
    clock.at = datetime(2026, 8, 10, 1, tzinfo=UTC)
    _apply_ready(world, cid, date(2026, 8, 3))
    view = k.advance("tanaka", cid, "apply", on=date(2026, 8, 10))
    ms = {m.key: m for m in view.milestones}
    assert (ms["kickoff"].due, ms["kickoff"].done_on) == (date(2026, 6, 30), date(2026, 8, 10))
    assert ms["dd"].due == date(2026, 9, 30)
    assert ms["payment_claim"].due == date(2026, 12, 28)
    assert ms["certificate_expiry"].done_on == date(2026, 8, 10)
    # A later change leaves the done ones as they were.
    clock.at = datetime(2026, 8, 20, 1, tzinfo=UTC)
    view = k.advance("tanaka", cid, "accept", on=date(2026, 8, 20))
    ms = {m.key: m for m in view.milestones}
    assert (ms["kickoff"].due, ms["kickoff"].done_on) == (date(2026, 6, 30), date(2026, 8, 10))
    assert ms["application_lapse"].due == date(2028, 8, 21)  # 8/20/2028 is a Sunday


def test_a_closed_case_keeps_only_its_done_milestones(world: object) -> None:
    k, company, clock = world.k, world.company, world.clock  # type: ignore[attr-defined]
    cid = k.open_case(
        "tanaka", company=company, program="405", track="normal", council="40", advisor="X"
    ).id
    clock.at = datetime(2026, 6, 10, 1, tzinfo=UTC)
    _apply_ready(world, cid, date(2026, 6, 1))
    k.advance("tanaka", cid, "apply", on=date(2026, 6, 10))
    view = k.advance("tanaka", cid, "withdraw", on=date(2026, 6, 10), reason="会社の都合")
    assert {m.key for m in view.milestones} == {"kickoff", "certificate_expiry"}
    assert all(m.done for m in view.milestones)

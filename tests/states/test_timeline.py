"""Tests for states.timeline: milestones drawn back from the 決算月 (rules.md §5)."""

from __future__ import annotations

import calendar as stdcal
from datetime import date, timedelta

import pytest

from states.calendar import BusinessCalendar
from states.rules import get_version
from states.timeline import (
    Milestone,
    TimelineError,
    add_months,
    check_month,
    date_plus_days,
    date_plus_months,
    default_kickoff,
    early_year_end,
    monitoring_period_count,
    month_due,
    months_between,
    period_ends_405,
    plan_timeline,
)

CAL = BusinessCalendar()
R7 = get_version("R7")


def _plan(
    program: str,
    m: int,
    *,
    start: date | None = None,
    today: date = date(2026, 5, 1),
    interim: bool = False,
    cal: BusinessCalendar = CAL,
) -> list[Milestone]:
    return plan_timeline(
        program=program,
        rules=R7,
        cal=cal,
        fiscal_year_end_month=m,
        today=today,
        start=start,
        interim_monitoring=interim,
    )


def _dues(ms: list[Milestone]) -> dict[str, date]:
    return {m.key: m.due for m in ms}


def _is_last_business_day_of_its_month(d: date) -> bool:
    """Checked day by day against the calendar, independently of month_due."""
    if not CAL.is_business_day(d):
        return False
    last = date(d.year, d.month, stdcal.monthrange(d.year, d.month)[1])
    day = d + timedelta(days=1)
    while day <= last:
        if CAL.is_business_day(day):
            return False
        day += timedelta(days=1)
    return True


# ---------------------------------------------------------------- the seed's 5月決算 example

SEED_405 = {
    "kickoff": date(2026, 6, 30),  # m+1 相談
    "dd": date(2026, 7, 31),  # m+2 DD
    "draft_plan": date(2026, 8, 31),  # m+3 計画案
    "final_plan": date(2026, 9, 30),  # m+4 計画確定・金融機関協議
    "payment_claim": date(2026, 10, 30),  # 10/31 is a Saturday
    "monitoring_1": date(2027, 1, 29),  # 2026-11 中間決算 + 2 months; 1/30–31 weekend
    "monitoring_2": date(2027, 7, 30),  # 2027-05 決算; 7/31 Saturday
    "monitoring_3": date(2028, 1, 31),  # 2027-11 中間決算
    "monitoring_4": date(2028, 7, 31),  # 2028-05 決算
    "monitoring_5": date(2029, 1, 31),  # 2028-11 中間決算
    "monitoring_6": date(2029, 7, 31),  # 2029-05 決算
}


def test_seed_example_405() -> None:
    ms = _plan("405", 5, start=date(2026, 6, 1))
    assert _dues(ms) == SEED_405
    assert list(_dues(ms)) == list(SEED_405)  # in order


@pytest.mark.parametrize(("key", "due"), list(SEED_405.items()))
def test_seed_example_405_each_due_is_the_last_business_day(key: str, due: date) -> None:
    assert _is_last_business_day_of_its_month(due), (key, due)


@pytest.mark.parametrize(
    ("key", "stage", "done_by"),
    [
        ("kickoff", "consultation", "apply"),
        ("dd", "due_diligence", "start_planning"),
        ("draft_plan", "planning", "submit_plan"),
        ("final_plan", "bank_negotiation", "agree"),
        ("payment_claim", "payment_claim", "decide_payment"),
        ("monitoring_1", "monitoring", "claim_monitoring"),
        ("monitoring_6", "monitoring", "claim_monitoring"),
    ],
)
def test_seed_example_405_stages(key: str, stage: str, done_by: str) -> None:
    m = next(m for m in _plan("405", 5, start=date(2026, 6, 1)) if m.key == key)
    assert (m.stage, m.done_by) == (stage, done_by)
    assert m.label


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        ("monitoring_1", "2026年11月 中間決算"),
        ("monitoring_2", "2027年5月 決算"),
        ("monitoring_5", "2028年11月 中間決算"),
        ("monitoring_6", "2029年5月 決算"),
    ],
)
def test_405_monitoring_labels_name_the_period(key: str, kind: str) -> None:
    m = next(m for m in _plan("405", 5, start=date(2026, 6, 1)) if m.key == key)
    assert kind in m.label


SEED_EARLY = {
    "kickoff": date(2026, 6, 30),
    "draft_plan": date(2026, 8, 31),
    "final_plan": date(2026, 9, 30),
    "payment_claim": date(2026, 10, 30),
    # Plan in 2026-09; the first May year end ≥ 12 months later is 2028-05; +2 months.
    "monitoring_year_end": date(2028, 7, 31),
}


@pytest.mark.parametrize(
    ("interim", "expect"),
    [
        (False, SEED_EARLY),
        # 期中: six months before that year end (2027-11), reported two months later.
        (True, {**SEED_EARLY, "monitoring_interim": date(2028, 1, 31)}),
    ],
)
def test_seed_example_early(interim: bool, expect: dict[str, date]) -> None:
    ms = _plan("early", 5, start=date(2026, 6, 1), interim=interim)
    assert _dues(ms) == expect
    assert "dd" not in _dues(ms)
    assert all(m.stage != "due_diligence" for m in ms)
    for m in ms:
        assert _is_last_business_day_of_its_month(m.due), m.key
    if interim:
        keys = [m.key for m in ms]
        assert keys.index("monitoring_interim") < keys.index("monitoring_year_end")


@pytest.mark.parametrize(
    ("program", "interim", "count"),
    [("405", False, 6), ("405", True, 6), ("early", False, 1), ("early", True, 2)],
)
def test_monitoring_period_count(program: str, interim: bool, count: int) -> None:
    assert monitoring_period_count(program, R7, interim) == count
    ms = _plan(program, 5, start=date(2026, 6, 1), interim=interim)
    assert sum(1 for m in ms if m.stage == "monitoring") == count


# ---------------------------------------------------------------- the default kick-off


@pytest.mark.parametrize(
    ("m", "today", "kickoff"),
    [
        (5, date(2026, 11, 22), (2027, 6)),  # past this year's June: next June
        (5, date(2026, 6, 1), (2026, 6)),  # in June: this June
        (5, date(2026, 6, 30), (2026, 6)),
        (5, date(2026, 5, 31), (2026, 6)),  # the year-end month itself: the next month
        (5, date(2026, 7, 1), (2027, 6)),
        (5, date(2026, 1, 15), (2026, 6)),
        (12, date(2026, 12, 10), (2027, 1)),  # year-end rollover
        (12, date(2026, 11, 22), (2027, 1)),
        (12, date(2027, 1, 5), (2027, 1)),
        (12, date(2027, 2, 1), (2028, 1)),
        (3, date(2026, 11, 22), (2027, 4)),
        (3, date(2027, 4, 1), (2027, 4)),
        (3, date(2027, 3, 31), (2027, 4)),
        (11, date(2026, 11, 22), (2026, 12)),
        (1, date(2026, 12, 31), (2027, 2)),
    ],
)
def test_default_kickoff(m: int, today: date, kickoff: tuple[int, int]) -> None:
    assert default_kickoff(m, today) == kickoff
    first = _plan("405", m, today=today)[0]
    assert first.key == "kickoff"
    assert (first.due.year, first.due.month) == kickoff


@pytest.mark.parametrize(
    ("program", "m", "today", "expect"),
    [
        (
            "405",
            5,
            date(2026, 11, 22),
            {"kickoff": date(2027, 6, 30), "dd": date(2027, 7, 30),
             "payment_claim": date(2027, 10, 29), "monitoring_1": date(2028, 1, 31)},
        ),
        (
            # m=12: kick-off in January of the next year; 決算 in December, 中間 in June.
            "405",
            12,
            date(2026, 12, 10),
            {"kickoff": date(2027, 1, 29), "dd": date(2027, 2, 26),
             "draft_plan": date(2027, 3, 31), "final_plan": date(2027, 4, 30),
             "payment_claim": date(2027, 5, 31), "monitoring_1": date(2027, 8, 31),
             "monitoring_2": date(2028, 2, 29), "monitoring_6": date(2030, 2, 28)},
        ),
        (
            "405",
            3,
            date(2026, 11, 22),
            {"kickoff": date(2027, 4, 30), "final_plan": date(2027, 7, 30),
             "monitoring_1": date(2027, 11, 30), "monitoring_2": date(2028, 5, 31),
             "monitoring_6": date(2030, 5, 31)},
        ),
        (
            # Plan in 2027-07; 2028-03 is only 8 months on, so the 2029-03 year end counts.
            "early",
            3,
            date(2026, 11, 22),
            {"kickoff": date(2027, 4, 30), "final_plan": date(2027, 7, 30),
             "monitoring_year_end": date(2029, 5, 31)},
        ),
        (
            # m=11: kick-off in December, due 12/28 (12/29–1/3 closed).
            "405",
            11,
            date(2026, 11, 22),
            {"kickoff": date(2026, 12, 28), "dd": date(2027, 1, 29),
             "monitoring_1": date(2027, 7, 30), "monitoring_2": date(2028, 1, 31)},
        ),
    ],
)  # fmt: skip
def test_default_timelines(program: str, m: int, today: date, expect: dict[str, date]) -> None:
    dues = _dues(_plan(program, m, today=today))
    assert {k: dues[k] for k in expect} == expect
    for d in dues.values():
        assert _is_last_business_day_of_its_month(d)


def test_start_wins_over_today() -> None:
    assert _dues(_plan("405", 5, start=date(2026, 6, 1), today=date(2030, 1, 1))) == SEED_405


# ---------------------------------------------------------------- a start off the m+1 month


def test_405_start_off_template_keeps_spacing_and_fiscal_periods() -> None:
    ms = _plan("405", 5, start=date(2026, 8, 15))
    assert _dues(ms) == {
        # The template's spacing, counted from the start month (2026-08)…
        "kickoff": date(2026, 8, 31),
        "dd": date(2026, 9, 30),
        "draft_plan": date(2026, 10, 30),
        "final_plan": date(2026, 11, 30),
        "payment_claim": date(2026, 12, 28),
        # …while the reports stay on May (決算) and November (中間決算), two months on.
        "monitoring_1": date(2027, 7, 30),
        "monitoring_2": date(2028, 1, 31),
        "monitoring_3": date(2028, 7, 31),
        "monitoring_4": date(2029, 1, 31),
        "monitoring_5": date(2029, 7, 31),
        "monitoring_6": date(2030, 1, 31),
    }
    labels = [m.label for m in ms if m.stage == "monitoring"]
    assert "2027年5月 決算" in labels[0]
    assert "2027年11月 中間決算" in labels[1]


@pytest.mark.parametrize(
    ("start", "first_period"),
    [
        (date(2026, 6, 1), "2026年11月"),
        (date(2026, 7, 1), "2027年5月"),  # monitoring from 2026-11: the next end is May
        (date(2026, 8, 1), "2027年5月"),
        (date(2026, 12, 1), "2027年5月"),
        (date(2027, 1, 1), "2027年11月"),
        (date(2026, 5, 1), "2026年11月"),
    ],
)
def test_405_first_period_follows_the_fiscal_year(start: date, first_period: str) -> None:
    ms = [m for m in _plan("405", 5, start=start) if m.stage == "monitoring"]
    assert len(ms) == 6
    assert first_period in ms[0].label
    for m in ms:
        # Every report is two months after a May or November period end.
        assert m.due.month in (7, 1)


@pytest.mark.parametrize(
    ("start", "year_end"),
    [
        (date(2026, 6, 1), date(2028, 7, 31)),  # plan 2026-09 -> 2028-05
        (date(2026, 2, 1), date(2027, 7, 30)),  # plan 2026-05 -> 2027-05 exactly 12 months
        (date(2026, 3, 1), date(2028, 7, 31)),  # plan 2026-06 -> 2027-06+ -> 2028-05
        (date(2025, 12, 1), date(2027, 7, 30)),  # plan 2026-03 -> 2027-05
    ],
)
def test_early_year_end_follows_the_plan(start: date, year_end: date) -> None:
    assert _dues(_plan("early", 5, start=start))["monitoring_year_end"] == year_end


# ---------------------------------------------------------------- closed days


@pytest.mark.parametrize(
    ("ym", "due"),
    [
        ((2026, 5), date(2026, 5, 29)),  # 5/31 Sunday
        ((2027, 1), date(2027, 1, 29)),  # 1/31 Sunday
        ((2027, 2), date(2027, 2, 26)),  # 2/28 Sunday
        ((2026, 10), date(2026, 10, 30)),  # 10/31 Saturday
        ((2026, 12), date(2026, 12, 28)),  # 12/29–31 closed
        ((2025, 12), date(2025, 12, 26)),  # 12/28 Sunday, 12/29–31 closed
        ((2027, 12), date(2027, 12, 28)),
        ((2029, 4), date(2029, 4, 27)),  # 4/30 振替休日, 4/28–29 weekend
        ((2033, 4), date(2033, 4, 28)),  # 4/29 昭和の日 (Friday), 4/30 Saturday
        ((2026, 6), date(2026, 6, 30)),  # an ordinary Tuesday
    ],
)
def test_month_due(ym: tuple[int, int], due: date) -> None:
    assert month_due(ym, CAL) == due
    assert _is_last_business_day_of_its_month(due)


def test_milestone_in_a_month_ending_on_a_holiday() -> None:
    # m=3, starting April 2029: the kick-off month ends on 振替休日 Monday 4/30.
    assert _plan("405", 3, start=date(2029, 4, 10))[0].due == date(2029, 4, 27)


def test_milestone_in_december() -> None:
    ms = _plan("405", 5, start=date(2026, 8, 1))
    assert _dues(ms)["payment_claim"] == date(2026, 12, 28)


def test_council_closed_days_move_milestones() -> None:
    cal = BusinessCalendar(extra_closed=[date(2026, 6, 30), date(2026, 6, 29)])
    dues = _dues(_plan("405", 5, start=date(2026, 6, 1), cal=cal))
    assert dues["kickoff"] == date(2026, 6, 26)
    assert dues["dd"] == date(2026, 7, 31)


@pytest.mark.parametrize(
    ("d", "days", "expect"),
    [
        (date(2026, 6, 1), 0, date(2026, 6, 1)),
        (date(2026, 6, 1), 3, date(2026, 6, 4)),
        (date(2026, 6, 1), 5, date(2026, 6, 8)),  # Saturday 6/6 -> Monday
        (date(2026, 6, 1), 6, date(2026, 6, 8)),  # Sunday 6/7 -> Monday
        (date(2026, 12, 25), 4, date(2027, 1, 4)),  # 12/29 -> after the closure
        (date(2026, 12, 25), 3, date(2026, 12, 28)),  # Monday 12/28 is still open
        (date(2026, 12, 28), 6, date(2027, 1, 4)),  # 1/3 closed
        (date(2026, 5, 1), 2, date(2026, 5, 7)),  # 5/3 -> past Golden Week
        (date(2026, 9, 18), 3, date(2026, 9, 24)),  # 9/21–23 holidays
        (date(2026, 6, 6), 0, date(2026, 6, 8)),  # 0 days from a closed day: roll forward
        (date(2026, 6, 10), -3, date(2026, 6, 8)),
    ],
)
def test_date_plus_days(d: date, days: int, expect: date) -> None:
    assert date_plus_days(d, days, CAL) == expect


@pytest.mark.parametrize(
    ("d", "months", "expect"),
    [
        (date(2026, 6, 1), 1, date(2026, 7, 1)),
        (date(2026, 6, 1), 12, date(2027, 6, 1)),
        (date(2026, 1, 31), 1, date(2026, 3, 2)),  # 2/28 Saturday -> Monday 3/2
        (date(2027, 1, 31), 1, date(2027, 3, 1)),  # 2/28 Sunday
        (date(2028, 1, 31), 1, date(2028, 2, 29)),  # leap year
        (date(2026, 3, 31), 1, date(2026, 4, 30)),  # clipped to the month's end
        (date(2026, 2, 3), 3, date(2026, 5, 7)),  # 5/3 -> past Golden Week
        (date(2026, 11, 30), 1, date(2027, 1, 4)),  # 12/30 -> after the closure
        (date(2026, 11, 1), 2, date(2027, 1, 4)),  # 1/1 -> 1/4
        (date(2025, 11, 24), 12, date(2026, 11, 24)),
        (date(2026, 8, 11), -1, date(2026, 7, 13)),  # 7/11 Saturday
        (date(2026, 6, 30), 0, date(2026, 6, 30)),
    ],
)
def test_date_plus_months(d: date, months: int, expect: date) -> None:
    assert date_plus_months(d, months, CAL) == expect


# ---------------------------------------------------------------- helpers


@pytest.mark.parametrize(
    ("ym", "n", "expect"),
    [
        ((2026, 5), 1, (2026, 6)),
        ((2026, 12), 1, (2027, 1)),
        ((2026, 1), -1, (2025, 12)),
        ((2026, 6), 0, (2026, 6)),
        ((2026, 6), 24, (2028, 6)),
        ((2026, 6), -18, (2024, 12)),
        ((2026, 11), 14, (2028, 1)),
    ],
)
def test_add_months(ym: tuple[int, int], n: int, expect: tuple[int, int]) -> None:
    assert add_months(ym, n) == expect
    assert months_between(ym, expect) == n


@pytest.mark.parametrize(
    ("start", "m", "per_year", "count", "expect"),
    [
        ((2026, 10), 5, 2, 3, [(2026, 11), (2027, 5), (2027, 11)]),
        ((2026, 11), 5, 2, 2, [(2027, 5), (2027, 11)]),  # the start month is not counted
        ((2026, 10), 5, 1, 2, [(2027, 5), (2028, 5)]),
        ((2026, 10), 5, 4, 3, [(2026, 11), (2027, 2), (2027, 5)]),
        ((2026, 12), 12, 2, 2, [(2027, 6), (2027, 12)]),
        ((2026, 10), 3, 12, 2, [(2026, 11), (2026, 12)]),
    ],
)
def test_period_ends_405(
    start: tuple[int, int], m: int, per_year: int, count: int, expect: list[tuple[int, int]]
) -> None:
    assert period_ends_405(start, m, per_year, count) == expect


@pytest.mark.parametrize(
    ("plan", "m", "min_months", "expect"),
    [
        ((2026, 9), 5, 12, (2028, 5)),
        ((2026, 5), 5, 12, (2027, 5)),
        ((2026, 6), 5, 12, (2028, 5)),
        ((2026, 9), 5, 0, (2027, 5)),
        ((2026, 5), 5, 0, (2026, 5)),
        ((2026, 11), 12, 12, (2027, 12)),
    ],
)
def test_early_year_end(
    plan: tuple[int, int], m: int, min_months: int, expect: tuple[int, int]
) -> None:
    assert early_year_end(plan, m, min_months) == expect


# ---------------------------------------------------------------- refused input


@pytest.mark.parametrize("month", [0, 13, -1, "5", 5.0, True, None])
def test_check_month_refuses(month: object) -> None:
    with pytest.raises(TimelineError, match="決算月"):
        check_month(month)  # type: ignore[arg-type]


@pytest.mark.parametrize("month", range(1, 13))
def test_check_month_accepts(month: int) -> None:
    assert check_month(month) == month


@pytest.mark.parametrize("month", [0, 13, "5"])
def test_plan_and_default_kickoff_refuse_bad_months(month: object) -> None:
    with pytest.raises(TimelineError):
        default_kickoff(month, date(2026, 6, 1))  # type: ignore[arg-type]
    with pytest.raises(TimelineError):
        _plan("405", month, start=date(2026, 6, 1))  # type: ignore[arg-type]
    with pytest.raises(TimelineError):
        _plan("early", month)  # type: ignore[arg-type]


@pytest.mark.parametrize("program", ["406", "", "EARLY"])
def test_plan_refuses_unknown_program(program: str) -> None:
    with pytest.raises(TimelineError, match="405, early"):
        _plan(program, 5, start=date(2026, 6, 1))

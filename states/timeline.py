"""Timeline planning: milestones drawn back from a company's fiscal year end (決算月).

The template is rule data (`timeline.<program>` in each rule version): month offsets from the
kick-off month, which by default is the month after the fiscal year end (the seed's 5月決算
example, rules.md §5). A milestone set by month falls due on the last business day of its
month; a deadline counted in days or months from a date that lands on a closed day moves to the
next business day.

When the first consultation (`start`) is not in the month after the year end, the template keeps
its order and spacing from the start month, while monitoring stays tied to the 決算月: 405
reports follow each 中間決算 and 決算 after monitoring starts; the early program's 決算期
report follows the first year end at least `year_end_min_months_after_plan` months after the plan.
"""

from __future__ import annotations

import calendar as _stdcal
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from states.rules import RuleVersion

YearMonth = tuple[int, int]


class Calendar(Protocol):
    def next_business_day(self, d: date) -> date: ...
    def last_business_day_of_month(self, year: int, month: int) -> date: ...


class TimelineError(ValueError):
    """Bad planning input: a month outside 1–12 or an unknown program."""


@dataclass(frozen=True)
class Milestone:
    key: str
    label: str
    stage: str
    due: date
    done_by: str  # the trigger that completes it


def add_months(ym: YearMonth, n: int) -> YearMonth:
    y, m = ym
    total = y * 12 + (m - 1) + n
    return total // 12, total % 12 + 1


def months_between(a: YearMonth, b: YearMonth) -> int:
    return (b[0] * 12 + b[1]) - (a[0] * 12 + a[1])


def check_month(month: int) -> int:
    if isinstance(month, bool) or not isinstance(month, int) or not 1 <= month <= 12:
        raise TimelineError(f"決算月は1から12の整数で指定してください: {month!r}")
    return month


def default_kickoff(fiscal_year_end_month: int, today: date) -> YearMonth:
    """The next month after a fiscal year end, counting this month if it is one."""
    target = check_month(fiscal_year_end_month) % 12 + 1
    ahead = (target - today.month) % 12
    return add_months((today.year, today.month), ahead)


def month_due(ym: YearMonth, cal: Calendar) -> date:
    return cal.last_business_day_of_month(*ym)


def date_plus_months(d: date, months: int, cal: Calendar) -> date:
    """The same day `months` later (clipped to the month's end), rolled to a business day."""
    y, m = add_months((d.year, d.month), months)
    day = min(d.day, _stdcal.monthrange(y, m)[1])
    return cal.next_business_day(date(y, m, day))


def date_plus_days(d: date, days: int, cal: Calendar) -> date:
    from datetime import timedelta

    return cal.next_business_day(d + timedelta(days=days))


def period_ends_405(
    start: YearMonth, fiscal_year_end_month: int, per_year: int, count: int
) -> list[YearMonth]:
    """The 405 monitoring period ends: every 12/per_year months from the 決算月, after start."""
    step = 12 // per_year
    ends: list[YearMonth] = []
    ym = add_months(start, 1)
    while len(ends) < count:
        if (ym[1] - fiscal_year_end_month) % step == 0:
            ends.append(ym)
        ym = add_months(ym, 1)
    return ends


def early_year_end(plan: YearMonth, fiscal_year_end_month: int, min_months: int) -> YearMonth:
    """The first fiscal year end at least `min_months` after the plan month (rules.md §5)."""
    ym = add_months(plan, min_months)
    while ym[1] != fiscal_year_end_month:
        ym = add_months(ym, 1)
    return ym


def monitoring_milestones(
    program: str,
    rules: RuleVersion,
    cal: Calendar,
    *,
    fiscal_year_end_month: int,
    start: YearMonth,
    plan: YearMonth,
    interim_monitoring: bool = False,
) -> list[Milestone]:
    """The monitoring reports: 405 at each 中間決算/決算; early interim (if chosen) and 決算期."""
    out = []
    if program == "405":
        lag = rules.monitoring("405", "report_months_after_period_end")
        ends = period_ends_405(
            start,
            fiscal_year_end_month,
            rules.monitoring("405", "per_year"),
            rules.monitoring("405", "periods"),
        )
        for i, end in enumerate(ends, 1):
            kind = "決算" if end[1] == fiscal_year_end_month else "中間決算"
            out.append(
                Milestone(
                    f"monitoring_{i}",
                    f"モニタリング報告 第{i}期 ({end[0]}年{end[1]}月 {kind})",
                    "monitoring",
                    month_due(add_months(end, lag), cal),
                    "claim_monitoring",
                )
            )
        return out
    year_end = early_year_end(
        plan, fiscal_year_end_month, rules.monitoring("early", "year_end_min_months_after_plan")
    )
    lag = rules.monitoring("early", "report_months_after_year_end")
    if interim_monitoring:
        interim = add_months(year_end, -rules.monitoring("early", "interim_months_before_year_end"))
        out.append(
            Milestone(
                "monitoring_interim",
                f"伴走支援 (期中) 報告 ({interim[0]}年{interim[1]}月)",
                "monitoring",
                month_due(add_months(interim, lag), cal),
                "claim_monitoring",
            )
        )
    out.append(
        Milestone(
            "monitoring_year_end",
            f"伴走支援 (決算期) 報告 ({year_end[0]}年{year_end[1]}月決算)",
            "monitoring",
            month_due(add_months(year_end, lag), cal),
            "claim_monitoring",
        )
    )
    return out


def monitoring_period_count(program: str, rules: RuleVersion, interim_monitoring: bool) -> int:
    if program == "405":
        return rules.monitoring("405", "periods")
    return 2 if interim_monitoring else 1


def plan_timeline(
    *,
    program: str,
    rules: RuleVersion,
    cal: Calendar,
    fiscal_year_end_month: int,
    today: date,
    start: date | None = None,
    interim_monitoring: bool = False,
) -> list[Milestone]:
    """Every milestone of a new case, from the template and the monitoring rules."""
    check_month(fiscal_year_end_month)
    if program not in rules.timeline:
        known = ", ".join(rules.timeline)
        raise TimelineError(f"不明な事業 (program) '{program}': {known} のいずれか")
    kickoff = (start.year, start.month) if start else default_kickoff(fiscal_year_end_month, today)
    template = rules.timeline[program]
    out = [
        Milestone(t.key, t.label, t.stage, month_due(add_months(kickoff, t.month), cal), t.done_by)
        for t in template
    ]
    plan_month = max((t.month for t in template if t.done_by == "agree"), default=0)
    monitoring_start = (
        rules.monitoring("405", "start_month")
        if program == "405"
        else max(t.month for t in template)
    )
    out += monitoring_milestones(
        program,
        rules,
        cal,
        fiscal_year_end_month=fiscal_year_end_month,
        start=add_months(kickoff, monitoring_start),
        plan=add_months(kickoff, plan_month),
        interim_monitoring=interim_monitoring,
    )
    return out

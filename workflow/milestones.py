"""A case's milestones, recomputed from its facts and events every time it changes.

Pure: given the case's dates, its event history, its rule version and the council's calendar,
it returns the full list of milestones with due dates and done dates. Rules (rules.md §5):
- template milestones (`timeline.<program>` of the rule version) are anchored on the month of
  the first consultation; one that was done late pushes every later one back by the months it
  ran over, so the timeline keeps its spacing; done ones keep their date;
- monitoring reports follow the monitoring periods once the payment is decided (before that,
  they are projected from the template);
- day- or month-counted deadlines: the certificate's 3-month age limit before `apply`, the 405
  application's 2-year validity after acceptance (extendable), the early plan-cost claim within
  a year of the application, and a monitoring claim still unfiled 60 days after its period.
  They roll forward to the next business day, except the certificate's limit, which rolls
  back: `apply` on the next business day would already find the certificate too old.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from states.calendar import BusinessCalendar
from states.rules import RuleVersion, TemplateMilestone
from states.timeline import (
    add_months,
    date_plus_months,
    early_year_end,
    month_due,
    months_between,
    period_ends_405,
)
from workflow.guards import months_before

YM = tuple[int, int]


@dataclass(frozen=True)
class CaseDates:
    program: str
    fiscal_year_end: int
    interim_monitoring: bool
    opened_on: date
    certificate_issued: date | None
    applied_on: date | None
    accepted_on: date | None
    agreed_on: date | None
    decided_on: date | None
    valid_until: date | None
    stage: str
    reports: tuple[date, ...] = ()  # monitoring reports recorded, period 1 first


@dataclass(frozen=True)
class Planned:
    key: str
    label: str
    stage: str
    due: date
    done_on: date | None


def _ym(d: date) -> YM:
    return d.year, d.month


def _first(events: Sequence[tuple[str, date]], trigger: str) -> date | None:
    for t, on in events:
        if t == trigger:
            return on
    return None


def compute(
    case: CaseDates,
    events: Sequence[tuple[str, date]],  # (trigger, effective date) of transitions, in order
    rules: RuleVersion,
    cal: BusinessCalendar,
) -> list[Planned]:
    tpl = _template(case, events, rules)
    out = [
        Planned(t.key, t.label, t.stage, month_due(due_ym, cal), done)
        for t, due_ym, done in tpl.rows
    ]
    out += _monitoring(case, events, tpl, rules, cal)
    out += _deadlines(case, rules, cal)
    return out


def _monitoring(
    case: CaseDates,
    events: Sequence[tuple[str, date]],
    tpl: _Template,
    rules: RuleVersion,
    cal: BusinessCalendar,
) -> list[Planned]:
    """Each monitoring period's report, and its claim."""
    out: list[Planned] = []
    claims = [on for t, on in events if t == "claim_monitoring"]
    claim_days = rules.deadline("monitoring_claim_reminder_days")
    for i, p in enumerate(_periods(case, tpl, rules)):
        report_due = month_due(add_months(p.end, p.lag), cal)
        reported = case.reports[i] if i < len(case.reports) else None
        claimed = claims[i] if i < len(claims) else None
        # A report recorded closes its milestone on its own date (rules.md §5).
        out.append(Planned(p.key, p.label, "monitoring", report_due, reported or claimed))
        if claim_days:
            # Never due before the period's report: the later of the report's deadline and
            # `claim_days` after the period end, on a business day.
            due = max(report_due, p.last_day + timedelta(days=claim_days))
            out.append(
                Planned(
                    f"{p.key}_claim",
                    f"伴走支払申請 {p.short} (期末{p.end[0]}年{p.end[1]}月から{claim_days}日)",
                    "monitoring",
                    cal.next_business_day(due),
                    claimed,
                )
            )
    return out


def _deadlines(case: CaseDates, rules: RuleVersion, cal: BusinessCalendar) -> list[Planned]:
    """Deadlines counted from dates: certificate age, 405 validity, early claim year."""
    out: list[Planned] = []
    if case.certificate_issued is not None:
        limit = _plus_months_exact(
            case.certificate_issued, rules.deadline("certificate_max_age_months")
        )
        out.append(
            Planned(
                "certificate_expiry",
                "履歴事項全部証明書の有効期限 (発行から3か月以内に利用申請)",
                "consultation",
                cal.previous_business_day(limit),
                case.applied_on,
            )
        )
    if case.program == "405" and case.accepted_on:
        until = case.valid_until or date_plus_months(
            case.accepted_on, 12 * rules.deadline("application_valid_years_405"), cal
        )
        out.append(
            Planned(
                "application_lapse",
                "利用申請の有効期限 (受付から2年・延長可)",
                "planning",
                until,
                case.decided_on,
            )
        )
    if case.program == "early" and case.applied_on:
        out.append(
            Planned(
                "payment_claim_deadline",
                "支払申請の期限 (利用申請から1年以内)",
                "payment_claim",
                case.valid_until  # a supervisor's recorded exception
                or date_plus_months(
                    case.applied_on, rules.deadline("early_payment_claim_within_months"), cal
                ),
                # Done when the claim is decided: agreeing only opens the payment_claim stage,
                # where the claim still has to be filed (and reminded of).
                case.decided_on,
            )
        )
    return out


@dataclass(frozen=True)
class Period:
    """One monitoring period: its milestone key, labels, last month and report lag."""

    key: str
    label: str
    short: str
    end: YM
    lag: int  # months after the period's end the report is due

    @property
    def last_day(self) -> date:
        return _month_end(self.end)


def monitoring_periods(
    case: CaseDates, events: Sequence[tuple[str, date]], rules: RuleVersion
) -> list[Period]:
    """The case's monitoring periods, in order (period 1 first)."""
    return _periods(case, _template(case, events, rules), rules)


@dataclass(frozen=True)
class _Template:
    rows: list[tuple[TemplateMilestone, YM, date | None]]  # (milestone, due month, done on)
    kickoff: YM
    shift: int  # months the timeline moved because a step was done late
    plan_ym: YM | None  # the month the plan was (or is due to be) agreed
    last_ym: YM


def _template(case: CaseDates, events: Sequence[tuple[str, date]], rules: RuleVersion) -> _Template:
    """The template milestones anchored on the first consultation; one done late pushes every
    later one back by the months it ran over."""
    kickoff = _ym(case.opened_on)
    shift = 0
    plan_ym: YM | None = None
    rows = []
    template = rules.timeline[case.program]
    for t in template:
        due_ym = add_months(kickoff, t.month + shift)
        done = _first(events, t.done_by)
        if done is not None and months_between(due_ym, _ym(done)) > 0:
            shift += months_between(due_ym, _ym(done))
        rows.append((t, due_ym, done))
        if t.done_by == "agree":
            plan_ym = _ym(done) if done else due_ym
    last = add_months(kickoff, max(t.month for t in template) + shift)
    return _Template(rows, kickoff, shift, plan_ym, last)


def _periods(case: CaseDates, tpl: _Template, rules: RuleVersion) -> list[Period]:
    """Monitoring: from the payment decision if made, else projected from the template."""
    kickoff, shift, plan_ym = tpl.kickoff, tpl.shift, tpl.plan_ym
    start = _ym(case.decided_on) if case.decided_on else tpl.last_ym
    if case.program == "405":
        start = (
            _ym(case.decided_on)
            if case.decided_on
            else add_months(kickoff, rules.monitoring("405", "start_month") + shift)
        )
        lag = rules.monitoring("405", "report_months_after_period_end")
        ends = period_ends_405(
            start,
            case.fiscal_year_end,
            rules.monitoring("405", "per_year"),
            rules.monitoring("405", "periods"),
        )
        return [
            Period(
                f"monitoring_{i}",
                f"モニタリング報告 第{i}期 ({e[0]}年{e[1]}月 "
                f"{'決算' if e[1] == case.fiscal_year_end else '中間決算'})",
                f"第{i}期",
                e,
                lag,
            )
            for i, e in enumerate(ends, 1)
        ]
    plan = _ym(case.agreed_on) if case.agreed_on else (plan_ym or start)
    year_end = early_year_end(
        plan, case.fiscal_year_end, rules.monitoring("early", "year_end_min_months_after_plan")
    )
    lag = rules.monitoring("early", "report_months_after_year_end")
    out = []
    if case.interim_monitoring:
        interim = add_months(year_end, -rules.monitoring("early", "interim_months_before_year_end"))
        out.append(
            Period(
                "monitoring_interim",
                f"伴走支援 (期中) 報告 ({interim[0]}年{interim[1]}月)",
                "期中",
                interim,
                lag,
            )
        )
    out.append(
        Period(
            "monitoring_year_end",
            f"伴走支援 (決算期) 報告 ({year_end[0]}年{year_end[1]}月決算)",
            "決算期",
            year_end,
            lag,
        )
    )
    return out


def _month_end(ym: YM) -> date:
    nxt = add_months(ym, 1)
    return date(nxt[0], nxt[1], 1) - timedelta(days=1)


def _plus_months_exact(d: date, months: int) -> date:
    """The last day a certificate issued on `d` is still young enough (inverse of months_before)."""
    # Smallest date x with months_before(x, months) > d, minus one day.
    y, m = add_months((d.year, d.month), months)
    probe = date(y, m, 1)
    while months_before(probe, months) <= d:
        probe += timedelta(days=1)
    return probe - timedelta(days=1)

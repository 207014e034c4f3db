"""The decision core: what a command does to a case, as a pure function of a snapshot.

`decide_move(snapshot, actor, trigger, on, reason, env)` and `decide_open(...)` (and the fact
decisions in `workflow.facts`) read no clock and no database: the snapshot holds the case and
the facts its guards read, `Env` holds the rule versions, the calendar, today and the instant
of recording. They either raise a `KaizenError` with every refusal in words, or return a
`Decision`: the change set the writer applies (`workflow.store.apply`) and the snapshot as it
stands after the change, so that the importer and the demo can replay a whole history in
memory and write it once. The `transitions` machines (`workflow.machines`) are the state graph.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from states.calendar import BusinessCalendar
from states.eligibility import CompanyFacts
from states.programs import INITIAL_STAGE, Definition, UnknownProgramError, catalog
from states.rules import RuleVersion
from states.timeline import date_plus_months, monitoring_period_count
from workflow import milestones
from workflow.errors import GuardFailed, InvalidInput, NotAllowed
from workflow.guards import Facts, LenderFact, failures
from workflow.machines import Token, TriggerNotAvailable, allowed_triggers, fire
from workflow.money import monitoring_share, payment_room, plan_halves
from workflow.reuse import ReuseDecision, decide
from workflow.snapshot import (
    COSTS,
    LENDERS,
    PAYMENTS,
    REPORTS,
    USES,
    CaseState,
    ChangeSet,
    Decision,
    EventRow,
    MilestoneState,
    Needs,
    PaymentState,
    Snapshot,
)
from workflow.views import Actor

PAYING = ("decide_payment", "pay_monitoring", "complete")


@dataclass(frozen=True)
class Env:
    """What a decision may consult besides the case: rules, calendar and the time, given."""

    calendar: BusinessCalendar
    version_on: Callable[[date], RuleVersion]  # the rule version in force on a date
    version: Callable[[str], RuleVersion]  # a rule version by id
    version_key: str  # "application" or "acceptance": which date pins the rule version
    today: date  # JST date of the command
    first_day: date  # the first rule version's effective date (R4: 2022-04-01)

    def planning_version(self, on: date) -> RuleVersion:
        """The version a case's timeline is drawn with before `apply` pins one: the one in
        force on `on`, or the first for a consultation older than every version (a case may
        be opened then; only an application needs a version in force)."""
        return self.version_on(max(on, self.first_day))


# ---------------------------------------------------------------- small rules


def check_date(on: date | None, today: date, what: str, not_before: date | None = None) -> date:
    """A date a person gave: not in the future, not before the case's last recorded date."""
    d = on or today
    if d > today:
        raise InvalidInput(f"{what} {d} は未来の日付です (今日は {today})")
    if not_before is not None and d < not_before:
        raise InvalidInput(f"{what} {d} は案件の最後の記録日 {not_before} より前です")
    return d


def case_rules(case: CaseState, env: Env) -> RuleVersion:
    """The pinned rule version, or (before `apply`) the one its dates would pick."""
    if case.rule_version:
        return env.version(case.rule_version)
    return env.planning_version(case.applied_on or case.opened_on)


def display_rules(case: CaseState, env: Env) -> RuleVersion:
    """The rule version a case is shown under (before `apply`: today's, from R4 on)."""
    if case.rule_version:
        return env.version(case.rule_version)
    return env.planning_version(min(env.today, max(case.opened_on, env.first_day)))


def definition(case: CaseState) -> Definition:
    return catalog().definition(case.program, case.track)


def event(
    snap: Snapshot,
    *,
    kind: str,
    trigger: str,
    frm: str | None,
    to: str,
    on: date,
    actor: str,
    reason: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> EventRow:
    return EventRow(
        seq=snap.next_seq,
        kind=kind,
        trigger=trigger,
        from_stage=frm,
        to_stage=to,
        on=on,
        actor=actor,
        reason=reason,
        detail=json.dumps(detail, ensure_ascii=False, default=str) if detail else None,
    )


def needs_for(d: Definition, case: CaseState, trigger: str) -> Needs:
    """What the loader must read for this trigger: its guards' facts and its effects."""
    guards = frozenset(d.transition(trigger).guards) if trigger in d.triggers else frozenset()
    out = set(_guard_needs(guards, trigger))
    if trigger in PAYING:
        out |= {COSTS, PAYMENTS}
        if case.reuse_exception:
            out.add(USES)
    return frozenset(out)


def _guard_needs(guards: frozenset[str], trigger: str) -> Needs:
    out = set()
    if not guards.isdisjoint({"estimates_recorded", "monitoring_estimate_half", "fees_recorded"}):
        out.add(COSTS)
    if not guards.isdisjoint({"lenders_named", "all_lenders_consented", "lender_receipt"}):
        out.add(LENDERS)
    if "monitoring_report" in guards:
        out.add(REPORTS)
    if trigger in ("apply", "accept") and not guards.isdisjoint(
        {"reuse_allowed", "reuse_exception_approved"}
    ):
        out.add(USES)
    return frozenset(out)


# ---------------------------------------------------------------- guards' facts


def guard_facts(
    snap: Snapshot,
    d: Definition,
    rules: RuleVersion,
    actor: Actor,
    on: date,
    reason: str | None,
    trigger: str,
    calendar: BusinessCalendar,
) -> Facts:
    """What the guards of `trigger` read, from what the snapshot holds."""
    case, company = snap.case, snap.company
    costs = snap.costs or {}
    reuse: ReuseDecision | None = None
    if trigger in ("apply", "accept") and snap.uses is not None:
        reuse = decide(
            rules,
            case.program,
            list(snap.uses),
            frozenset(case.affected),
            reason if trigger == "apply" else case.reuse_reason,
        )
    return Facts(
        program=case.program,
        track=case.track,
        stage=case.stage,
        on=on,
        reason=reason,
        actor_role=actor.role,
        company=CompanyFacts(
            company.industry, company.capital, company.employees, company.legal_form
        ),
        advisor=case.advisor,
        lenders=tuple(LenderFact(x.name, x.consented_on) for x in snap.lenders or ()),
        certificate_issued=case.certificate_issued,
        certificate_max_age_months=rules.deadline("certificate_max_age_months"),
        categories=d.categories_for(case.options),
        estimates={k: c.estimate for k, c in costs.items() if c.estimate is not None},
        actuals={k: c.actual for k, c in costs.items() if c.actual is not None},
        plan_recorded=case.plan_recorded,
        reports=frozenset(snap.reports or {}),
        periods_paid=case.periods_paid,
        periods_total=monitoring_period_count(case.program, rules, case.interim_monitoring),
        reuse=reuse,
        deadline=deadline(case, rules, calendar),
    )


def deadline(case: CaseState, rules: RuleVersion, calendar: BusinessCalendar) -> date | None:
    """The date after which the case cannot go on without a supervisor: a 405 application's
    validity (set at acceptance, extendable), an early plan-cost claim's (1 year after the
    application unless a supervisor recorded an exception)."""
    if case.program == "405":
        return case.valid_until
    if case.applied_on is None:
        return None
    months = rules.deadline("early_payment_claim_within_months")
    return case.valid_until or date_plus_months(case.applied_on, months, calendar)


def pending(snap: Snapshot, actor: Actor, env: Env) -> dict[str, list[str]]:
    """For each forward trigger allowed now, the conditions not yet met (for `case show`)."""
    case = snap.case
    d = definition(case)
    forward = [
        t
        for t in allowed_triggers(case.program, case.track, case.stage)
        if not d.transition(t).needs_reason
    ]
    if not forward:
        return {}
    facts = guard_facts(
        snap, d, display_rules(case, env), actor, env.today, None, forward[0], env.calendar
    )
    out: dict[str, list[str]] = {}
    for t in forward:
        f = failures(d.transition(t).guards, facts)
        if t == "accept" and facts.reuse is not None:
            f = [x for x in f if "統括責任者" not in x] + (
                ["再利用の例外: 統括責任者による受付が必要です"] if facts.reuse.exception else []
            )
        out[t] = f
    return out


# ---------------------------------------------------------------- moves


def decide_move(
    snap: Snapshot,
    actor: Actor,
    trigger: str,
    on: date | None,
    reason: str | None,
    env: Env,
    *,
    replan: bool = True,
    detail: Mapping[str, Any] | None = None,
) -> Decision:
    """Fire a trigger: it must exist from the stage and every guard must hold (all failures
    are reported); then the stage, the pinned rule version, dates and payments change, one
    event is written and the milestones are replanned."""
    case = snap.case
    d = definition(case)
    if trigger not in d.triggers:
        raise InvalidInput(f"不明なトリガー '{trigger}' ({d.key}): {', '.join(d.triggers)}")
    when = check_date(on, env.today, "日付 (--on)", not_before=case.last_event_on)
    available = allowed_triggers(case.program, case.track, case.stage)
    if trigger not in available:
        raise NotAllowed(
            f"{catalog().stage_label(case.stage)} ({case.stage}) から {trigger} はできません: "
            f"できるのは {', '.join(available) or 'なし (終了済み)'}"
        )
    rules = env.version(case.rule_version) if case.rule_version else None
    if trigger == "apply" or (trigger == "accept" and env.version_key == "acceptance"):
        rules = env.version_on(when)
    if rules is None:
        rules = env.version_on(case.applied_on or when)
    facts = guard_facts(snap, d, rules, actor, when, reason, trigger, env.calendar)
    token = Token(case.stage, check=lambda trig: failures(d.transition(trig).guards, facts))
    try:
        ok = fire(case.program, case.track, token, trigger)
    except TriggerNotAvailable:
        raise NotAllowed(f"{case.stage} から {trigger} はできません") from None
    if not ok:
        raise GuardFailed(trigger, token.failures)
    after, payments = _effects(snap, d, rules, trigger, when, facts, env)
    after = replace(
        after,
        case=replace(after.case, stage=token.state, last_event_on=when),
        moves=(*snap.moves, (trigger, when)),
    )
    ev = event(
        snap,
        kind="transition",
        trigger=trigger,
        frm=case.stage,
        to=token.state,
        on=when,
        actor=actor.id,
        reason=reason,
        detail=detail,
    )
    changes = ChangeSet(case.id, after.case, case.version, events=[ev], payments=payments)
    return finish(after, changes, rules if replan else None, env, replanning=replan)


def finish(
    after: Snapshot,
    changes: ChangeSet,
    rules: RuleVersion | None,
    env: Env,
    *,
    replanning: bool = True,
) -> Decision:
    """Bump the version and event counter, and replan the milestones into the change."""
    case = replace(changes.case, version=after.case.version + 1)
    after = replace(after, case=case, next_seq=after.next_seq + len(changes.events))
    changes.case = case
    if replanning:
        after = replan_into(after, changes, rules or case_rules(case, env), env)
    return Decision(changes, after)


def _effects(
    snap: Snapshot,
    d: Definition,
    rules: RuleVersion,
    trigger: str,
    on: date,
    facts: Facts,
    env: Env,
) -> tuple[Snapshot, list[PaymentState]]:
    """What a transition changes beyond the stage: dates, the pinned rule, payments."""
    case = snap.case
    pays: list[PaymentState] = []
    if trigger == "apply":
        assert facts.reuse is not None
        case = replace(
            case,
            applied_on=on,
            rule_version=rules.id,
            reuse_exception=facts.reuse.exception,
            reuse_reason=facts.reason if facts.reuse.exception else case.reuse_reason,
        )
    elif trigger == "accept":
        case = replace(case, accepted_on=on, rule_version=rules.id)
        if case.program == "405":
            years = rules.deadline("application_valid_years_405")
            case = replace(case, valid_until=date_plus_months(on, 12 * years, env.calendar))
    elif trigger == "agree":
        case = replace(case, agreed_on=on)
    elif trigger == "decide_payment":
        case = replace(case, decided_on=on)
        first, _ = plan_halves(snap, d, rules)
        pays.append(_pay(snap, rules, "plan_first", None, first, on, pays))
    elif trigger in ("pay_monitoring", "complete"):
        period = case.periods_paid + 1
        _, rest = plan_halves(snap, d, rules)
        if period == 1 and rest:
            pays.append(_pay(snap, rules, "plan_second", None, rest, on, pays))
        mon = monitoring_share(snap, d, rules)
        paid_mon = sum(p.amount for p in snap.payment_list if p.kind == "monitoring")
        pays.append(_pay(snap, rules, "monitoring", period, max(mon - paid_mon, 0), on, pays))
        case = replace(case, periods_paid=period)
    after = replace(snap, case=case)
    if pays:
        after = replace(after, payments=(*snap.payment_list, *pays))
    return after, pays


def _pay(
    snap: Snapshot,
    rules: RuleVersion,
    kind: str,
    period: int | None,
    amount: int,
    on: date,
    so_far: list[PaymentState],
) -> PaymentState:
    room = payment_room(snap, rules, extra=sum(p.amount for p in so_far))
    if room is not None:
        amount = max(min(amount, room), 0)
    return PaymentState(kind, period, amount, on)


# ---------------------------------------------------------------- opening


def check_opening(
    program: str,
    track: str,
    opened_on: date,
    *,
    interim_monitoring: bool,
    guarantee_release: bool,
) -> Definition:
    """What a new case must be, whoever opens it (a command or an imported row)."""
    try:
        d = catalog().definition(program, track)
    except UnknownProgramError as e:
        raise InvalidInput(str(e)) from None
    if interim_monitoring and program != "early":
        raise InvalidInput(
            "--interim-monitoring は早期経営改善 (early) の案件だけです (期中モニタリング)"
        )
    if guarantee_release and d.key != "405/normal":
        raise InvalidInput(
            "--guarantee-release は 405 通常枠の案件だけです (経営者保証解除; 早期は guarantee 枠)"
        )
    since = catalog().track_since.get(track)
    if since and opened_on < since:
        raise InvalidInput(f"{catalog().track_labels[track]}は {since} からです")
    return d


def decide_open(
    case: CaseState, snap_company: Snapshot, actor: Actor, env: Env, *, replan: bool = True
) -> Decision:
    """A new case at 相談 with its opening event and first milestones.

    `snap_company` carries the company (and nothing else); `case` is the new row, already
    numbered by the writer."""
    check_opening(
        case.program,
        case.track,
        case.opened_on,
        interim_monitoring=case.interim_monitoring,
        guarantee_release=case.guarantee_release,
    )
    snap = replace(snap_company, case=case, next_seq=1, milestones={}, moves=())
    ev = event(
        snap,
        kind="transition",
        trigger="open",
        frm=None,
        to=INITIAL_STAGE,
        on=case.opened_on,
        actor=actor.id,
    )
    return opened(snap, ev, env, replan=replan)


def opened(snap: Snapshot, first: EventRow, env: Env, *, replan: bool = True) -> Decision:
    """A new case's change set from its first event (`open`, or `import`)."""
    after = replace(
        snap,
        moves=((first.trigger, first.on),),
        next_seq=2,
        lenders=(),
        costs={},
        reports={},
        payments=(),
    )
    changes = ChangeSet(snap.case.id, snap.case, None, events=[first])
    if replan:
        after = replan_into(after, changes, env.planning_version(snap.case.opened_on), env)
    return Decision(changes, after)


# ---------------------------------------------------------------- milestones


def plan(snap: Snapshot, rules: RuleVersion, env: Env) -> list[milestones.Planned]:
    """The milestones the planner gives the case now (nothing compared, nothing written)."""
    return milestones.compute(case_dates(snap), snap.moves, rules, env.calendar)


def monitoring_period(snap: Snapshot, rules: RuleVersion, n: int) -> milestones.Period | None:
    """The case's n-th monitoring period (1-based), None past the last."""
    periods = milestones.monitoring_periods(case_dates(snap), snap.moves, rules)
    return periods[n - 1] if 0 < n <= len(periods) else None


def case_dates(snap: Snapshot) -> milestones.CaseDates:
    """What the planner reads of a case."""
    case = snap.case
    return milestones.CaseDates(
        program=case.program,
        fiscal_year_end=snap.company.fiscal_year_end,
        interim_monitoring=case.interim_monitoring,
        opened_on=case.opened_on,
        certificate_issued=case.certificate_issued,
        applied_on=case.applied_on,
        accepted_on=case.accepted_on,
        agreed_on=case.agreed_on,
        decided_on=case.decided_on,
        valid_until=case.valid_until,
        stage=case.stage,
        reports=tuple(on for _, on in sorted(snap.report_map.items())),
    )


def replan_into(snap: Snapshot, changes: ChangeSet, rules: RuleVersion, env: Env) -> Snapshot:
    """Recompute the milestones from the case's facts (done ones keep their dates), add the
    differences to `changes`, and return the snapshot with the new milestones."""
    case = snap.case
    planned = plan(snap, rules, env)
    final = case.stage in definition(case).final_stages
    existing = snap.milestones
    now: dict[str, MilestoneState] = dict(existing)
    keep = set()
    for p in planned:
        if final and p.done_on is None:
            continue  # a closed case has nothing left to chase
        keep.add(p.key)
        m = existing.get(p.key)
        if m is not None and m.done_on is not None and p.done_on is not None:
            continue  # done stays done, with its date
        new = MilestoneState(p.key, p.label, p.stage, p.due, p.done_on, m.reminded if m else False)
        if m is None or (m.label, m.stage, m.due, m.done_on) != (
            p.label,
            p.stage,
            p.due,
            p.done_on,
        ):
            now[p.key] = new
            changes.milestones[p.key] = new
            changes.drop_milestones.discard(p.key)
    for key, m in existing.items():
        if key in keep or m.done_on is not None:
            continue
        if m.reminded:
            # Reminders already delivered are history: keep the milestone they name, closed
            # on the case's last date, and cancel what is still pending.
            closed = replace(m, done_on=case.last_event_on)
            now[key] = closed
            changes.milestones[key] = closed
            changes.cancel_reminders.add(key)
        else:
            del now[key]
            changes.milestones.pop(key, None)
            changes.drop_milestones.add(key)
    return replace(snap, milestones=now)


__all__ = [
    "Env",
    "case_rules",
    "check_date",
    "check_opening",
    "decide_move",
    "decide_open",
    "display_rules",
    "finish",
    "guard_facts",
    "needs_for",
    "pending",
    "replan_into",
]

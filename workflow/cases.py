"""Use cases that open and read cases: open, show, subsidy, list."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from states.programs import INITIAL_STAGE, catalog
from states.rules import RuleVersion
from states.timeline import monitoring_period_count
from storage.models import Council, Event, Milestone
from storage.queries import cases as case_queries
from workflow import access, store
from workflow.companies import company_key
from workflow.decide import (
    check_date,
    check_opening,
    decide_open,
    definition,
    display_rules,
    monitoring_period,
    pending,
)
from workflow.errors import Conflict, InvalidInput, NotFound
from workflow.inputs import MAX_NAME, causes, text
from workflow.machines import allowed_triggers
from workflow.money import payable, subsidy_lines
from workflow.snapshot import (
    COSTS,
    EVERYTHING,
    LENDERS,
    REPORTS,
    USES,
    CaseState,
    Snapshot,
)
from workflow.tx import Boundaries, read, write
from workflow.views import (
    Actor,
    CaseRow,
    CaseView,
    EventView,
    LenderView,
    MilestoneView,
    SubsidyView,
)

# A 405 application lapses 2 years after acceptance (rules.md §5): in these stages the case
# cannot move forward past its validity until a supervisor extends it.
LAPSING_STAGES = ("due_diligence", "planning", "bank_negotiation", "payment_claim")
LAPSED_LABEL = "失効"


def open_case(
    b: Boundaries,
    actor_id: str,
    *,
    company: str,
    program: str,
    track: str,
    council: str,
    advisor: str = "",
    affected: Sequence[str] = (),
    interim_monitoring: bool = False,
    guarantee_release: bool = False,
    on: date | None = None,
) -> str:
    """Open a case at 相談 (one transaction); returns its id."""
    adv = text(advisor, "認定支援機関名", limit=MAX_NAME) or ""
    why, note = causes(list(affected))
    env = b.env()
    opened = check_date(on, env.today, "相談日")
    check_opening(
        program,
        track,
        opened,
        interim_monitoring=interim_monitoring,
        guarantee_release=guarantee_release,
    )
    for attempt in range(3):
        try:
            with write(b) as s:
                who = store.actor(s, actor_id)
                if s.get(Council, council) is None:
                    raise NotFound(f"協議会 {council} が見つかりません ('kaizen council list')")
                access.require_council(who, council)
                comp = store.company(s, company_key(company))
                case = new_case(
                    store.next_case_id(s, council, opened),
                    program=program,
                    track=track,
                    council=council,
                    company=comp.key,
                    officer=who.id,
                    advisor=adv,
                    affected=why,
                    affected_note=note,
                    interim_monitoring=interim_monitoring,
                    guarantee_release=guarantee_release,
                    opened_on=opened,
                )
                snap = Snapshot(case, comp, (), {}, 1)
                store.apply(s, decide_open(case, snap, who, env).changes, b.now())
                return case.id
        except Conflict:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def new_case(
    case_id: str,
    *,
    program: str,
    track: str,
    council: str,
    company: str,
    officer: str,
    advisor: str,
    affected: tuple[str, ...],
    interim_monitoring: bool,
    affected_note: str | None = None,
    guarantee_release: bool,
    opened_on: date,
) -> CaseState:
    """A case row at 相談, before anything happened to it."""
    return CaseState(
        id=case_id,
        program=program,
        track=track,
        council=council,
        company=company,
        officer=officer,
        advisor=advisor,
        stage=INITIAL_STAGE,
        rule_version=None,
        affected=affected,
        affected_note=affected_note,
        interim_monitoring=interim_monitoring,
        guarantee_release=guarantee_release,
        reuse_reason=None,
        reuse_exception=False,
        certificate_issued=None,
        plan_recorded=None,
        opened_on=opened_on,
        applied_on=None,
        accepted_on=None,
        agreed_on=None,
        decided_on=None,
        valid_until=None,
        last_event_on=opened_on,
        periods_paid=0,
        version=1,
    )


# ---------------------------------------------------------------- reading


def show(b: Boundaries, actor_id: str, case_id: str) -> CaseView:
    with read(b) as s:
        who = store.actor(s, actor_id)
        snap = store.load(s, case_id, who, frozenset({LENDERS, COSTS, REPORTS}))
        if snap.case.stage in ("consultation", "application"):  # re-use decides apply/accept
            snap = store.fill(s, snap, frozenset({USES}))
        return view(b, s, snap, who)


def view_after(b: Boundaries, s: Session, snap: Snapshot, who: Actor) -> CaseView:
    """The view of a snapshot a command decided on, in its transaction: what the command did
    not load is read now (after its write, so it is what stands)."""
    loaded = {
        LENDERS: snap.lenders is not None,
        COSTS: snap.costs is not None,
        REPORTS: snap.reports is not None,
    }
    missing = {x for x, have in loaded.items() if not have}
    if snap.case.stage in ("consultation", "application") and snap.uses is None:
        missing.add(USES)
    return view(b, s, store.fill(s, snap, frozenset(missing)) if missing else snap, who)


def view(b: Boundaries, s: Session, snap: Snapshot, who: Actor) -> CaseView:
    case, cat = snap.case, catalog()
    env = b.env()
    today = env.today
    rules = display_rules(case, env)
    ms = []
    for m in s.execute(
        select(Milestone.key, Milestone.label, Milestone.stage, Milestone.due, Milestone.done_on)
        .where(Milestone.case_id == case.id)
        .order_by(Milestone.due, Milestone.id)
    ):
        overdue = m.done_on is None and m.due < today
        # Late stays late: a milestone done after its due date keeps its business days.
        end = today if overdue else m.done_on
        late = b.calendar.business_days_between(m.due, end) if end and end > m.due else 0
        ms.append(
            MilestoneView(
                m.key,
                m.label,
                m.stage,
                cat.stage_label(m.stage),
                m.due,
                m.done_on is not None,
                m.done_on,
                overdue,
                late,
            )
        )
    rows = list(s.scalars(select(Event).where(Event.case_id == case.id).order_by(Event.seq)))
    undone = undone_by([(e.seq, e.kind, e.detail) for e in rows])
    evs = [
        EventView(
            e.seq,
            e.kind,
            e.trigger,
            e.from_stage,
            e.to_stage,
            e.effective_on,
            e.recorded_at,
            e.actor,
            e.reason,
            json.loads(e.detail) if e.detail else None,
            undone.get(e.seq),
        )
        for e in rows
    ]
    council_name = s.scalar(select(Council.name).where(Council.code == case.council)) or ""
    return CaseView(
        id=case.id,
        program=case.program,
        program_label=cat.programs[case.program].short,
        track=case.track,
        track_label=cat.track_labels[case.track],
        stage=case.stage,
        stage_label=cat.stage_label(case.stage),
        council=case.council,
        council_name=council_name,
        company=snap.company.key,
        company_name=snap.company.name,
        officer=case.officer,
        advisor=case.advisor,
        rule_version=case.rule_version,
        affected=list(case.affected),
        affected_note=case.affected_note,
        interim_monitoring=case.interim_monitoring,
        guarantee_release=case.guarantee_release,
        reuse_exception=case.reuse_exception,
        certificate_issued=case.certificate_issued,
        plan_recorded=case.plan_recorded,
        opened_on=case.opened_on,
        applied_on=case.applied_on,
        accepted_on=case.accepted_on,
        valid_until=case.valid_until,
        periods_paid=case.periods_paid,
        periods_total=monitoring_period_count(case.program, rules, case.interim_monitoring),
        report_from=report_from(snap, rules),
        version=case.version,
        triggers=allowed_triggers(case.program, case.track, case.stage),
        missing=pending(snap, who, env),
        lenders=[LenderView(x.name, x.consented_on) for x in snap.lender_list],
        milestones=ms,
        events=evs,
    )


def undone_by(rows: Sequence[tuple[int, str, str | None]]) -> dict[int, int]:
    """Event seq → the `correction` that voided (a fact) or reverted (a move) it."""
    out: dict[int, int] = {}
    for seq, kind, detail in rows:
        if kind == "correction" and detail:
            d = json.loads(detail)
            target = d.get("voids", d.get("reverts"))
            if target is not None:
                out[int(target)] = seq
    return out


def report_from(snap: Snapshot, rules: RuleVersion) -> date | None:
    """In monitoring, the first day the current period's report may be recorded."""
    if snap.case.stage != "monitoring":
        return None
    p = monitoring_period(snap, rules, snap.case.periods_paid + 1)
    return p.last_day + timedelta(days=1) if p else None


def subsidy(b: Boundaries, actor_id: str, case_id: str) -> SubsidyView:
    """The subsidy per category, and what the council will actually pay after the re-use
    room (one definition: `workflow.money.payable`)."""
    with read(b) as s:
        who = store.actor(s, actor_id)
        snap = store.load(s, case_id, who, EVERYTHING - {USES})
        if snap.case.reuse_exception:
            snap = store.fill(s, snap, frozenset({USES}))
    case = snap.case
    rules = display_rules(case, b.env())
    d = definition(case)
    pay = payable(snap, d, rules)
    pays = snap.payment_list
    return SubsidyView(
        case=case.id,
        rule_version=case.rule_version,
        categories=subsidy_lines(snap, d, rules),
        total=pay.total,
        plan_share=pay.plan,
        monitoring_share=pay.monitoring,
        paid=sum(p.amount for p in pays),
        withheld=pay.still_second if case.decided_on and case.periods_paid == 0 else 0,
        payment_room=pay.room,
        room_cut=pay.cut,
        payments=[
            {"kind": p.kind, "period": p.period, "amount": p.amount, "paid_on": p.paid_on}
            for p in pays
        ],
    )


def list_cases(
    b: Boundaries,
    actor_id: str,
    *,
    council: str | None = None,
    stage: str | None = None,
    officer: str | None = None,
    overdue: bool = False,
    limit: int | None = None,
    open_only: bool = False,
    search: str | None = None,
    by_due: bool = False,
    offset: int = 0,
) -> list[CaseRow]:
    """The cases the actor may see that match; the SQL is `storage.queries.cases`."""
    if stage is not None and stage not in catalog().stages:
        raise InvalidInput(f"不明な段階 '{stage}': {', '.join(catalog().stages)}")
    with read(b) as s:
        who = store.actor(s, actor_id)
        if council is not None:
            if s.get(Council, council) is None:
                raise NotFound(f"協議会 {council} が見つかりません")
            access.require_council(who, council)
        elif who.role != "admin":
            council = who.council
        cat = catalog()
        wanted = case_queries.CaseFilter(
            council, stage, officer, overdue, open_only, search, by_due, limit, offset
        )
        found = case_queries.case_rows(
            s,
            wanted,
            today=b.today(),
            final_stages=tuple(k for k, st in cat.stages.items() if st.final),
            lapsing_stages=LAPSING_STAGES,
        )
        return [
            CaseRow(
                r.id,
                r.program,
                r.track,
                r.stage,
                LAPSED_LABEL if r.lapsed else cat.stage_label(r.stage),
                r.council,
                r.company,
                r.company_name,
                r.officer,
                r.next_due,
                r.overdue,
                r.lapsed,
                r.advisor,
            )
            for r in found
        ]

"""The SQL of the morning reports: board, overdue, workload, funnel and budget aggregates.

Each report is one or two Core queries grouped and joined in the database (never a loop over
ORM objects), restricted by a `CaseFilter` (council, 年度 of `opened_on`). `workflow/reports.py`
decides the filter from the actor, adds labels and does what needs the council calendar.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple, TypeVarTuple

from sqlalchemy import (
    ColumnElement,
    Integer,
    Subquery,
    and_,
    case,
    cast,
    distinct,
    extract,
    func,
    literal,
    null,
    select,
    union_all,
)
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql import Select

from states.calendar import fiscal_year_bounds
from states.programs import catalog
from storage.models import (
    Case,
    Company,
    Cost,
    Council,
    Event,
    Milestone,
    Officer,
    Payment,
    PriorUse,
)

_Ts = TypeVarTuple("_Ts")

ACTIVE_MONITORING = ("monitoring", "monitoring_claim")
CLOSED_AFTER_DECISION = ("completed", "discontinued")  # nothing more is held back for these


@dataclass(frozen=True)
class CaseFilter:
    """Which cases a report counts: one council (None: every one), one 年度 (None: all)."""

    council: str | None = None
    fiscal_year: int | None = None


def _cases_in(q: Select[*_Ts], f: CaseFilter) -> Select[*_Ts]:
    """Restrict a query that joins `cases` to the filter's council and 年度."""
    if f.council is not None:
        q = q.where(Case.council_code == f.council)
    if f.fiscal_year is not None:
        first, last = fiscal_year_bounds(f.fiscal_year)
        q = q.where(Case.opened_on >= first, Case.opened_on <= last)
    return q


def case_fiscal_year() -> ColumnElement[int]:
    """年度 of `cases.opened_on` in SQL (April–March, named by the year it starts in)."""
    year = cast(extract("year", Case.opened_on), Integer)
    month = cast(extract("month", Case.opened_on), Integer)
    return case((month >= 4, year), else_=year - 1)


def council_names(s: Session) -> dict[str, str]:
    return {code: name for code, name in s.execute(select(Council.code, Council.name))}


def council_exists(s: Session, code: str) -> bool:
    return s.get(Council, code) is not None


def _least(a: Any, b: Any) -> ColumnElement[Any]:
    return case((a < b, a), else_=b)


def _greatest0(a: ColumnElement[Any]) -> ColumnElement[Any]:
    return case((a > 0, a), else_=0)


def _final_stages() -> tuple[str, ...]:
    return tuple(sid for sid, st in catalog().stages.items() if st.final)


# ---------------------------------------------------------------- board


class BoardCell(NamedTuple):
    council: str
    stage: str
    cases: int
    overdue: int  # cases in the cell with a milestone due before today and not done


def board_cells(s: Session, f: CaseFilter, today: date) -> list[BoardCell]:
    # Two counts, each answered by an index, in one statement (one snapshot): the cells
    # from (council_code, stage) alone, the overdue cases by looking up only the cases
    # the partial open-milestone index names. (An outer join of every case to a per-case
    # aggregate read every case row and every milestone: 18x slower at 1M cases.)
    late_ids = select(Milestone.case_id).where(Milestone.done_on.is_(None), Milestone.due < today)
    cell = (Case.council_code.label("council"), Case.stage.label("stage"))
    counts = _cases_in(
        select(*cell, func.count().label("n"), literal(0).label("late")).group_by(
            Case.council_code, Case.stage
        ),
        f,
    )
    lates = _cases_in(
        select(*cell, literal(0).label("n"), func.count().label("late"))
        .where(Case.id.in_(late_ids))
        .group_by(Case.council_code, Case.stage),
        f,
    )
    cells = union_all(counts, lates).subquery("cells")
    q = select(
        cells.c.council, cells.c.stage, func.sum(cells.c.n), func.sum(cells.c.late)
    ).group_by(cells.c.council, cells.c.stage)
    return [BoardCell(c, st, int(n), int(od)) for c, st, n, od in s.execute(q)]


# ---------------------------------------------------------------- overdue


class OverdueMilestone(NamedTuple):
    case: str
    council: str
    officer: str
    officer_name: str
    company: str
    company_name: str
    stage: str
    milestone: str
    milestone_label: str
    due: date


def overdue_milestones(s: Session, f: CaseFilter, today: date) -> list[OverdueMilestone]:
    """Every milestone not done and due before `today`, oldest first."""
    q = (
        select(
            Milestone.case_id,
            Case.council_code,
            Case.officer_id,
            Officer.name,
            Case.company_key,
            Company.name,
            Case.stage,
            Milestone.key,
            Milestone.label,
            Milestone.due,
        )
        .join(Case, Case.id == Milestone.case_id)
        .join(Company, Company.key == Case.company_key)
        .join(Officer, Officer.id == Case.officer_id)
        .where(Milestone.done_on.is_(None), Milestone.due < today)
        .order_by(Milestone.due, Milestone.case_id, Milestone.key)
    )
    return [OverdueMilestone._make(r) for r in s.execute(_cases_in(q, f))]


# ---------------------------------------------------------------- workload


class OfficerLoad(NamedTuple):
    officer: str
    officer_name: str
    council: str | None
    role: str
    cases: int
    open_cases: int
    overdue_cases: int
    overdue_items: int
    oldest_due: date | None
    active: bool = True  # an inactive officer's open cases need reassignment (issue 12)


def officer_loads(s: Session, f: CaseFilter, today: date) -> list[OfficerLoad]:
    """Per officer with cases in the filter (and every active non-admin of its council)."""
    late = (
        select(
            Milestone.case_id,
            func.count().label("n_items"),
            func.min(Milestone.due).label("oldest"),
        )
        .where(Milestone.done_on.is_(None), Milestone.due < today)
        .group_by(Milestone.case_id)
        .subquery("late")
    )
    per = _cases_in(
        select(
            Case.officer_id.label("officer_id"),
            func.count().label("cases"),
            func.sum(case((Case.stage.not_in(_final_stages()), 1), else_=0)).label("open"),
            func.count(late.c.case_id).label("overdue_cases"),
            func.coalesce(func.sum(late.c.n_items), 0).label("overdue_items"),
            func.min(late.c.oldest).label("oldest"),
        )
        .outerjoin(late, late.c.case_id == Case.id)
        .group_by(Case.officer_id),
        f,
    ).subquery("per")
    mine = Officer.role != "admin"
    if f.council is not None:
        mine = and_(mine, Officer.council_code == f.council)
    q = (
        select(
            Officer.id,
            Officer.name,
            Officer.council_code,
            Officer.role,
            func.coalesce(per.c.cases, 0),
            func.coalesce(per.c.open, 0),
            func.coalesce(per.c.overdue_cases, 0),
            func.coalesce(per.c.overdue_items, 0),
            per.c.oldest,
            Officer.active,
        )
        .outerjoin(per, per.c.officer_id == Officer.id)
        .where((per.c.officer_id.is_not(None)) | and_(mine, Officer.active.is_(True)))
        .order_by(Officer.council_code, Officer.id)
    )
    return [
        OfficerLoad(oid, name, code, role, int(n), int(o), int(odc), int(odi), oldest, bool(active))
        for oid, name, code, role, n, o, odc, odi, oldest, active in s.execute(q)
    ]


# ---------------------------------------------------------------- funnel


@dataclass(frozen=True)
class FunnelData:
    cohort: dict[int, int]  # 年度 -> cases opened
    reached: dict[tuple[int, str], int]  # (年度, stage) -> cases with a move into it
    steps: list[tuple[int, str, str, date]]  # (年度, case, stage entered, on), per case in order


def funnel_data(s: Session, f: CaseFilter) -> FunnelData:
    fy = case_fiscal_year().label("fy")
    moves = Event.kind.in_(("transition", "import"))  # a correction enters no stage
    reached = s.execute(
        _cases_in(
            select(fy, Event.to_stage, func.count(distinct(Event.case_id)))
            .join(Case, Case.id == Event.case_id)
            .where(moves)
            .group_by(fy, Event.to_stage),
            f,
        )
    )
    counts = {(int(y), st): int(n) for y, st, n in reached}
    cohort = {
        int(y): int(n) for y, n in s.execute(_cases_in(select(fy, func.count()).group_by(fy), f))
    }
    steps = s.execute(
        _cases_in(
            select(fy, Event.case_id, Event.to_stage, Event.effective_on)
            .join(Case, Case.id == Event.case_id)
            .where(moves)
            .order_by(Event.case_id, Event.seq),
            f,
        )
    )
    return FunnelData(cohort, counts, [(int(y), c, st, on) for y, c, st, on in steps])


# ---------------------------------------------------------------- budget


class CapRow(NamedTuple):
    """One (rule version, program, track, category): its phase, cap and subsidy rate."""

    rule_version: str
    program: str
    track: str
    category: str
    phase: str  # plan | monitoring
    cap: int
    num: int
    den: int


class ReuseCap(NamedTuple):
    """A rule version's cap on a firm's payments over all its uses of a program (R6+ 405)."""

    rule_version: str
    program: str
    cap_total: int


class CaseBudget(NamedTuple):
    """One case's figures in the budget (integer yen); the report sums them per group."""

    case: str
    fiscal_year: int
    program: str
    track: str
    decided_case: int  # 1 when the payment is decided
    decided: int
    paid: int
    withheld: int
    monitoring_remaining: int
    pipeline: int


class BudgetGroup(NamedTuple):
    fiscal_year: int
    program: str
    track: str
    cases: int
    decided_cases: int
    decided: int
    paid: int
    withheld: int
    monitoring_remaining: int
    pipeline: int


def _values(rows: Sequence[tuple[Any, ...]], names: Sequence[str], alias: str) -> Subquery:
    """A small constant table (rule data) as a UNION ALL of literal SELECTs."""
    return union_all(
        *(select(*(literal(v).label(n) for v, n in zip(r, names, strict=True))) for r in rows)
    ).subquery(alias)


def _budget_inputs(f: CaseFilter, caps: Sequence[CapRow], reuse: Sequence[ReuseCap]) -> Subquery:
    """Per case: the shares from costs (2/3 within caps), payments, and the re-use room."""
    ct = _values(caps, CapRow._fields, "caps")
    est_share = _least((Cost.estimate * ct.c.num) // ct.c.den, ct.c.cap)
    act_share = case(
        (
            and_(Cost.actual.is_not(None), Cost.estimate.is_not(None)),
            _least((_least(Cost.actual, Cost.estimate) * ct.c.num) // ct.c.den, ct.c.cap),
        ),
        else_=0,
    )
    plan = ct.c.phase == "plan"
    shares = (
        select(
            Cost.case_id.label("case_id"),
            func.sum(case((plan, act_share), else_=0)).label("plan_actual"),
            func.sum(case((plan, func.coalesce(est_share, 0)), else_=0)).label("plan_est"),
            func.sum(case((~plan, func.coalesce(est_share, 0)), else_=0)).label("mon_est"),
        )
        .join(Case, Case.id == Cost.case_id)
        .join(
            ct,
            and_(
                ct.c.rule_version == Case.rule_version,
                ct.c.program == Case.program,
                ct.c.track == Case.track,
                ct.c.category == Cost.category,
            ),
        )
        .group_by(Cost.case_id)
        .subquery("shares")
    )
    paid = (
        select(
            Payment.case_id.label("case_id"),
            func.sum(case((Payment.kind != "monitoring", Payment.amount), else_=0)).label("plan"),
            func.sum(case((Payment.kind == "monitoring", Payment.amount), else_=0)).label("mon"),
        )
        .group_by(Payment.case_id)
        .subquery("paid")
    )
    paid_plan = func.coalesce(paid.c.plan, 0)
    paid_mon = func.coalesce(paid.c.mon, 0)
    rc = _values(reuse, ReuseCap._fields, "reuse_caps") if reuse else None
    room = null() if rc is None else _room(rc.c.cap_total, paid_plan + paid_mon)
    decided = Case.decided_on.is_not(None)
    q = (
        select(
            Case.id.label("case_id"),
            case_fiscal_year().label("fy"),
            Case.program.label("program"),
            Case.track.label("track"),
            case((decided, 1), else_=0).label("decided"),
            case((and_(decided, Case.stage.not_in(CLOSED_AFTER_DECISION)), 1), else_=0).label(
                "held"
            ),
            case((and_(decided, Case.stage.in_(ACTIVE_MONITORING)), 1), else_=0).label(
                "monitoring"
            ),
            case(
                (
                    and_(
                        ~decided, Case.accepted_on.is_not(None), Case.stage.not_in(_final_stages())
                    ),
                    1,
                ),
                else_=0,
            ).label("pending"),
            func.coalesce(shares.c.plan_actual, 0).label("plan_actual"),
            func.coalesce(shares.c.plan_est, 0).label("plan_est"),
            func.coalesce(shares.c.mon_est, 0).label("mon_est"),
            paid_plan.label("paid_plan"),
            paid_mon.label("paid_mon"),
            room.label("room"),
        )
        .outerjoin(shares, shares.c.case_id == Case.id)
        .outerjoin(paid, paid.c.case_id == Case.id)
    )
    if rc is not None:
        q = q.outerjoin(
            rc,
            and_(
                Case.reuse_exception.is_(True),
                rc.c.rule_version == Case.rule_version,
                rc.c.program == Case.program,
            ),
        )
    return _cases_in(q, f).subquery("inputs")


def _room(cap_total: ColumnElement[Any], paid_here: ColumnElement[Any]) -> ColumnElement[Any]:
    """What the council may still pay a re-use-exception case (NULL: no cap applies).

    cap_total − the firm's recorded prior uses' payments − the payments of its other accepted
    cases − this case's payments, never below 0: the engine's rule (`Kaizen.subsidy`'s
    `payment_room`, `_pay`). The subqueries run only for the rare rows that found a cap.
    """
    other = aliased(Case)
    prior = (
        select(func.coalesce(func.sum(PriorUse.paid), 0))
        .where(PriorUse.company_key == Case.company_key)
        .scalar_subquery()
    )
    others = (
        select(func.coalesce(func.sum(Payment.amount), 0))
        .join(other, other.id == Payment.case_id)
        .where(
            other.company_key == Case.company_key,
            other.id != Case.id,
            other.accepted_on.is_not(None),
        )
        .scalar_subquery()
    )
    return case(
        (cap_total.is_not(None), _greatest0(cap_total - prior - others - paid_here)),
        else_=null(),
    )


def _within(x: ColumnElement[Any], room: ColumnElement[Any]) -> ColumnElement[Any]:
    """`x`, but no more than the room when there is one."""
    return case((room.is_(None), x), else_=_least(x, room))


def _budget_cases(f: CaseFilter, caps: Sequence[CapRow], reuse: Sequence[ReuseCap]) -> Select[Any]:
    """The per-case figures (CaseBudget's columns) as one SELECT over `_budget_inputs`.

    Without a room: decided = plan share (from fees) + monitoring paid, for decided cases;
    withheld = plan share − plan paid, for decided cases still open; monitoring_remaining =
    monitoring share from the estimates − monitoring paid, for cases in monitoring;
    pipeline = plan + monitoring shares from the estimates, for accepted, undecided, open
    cases. With a re-use room, what is still to be paid is cut to the room, withheld first.
    """
    i = _budget_inputs(f, caps, reuse)
    room = i.c.room
    withheld = case(
        (i.c.held == 1, _within(_greatest0(i.c.plan_actual - i.c.paid_plan), room)), else_=0
    )
    return select(
        i.c.case_id,
        i.c.fy,
        i.c.program,
        i.c.track,
        i.c.decided,
        case(
            (i.c.decided == 1, _within(i.c.plan_actual, i.c.paid_plan + room) + i.c.paid_mon),
            else_=0,
        ).label("decided_amount"),
        (i.c.paid_plan + i.c.paid_mon).label("paid"),
        withheld.label("withheld"),
        case(
            (
                i.c.monitoring == 1,
                _within(_greatest0(i.c.mon_est - i.c.paid_mon), room - withheld),
            ),
            else_=0,
        ).label("monitoring_remaining"),
        case((i.c.pending == 1, _within(i.c.plan_est + i.c.mon_est, room)), else_=0).label(
            "pipeline"
        ),
    )


def budget_cases(
    s: Session, f: CaseFilter, caps: Sequence[CapRow], reuse: Sequence[ReuseCap]
) -> list[CaseBudget]:
    """Every case's budget figures, by case id (what `budget_groups` adds up)."""
    q = _budget_cases(f, caps, reuse).order_by("case_id")
    return [
        CaseBudget(cid, int(y), p, t, *(int(x) for x in rest))
        for cid, y, p, t, *rest in s.execute(q)
    ]


def budget_groups(
    s: Session, f: CaseFilter, caps: Sequence[CapRow], reuse: Sequence[ReuseCap]
) -> list[BudgetGroup]:
    """The per-case figures summed per 年度, program and track."""
    c = _budget_cases(f, caps, reuse).subquery("per_case")
    q = (
        select(
            c.c.fy,
            c.c.program,
            c.c.track,
            func.count(),
            func.sum(c.c.decided),
            func.sum(c.c.decided_amount),
            func.sum(c.c.paid),
            func.sum(c.c.withheld),
            func.sum(c.c.monitoring_remaining),
            func.sum(c.c.pipeline),
        )
        .group_by(c.c.fy, c.c.program, c.c.track)
        .order_by(c.c.fy, c.c.program, c.c.track)
    )
    return [
        BudgetGroup(int(y), p, t, *(int(x or 0) for x in rest)) for y, p, t, *rest in s.execute(q)
    ]

"""The morning reports: board, overdue, workload, funnel and budget, as SQL aggregates.

Each report is one or two SQLAlchemy Core queries over the tables (grouped and joined in the
database, never a loop over ORM objects), filtered by council and by 年度 — the fiscal year
(April–March) of the case's first consultation (`opened_on`) — and scoped by access: an
officer or supervisor sees their own council, an admin every council (design.md §8).

What stays in Python: business-day arithmetic (the council calendar is not in the database)
and the funnel's median / 90th percentile over the stage durations the query returns.

Definitions (docs/import.md has the column reference for files):
- overdue milestone: not done and due before today (JST).
- board `overdue`: cases in the cell with at least one overdue milestone.
- funnel `reached`: cases with a transition (or import) event into the stage; lead time per
  stage: business days from the event entering it to the event leaving it, summed over
  re-entries (a plan revised and resubmitted counts all its planning days), for cases that
  have left the stage; cases still in a stage are not measured.
- budget (the council's 2/3 share, integer yen): `decided` = the plan-cost share of cases
  whose payment is decided plus the monitoring payments made; `paid` = payments made;
  `withheld` = the plan-cost half still held back until the first monitoring payment;
  `monitoring_remaining` = the monitoring share still to come for cases in monitoring,
  estimated from the estimates (2/3 of each estimate within its cap) less what was paid;
  `forecast` = withheld + monitoring_remaining; `pipeline` = the share of accepted cases not
  yet decided, from their estimates. The R6 re-use payment cap is not applied to forecasts.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, TypeVarTuple

from sqlalchemy import (
    ColumnElement,
    Integer,
    and_,
    case,
    cast,
    distinct,
    extract,
    func,
    literal,
    select,
    union_all,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from states.calendar import BusinessCalendar, fiscal_year_bounds
from states.programs import catalog
from storage.db import describe
from storage.models import Case, Company, Cost, Council, Event, Milestone, Officer, Payment
from workflow import access
from workflow.errors import InvalidInput, KaizenError, NotFound, StorageError
from workflow.exports import Column, Sheet
from workflow.reference import rule_versions
from workflow.views import Actor

if TYPE_CHECKING:
    from workflow.service import Kaizen

_Ts = TypeVarTuple("_Ts")

REPORTS = ("board", "overdue", "workload", "funnel", "budget")
ACTIVE_MONITORING = ("monitoring", "monitoring_claim")


@dataclass(frozen=True)
class Scope:
    """Who asks, for which council (None: every council) and 年度 (None: every year)."""

    actor: Actor
    council: str | None
    fiscal_year: int | None
    today: date


@dataclass(frozen=True)
class Report:
    kind: str
    title: str
    scope: Scope
    columns: tuple[Column, ...]
    rows: list[dict[str, Any]]
    councils: dict[str, str] = field(default_factory=dict)  # code -> name, for labels
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "report": self.kind,
            "today": self.scope.today,
            "council": self.scope.council,
            "fiscal_year": self.scope.fiscal_year,
            "rows": self.rows,
        }

    def filters(self) -> str:
        council = (
            f"{self.councils.get(self.scope.council, self.scope.council)} ({self.scope.council})"
            if self.scope.council
            else "全協議会"
        )
        fy = f"{self.scope.fiscal_year}年度" if self.scope.fiscal_year else "全年度"
        return f"{council}・{fy}・{self.scope.today} 現在"

    def sheet(self) -> Sheet:
        return Sheet(
            title=self.title,
            columns=self.columns,
            rows=self.rows,
            notes=(self.filters(), *self.notes),
            footer=(f"Kaizen {self.kind} report ({self.scope.actor.id})",),
        )


# ---------------------------------------------------------------- plumbing


@contextmanager
def _reading(k: Kaizen) -> Iterator[Session]:
    try:
        with k.db.reading() as s:
            yield s
    except KaizenError:
        raise
    except DBAPIError as e:
        raise StorageError(describe(e, k.db.url)) from None


def _scope(
    s: Session, k: Kaizen, actor_id: str, council: str | None, fiscal_year: int | None
) -> Scope:
    o = s.get(Officer, actor_id)
    if o is None or not o.active:
        # Same refusal as the engine's, through its public door.
        actor = k.whoami(actor_id)
    else:
        actor = Actor(o.id, o.name, o.role, o.council_code)
    if council is not None:
        council = council.strip()
        if s.get(Council, council) is None:
            raise NotFound(f"協議会 {council} が見つかりません ('kaizen council list')")
        access.require_council(actor, council)
    elif actor.role != "admin":
        council = actor.council
    if fiscal_year is not None and (
        isinstance(fiscal_year, bool) or not 2000 <= fiscal_year <= 2100
    ):
        raise InvalidInput(f"年度は 2000 から 2100 の整数です: {fiscal_year}")
    return Scope(actor, council, fiscal_year, k.today())


def _cases_in(q: Select[*_Ts], scope: Scope) -> Select[*_Ts]:
    """Restrict a query that joins `cases` to the scope's council and 年度."""
    if scope.council is not None:
        q = q.where(Case.council_code == scope.council)
    if scope.fiscal_year is not None:
        first, last = fiscal_year_bounds(scope.fiscal_year)
        q = q.where(Case.opened_on >= first, Case.opened_on <= last)
    return q


def case_fiscal_year() -> ColumnElement[int]:
    """年度 of `cases.opened_on` in SQL (April–March, named by the year it starts in)."""
    year = cast(extract("year", Case.opened_on), Integer)
    month = cast(extract("month", Case.opened_on), Integer)
    return case((month >= 4, year), else_=year - 1)


def _council_names(s: Session) -> dict[str, str]:
    return {code: name for code, name in s.execute(select(Council.code, Council.name))}


def _stage_order() -> dict[str, int]:
    return {sid: st.order for sid, st in catalog().stages.items()}


def _overdue_cases(today: date) -> Any:
    return (
        select(
            Milestone.case_id,
            func.count().label("n_items"),
            func.min(Milestone.due).label("oldest"),
        )
        .where(Milestone.done_on.is_(None), Milestone.due < today)
        .group_by(Milestone.case_id)
        .subquery("late")
    )


def _least(a: Any, b: Any) -> ColumnElement[Any]:
    return case((a < b, a), else_=b)


def _greatest0(a: ColumnElement[Any]) -> ColumnElement[Any]:
    return case((a > 0, a), else_=0)


# ---------------------------------------------------------------- board


def board(
    k: Kaizen, actor_id: str, *, council: str | None = None, fiscal_year: int | None = None
) -> Report:
    """Cases by council × stage, with the number of those that have an overdue milestone."""
    with _reading(k) as s:
        scope = _scope(s, k, actor_id, council, fiscal_year)
        # Two counts, each answered by an index, in one statement (one snapshot): the cells
        # from (council_code, stage) alone, the overdue cases by looking up only the cases
        # the partial open-milestone index names. (An outer join of every case to a per-case
        # aggregate read every case row and every milestone: 18x slower at 1M cases.)
        late_ids = select(Milestone.case_id).where(
            Milestone.done_on.is_(None), Milestone.due < scope.today
        )
        cell = (Case.council_code.label("council"), Case.stage.label("stage"))
        counts = _cases_in(
            select(*cell, func.count().label("n"), literal(0).label("late")).group_by(
                Case.council_code, Case.stage
            ),
            scope,
        )
        lates = _cases_in(
            select(*cell, literal(0).label("n"), func.count().label("late"))
            .where(Case.id.in_(late_ids))
            .group_by(Case.council_code, Case.stage),
            scope,
        )
        cells = union_all(counts, lates).subquery("cells")
        q = select(
            cells.c.council, cells.c.stage, func.sum(cells.c.n), func.sum(cells.c.late)
        ).group_by(cells.c.council, cells.c.stage)
        rows = s.execute(q).all()
        names = _council_names(s)
    order = _stage_order()
    cat = catalog()
    out = [
        {
            "council": code,
            "council_name": names.get(code, code),
            "stage": stage,
            "stage_label": cat.stage_label(stage),
            "count": int(n),
            "overdue": int(od),
        }
        for code, stage, n, od in sorted(rows, key=lambda r: (r[0], order.get(r[1], 99)))
    ]
    return Report(
        "board",
        "案件ボード (協議会 × 段階)",
        scope,
        (
            Column("council", "協議会コード"),
            Column("council_name", "協議会"),
            Column("stage", "段階ID"),
            Column("stage_label", "段階"),
            Column("count", "件数", "int"),
            Column("overdue", "期限超過の案件", "int"),
        ),
        out,
        names,
        ("期限超過: 未完了のマイルストーンが期限を過ぎている案件の数",),
    )


# ---------------------------------------------------------------- overdue


def overdue(
    k: Kaizen, actor_id: str, *, council: str | None = None, fiscal_year: int | None = None
) -> Report:
    """Every overdue milestone, oldest first, with its officer and business days late."""
    with _reading(k) as s:
        scope = _scope(s, k, actor_id, council, fiscal_year)
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
                Milestone.stage,
                Milestone.due,
            )
            .join(Case, Case.id == Milestone.case_id)
            .join(Company, Company.key == Case.company_key)
            .join(Officer, Officer.id == Case.officer_id)
            .where(Milestone.done_on.is_(None), Milestone.due < scope.today)
            .order_by(Milestone.due, Milestone.case_id, Milestone.key)
        )
        rows = s.execute(_cases_in(q, scope)).all()
        names = _council_names(s)
    cat = catalog()
    cal: BusinessCalendar = k.calendar
    # Many milestones share a due date: count each date's business days once.
    dues: set[date] = {r[10] for r in rows}
    late = {due: cal.business_days_between(due, scope.today) for due in dues}
    out = [
        {
            "case": cid,
            "council": code,
            "officer": officer,
            "officer_name": officer_name,
            "company": company,
            "company_name": company_name,
            "stage": stage,
            "stage_label": cat.stage_label(stage),
            "milestone": key,
            "milestone_label": label,
            "due": due,
            "days_late": late[due],
        }
        for (
            cid,
            code,
            officer,
            officer_name,
            company,
            company_name,
            stage,
            key,
            label,
            _mstage,
            due,
        ) in rows
    ]
    return Report(
        "overdue",
        "期限超過のマイルストーン (古い順)",
        scope,
        (
            Column("case", "案件番号"),
            Column("council", "協議会"),
            Column("officer", "担当者ID"),
            Column("officer_name", "担当者"),
            Column("company_name", "会社名"),
            Column("stage_label", "段階"),
            Column("milestone_label", "マイルストーン"),
            Column("due", "期限", "date"),
            Column("days_late", "超過営業日数", "int"),
        ),
        out,
        names,
        ("超過営業日数: 期限の翌日から今日までの営業日 (土日・祝日・年末年始を除く)",),
    )


# ---------------------------------------------------------------- workload


def workload(
    k: Kaizen, actor_id: str, *, council: str | None = None, fiscal_year: int | None = None
) -> Report:
    """Per officer: open cases, cases with overdue milestones, overdue milestones."""
    final = tuple(sid for sid, st in catalog().stages.items() if st.final)
    with _reading(k) as s:
        scope = _scope(s, k, actor_id, council, fiscal_year)
        late = _overdue_cases(scope.today)
        per = _cases_in(
            select(
                Case.officer_id.label("officer_id"),
                func.count().label("cases"),
                func.sum(case((Case.stage.not_in(final), 1), else_=0)).label("open"),
                func.count(late.c.case_id).label("overdue_cases"),
                func.coalesce(func.sum(late.c.n_items), 0).label("overdue_items"),
                func.min(late.c.oldest).label("oldest"),
            )
            .outerjoin(late, late.c.case_id == Case.id)
            .group_by(Case.officer_id),
            scope,
        ).subquery("per")
        mine = Officer.role != "admin"
        if scope.council is not None:
            mine = and_(mine, Officer.council_code == scope.council)
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
            )
            .outerjoin(per, per.c.officer_id == Officer.id)
            .where((per.c.officer_id.is_not(None)) | and_(mine, Officer.active.is_(True)))
            .order_by(Officer.council_code, Officer.id)
        )
        rows = s.execute(q).all()
        names = _council_names(s)
    out = [
        {
            "officer": oid,
            "officer_name": name,
            "council": code,
            "role": role,
            "role_label": access.ROLE_LABELS.get(role, role),
            "cases": int(n),
            "open_cases": int(open_),
            "overdue_cases": int(odc),
            "overdue_items": int(odi),
            "oldest_due": oldest,
        }
        for oid, name, code, role, n, open_, odc, odi, oldest in rows
    ]
    return Report(
        "workload",
        "担当者別の案件数と期限超過",
        scope,
        (
            Column("officer", "担当者ID"),
            Column("officer_name", "担当者"),
            Column("council", "協議会"),
            Column("role_label", "役割"),
            Column("cases", "案件数", "int"),
            Column("open_cases", "進行中", "int"),
            Column("overdue_cases", "期限超過の案件", "int"),
            Column("overdue_items", "期限超過の件数", "int"),
            Column("oldest_due", "最も古い超過期限", "date"),
        ),
        out,
        names,
        ("進行中: 完了・不受理・取下げ・中止を除く案件",),
    )


# ---------------------------------------------------------------- funnel


def quantile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile with linear interpolation between ranks (numpy's default, R type 7)."""
    if not values:
        return None
    xs = sorted(values)
    if len(xs) == 1:
        return float(xs[0])
    pos = (len(xs) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return float(xs[lo] + (xs[hi] - xs[lo]) * (pos - lo))


def funnel(
    k: Kaizen, actor_id: str, *, council: str | None = None, fiscal_year: int | None = None
) -> Report:
    """Per 年度: cases that reached each stage, and median / 90th-percentile days in it."""
    cat = catalog()
    final = {sid for sid, st in cat.stages.items() if st.final}
    with _reading(k) as s:
        scope = _scope(s, k, actor_id, council, fiscal_year)
        fy = case_fiscal_year().label("fy")
        moves = Event.kind != "fact"
        reached = s.execute(
            _cases_in(
                select(fy, Event.to_stage, func.count(distinct(Event.case_id)))
                .join(Case, Case.id == Event.case_id)
                .where(moves)
                .group_by(fy, Event.to_stage),
                scope,
            )
        ).all()
        cohort: dict[int, int] = {
            int(y): int(n)
            for y, n in s.execute(_cases_in(select(fy, func.count()).group_by(fy), scope))
        }
        steps = s.execute(
            _cases_in(
                select(fy, Event.case_id, Event.to_stage, Event.effective_on)
                .join(Case, Case.id == Event.case_id)
                .where(moves)
                .order_by(Event.case_id, Event.seq),
                scope,
            )
        ).all()
    counts = {(int(y), st): int(n) for y, st, n in reached}
    # Business days per (年度, stage), summed per case over re-entries.
    spent: dict[tuple[int, str], dict[str, int]] = {}
    prev: tuple[str, str, date] | None = None
    cal = k.calendar
    for y, cid, stage, on in steps:
        if prev is not None and prev[0] == cid:
            per_case = spent.setdefault((int(y), prev[1]), {})
            per_case[cid] = per_case.get(cid, 0) + cal.business_days_between(prev[2], on)
        prev = (cid, stage, on)
    years = sorted(int(y) for y in cohort)
    out = []
    for y in years:
        total = int(cohort[y])
        for sid, st in sorted(cat.stages.items(), key=lambda x: x[1].order):
            n = counts.get((y, sid), 0)
            days = list(spent.get((y, sid), {}).values()) if sid not in final else []
            med = quantile(days, 0.5)
            p90 = quantile(days, 0.9)
            out.append(
                {
                    "fiscal_year": y,
                    "stage": sid,
                    "stage_label": st.label,
                    "reached": n,
                    "rate": round(100.0 * n / total, 1) if total else 0.0,
                    "measured": len(days),
                    "median_days": None if med is None else round(med, 1),
                    "p90_days": None if p90 is None else round(p90, 1),
                }
            )
    return Report(
        "funnel",
        "段階別の到達件数と所要営業日数 (年度別)",
        scope,
        (
            Column("fiscal_year", "年度", "year"),
            Column("stage", "段階ID"),
            Column("stage_label", "段階"),
            Column("reached", "到達件数", "int"),
            Column("rate", "到達率", "percent"),
            Column("measured", "計測件数", "int"),
            Column("median_days", "中央値 (営業日)", "days"),
            Column("p90_days", "90%点 (営業日)", "days"),
        ),
        out,
        {},
        (
            "年度: 相談日の年度。到達率: その年度の案件のうち段階に到達した割合",
            "所要営業日数: 段階に入ってから出るまで (再提出は合算)。段階に留まっている案件は含みません",
        ),
    )


# ---------------------------------------------------------------- budget


def _caps_table(k: Kaizen) -> Any:
    """Every (rule version, program, track, category) with its phase, cap and rate, as SQL."""
    cat = catalog()
    selects = []
    for v in rule_versions(k.settings):
        num, den = v.rate
        for d in cat.definitions.values():
            for c in d.categories:
                selects.append(
                    select(
                        literal(v.id).label("rule_version"),
                        literal(d.program).label("program"),
                        literal(d.track).label("track"),
                        literal(c.id).label("category"),
                        literal(c.phase).label("phase"),
                        literal(v.cap(d.program, d.track, c.id)).label("cap"),
                        literal(num).label("num"),
                        literal(den).label("den"),
                    )
                )
    return union_all(*selects).subquery("caps")


def budget(
    k: Kaizen, actor_id: str, *, council: str | None = None, fiscal_year: int | None = None
) -> Report:
    """The council's 2/3 share per 年度, program and track: decided, paid and forecast."""
    cat = catalog()
    with _reading(k) as s:
        scope = _scope(s, k, actor_id, council, fiscal_year)
        caps = _caps_table(k)
        est_share = _least((Cost.estimate * caps.c.num) // caps.c.den, caps.c.cap)
        act_share = case(
            (
                and_(Cost.actual.is_not(None), Cost.estimate.is_not(None)),
                _least((_least(Cost.actual, Cost.estimate) * caps.c.num) // caps.c.den, caps.c.cap),
            ),
            else_=0,
        )
        plan = caps.c.phase == "plan"
        shares = (
            select(
                Cost.case_id.label("case_id"),
                func.sum(case((plan, act_share), else_=0)).label("plan_actual"),
                func.sum(case((plan, func.coalesce(est_share, 0)), else_=0)).label("plan_est"),
                func.sum(case((~plan, func.coalesce(est_share, 0)), else_=0)).label("mon_est"),
            )
            .join(Case, Case.id == Cost.case_id)
            .join(
                caps,
                and_(
                    caps.c.rule_version == Case.rule_version,
                    caps.c.program == Case.program,
                    caps.c.track == Case.track,
                    caps.c.category == Cost.category,
                ),
            )
            .group_by(Cost.case_id)
            .subquery("shares")
        )
        paid = (
            select(
                Payment.case_id.label("case_id"),
                func.sum(Payment.amount).label("total"),
                func.sum(case((Payment.kind != "monitoring", Payment.amount), else_=0)).label(
                    "plan"
                ),
                func.sum(case((Payment.kind == "monitoring", Payment.amount), else_=0)).label(
                    "mon"
                ),
            )
            .group_by(Payment.case_id)
            .subquery("paid")
        )
        plan_actual = func.coalesce(shares.c.plan_actual, 0)
        paid_total = func.coalesce(paid.c.total, 0)
        paid_plan = func.coalesce(paid.c.plan, 0)
        paid_mon = func.coalesce(paid.c.mon, 0)
        decided = Case.decided_on.is_not(None)
        held = and_(decided, Case.stage.not_in(("completed", "discontinued")))
        in_monitoring = and_(decided, Case.stage.in_(ACTIVE_MONITORING))
        final = tuple(sid for sid, st in cat.stages.items() if st.final)
        pending = and_(~decided, Case.accepted_on.is_not(None), Case.stage.not_in(final))
        withheld = case((held, _greatest0(plan_actual - paid_plan)), else_=0)
        mon_left = case(
            (in_monitoring, _greatest0(func.coalesce(shares.c.mon_est, 0) - paid_mon)), else_=0
        )
        fy = case_fiscal_year().label("fy")
        q = (
            select(
                fy,
                Case.program,
                Case.track,
                func.count().label("cases"),
                func.count(Case.decided_on).label("decided_cases"),
                func.sum(case((decided, plan_actual + paid_mon), else_=0)).label("decided"),
                func.sum(paid_total).label("paid"),
                func.sum(withheld).label("withheld"),
                func.sum(mon_left).label("monitoring_remaining"),
                func.sum(
                    case(
                        (
                            pending,
                            func.coalesce(shares.c.plan_est, 0)
                            + func.coalesce(shares.c.mon_est, 0),
                        ),
                        else_=0,
                    )
                ).label("pipeline"),
            )
            .outerjoin(shares, shares.c.case_id == Case.id)
            .outerjoin(paid, paid.c.case_id == Case.id)
            .group_by(fy, Case.program, Case.track)
            .order_by(fy, Case.program, Case.track)
        )
        rows = s.execute(_cases_in(q, scope)).all()
        names = _council_names(s)
    out = []
    for y, program, track, n, nd, dec, pd, wh, ml, pipe in rows:
        wh_i, ml_i = int(wh or 0), int(ml or 0)
        out.append(
            {
                "fiscal_year": int(y),
                "program": program,
                "program_label": cat.programs[program].short
                if program in cat.programs
                else program,
                "track": track,
                "track_label": cat.track_labels.get(track, track),
                "cases": int(n),
                "decided_cases": int(nd),
                "decided": int(dec or 0),
                "paid": int(pd or 0),
                "withheld": wh_i,
                "monitoring_remaining": ml_i,
                "forecast": wh_i + ml_i,
                "pipeline": int(pipe or 0),
            }
        )
    return Report(
        "budget",
        "協議会の補助 (2/3) 年度別・事業別",
        scope,
        (
            Column("fiscal_year", "年度", "year"),
            Column("program_label", "事業"),
            Column("track_label", "枠"),
            Column("cases", "案件数", "int"),
            Column("decided_cases", "支払決定済", "int"),
            Column("decided", "決定額", "yen"),
            Column("paid", "支払済額", "yen"),
            Column("withheld", "留保 (計画策定費の残り半額)", "yen"),
            Column("monitoring_remaining", "伴走支援の残り (見積)", "yen"),
            Column("forecast", "今後の支払見込", "yen"),
            Column("pipeline", "支払決定前の見込 (見積)", "yen"),
        ),
        out,
        names,
        (
            "年度: 相談日の年度。金額は円 (2/3・区分ごとの上限・円未満切捨て)",
            "今後の支払見込 = 留保 + 伴走支援の残り。支払決定前の見込は受付済・未決定の案件の見積から",
        ),
    )


RUNNERS = {
    "board": board,
    "overdue": overdue,
    "workload": workload,
    "funnel": funnel,
    "budget": budget,
}


def run(
    name: str,
    k: Kaizen,
    actor_id: str,
    *,
    council: str | None = None,
    fiscal_year: int | None = None,
) -> Report:
    if name not in RUNNERS:
        raise InvalidInput(f"不明なレポート '{name}': {', '.join(REPORTS)}")
    return RUNNERS[name](k, actor_id, council=council, fiscal_year=fiscal_year)


__all__ = ["REPORTS", "Report", "Scope", "quantile", "run", *REPORTS]

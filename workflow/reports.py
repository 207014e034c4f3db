"""The morning reports: board, overdue, workload, funnel and budget, as SQL aggregates.

Each report asks `storage/queries/reports.py` for one or two SQL aggregates (grouped and
joined in the database, never a loop over ORM objects), filtered by council and by 年度 — the
fiscal year (April–March) of the case's first consultation (`opened_on`) — and scoped by
access here: an officer or supervisor sees their own council, an admin every council
(design.md §8). Labels and the rule data the SQL needs (caps, rates) come from `states`.

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
  yet decided, from their estimates. For a re-use exception under a rule version with a
  payment cap over all uses (R6/R7 405: ¥3,000,000), what is still to come is cut to the room
  the engine would pay (`Kaizen.subsidy`'s `payment_room`), withheld first.

The money rule (2/3 within each category's cap, the room) must exist in SQL here to stay an
aggregate over a million cases; tests/workflow/test_budget_rule.py proves, case by case over a
whole demo database on both backends, that it equals the engine's Python rule.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from states.calendar import BusinessCalendar
from states.programs import catalog
from storage.queries import reports as sql
from storage.queries.people import active_officer
from workflow import access
from workflow.dberrors import translate_errors
from workflow.errors import InvalidInput, NotFound
from workflow.exports import Column, Sheet
from workflow.reference import rule_versions
from workflow.views import Actor

if TYPE_CHECKING:
    from workflow.service import Kaizen

REPORTS = ("board", "overdue", "workload", "funnel", "budget")


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
    with translate_errors(k.db), k.db.reading() as s:
        yield s


def _scope(
    s: Session, k: Kaizen, actor_id: str, council: str | None, fiscal_year: int | None
) -> Scope:
    o = active_officer(s, actor_id)  # in the report's own snapshot: no second connection
    # An unknown or inactive officer: the engine's own refusal, through its public door.
    actor = k.whoami(actor_id) if o is None else Actor(o.id, o.name, o.role, o.council)
    if council is not None:
        council = council.strip()
        if not sql.council_exists(s, council):
            raise NotFound(f"協議会 {council} が見つかりません ('kaizen council list')")
        access.require_council(actor, council)
    elif actor.role != "admin":
        council = actor.council
    if fiscal_year is not None and (
        isinstance(fiscal_year, bool) or not 2000 <= fiscal_year <= 2100
    ):
        raise InvalidInput(f"年度は 2000 から 2100 の整数です: {fiscal_year}")
    return Scope(actor, council, fiscal_year, k.today())


def _filter(scope: Scope) -> sql.CaseFilter:
    return sql.CaseFilter(scope.council, scope.fiscal_year)


def _stage_order() -> dict[str, int]:
    return {sid: st.order for sid, st in catalog().stages.items()}


# ---------------------------------------------------------------- board


def board(
    k: Kaizen, actor_id: str, *, council: str | None = None, fiscal_year: int | None = None
) -> Report:
    """Cases by council × stage, with the number of those that have an overdue milestone."""
    with _reading(k) as s:
        scope = _scope(s, k, actor_id, council, fiscal_year)
        rows = sql.board_cells(s, _filter(scope), scope.today)
        names = sql.council_names(s)
    order = _stage_order()
    cat = catalog()
    out = [
        {
            "council": r.council,
            "council_name": names.get(r.council, r.council),
            "stage": r.stage,
            "stage_label": cat.stage_label(r.stage),
            "count": r.cases,
            "overdue": r.overdue,
        }
        for r in sorted(rows, key=lambda r: (r.council, order.get(r.stage, 99)))
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
        rows = sql.overdue_milestones(s, _filter(scope), scope.today)
        names = sql.council_names(s)
    cat = catalog()
    cal: BusinessCalendar = k.calendar
    # Many milestones share a due date: count each date's business days once.
    late = {due: cal.business_days_between(due, scope.today) for due in {r.due for r in rows}}
    out = [
        {
            "case": cid,
            "council": code,
            "officer": officer,
            "officer_name": officer_name,
            "company": company,
            "company_name": company_name,
            "stage": stage,
            # A 405 application past its validity is lapsed (rules.md §5), whatever its stage.
            "stage_label": "失効" if key == "application_lapse" else cat.stage_label(stage),
            "milestone": key,
            "milestone_label": label,
            "due": due,
            "days_late": late[due],
        }
        # unpacked, not by attribute: ~5,000 rows per report at 1M cases
        for cid, code, officer, officer_name, company, company_name, stage, key, label, due in rows
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
    with _reading(k) as s:
        scope = _scope(s, k, actor_id, council, fiscal_year)
        rows = sql.officer_loads(s, _filter(scope), scope.today)
        names = sql.council_names(s)
    out = [
        {
            "officer": r.officer,
            "officer_name": r.officer_name,
            "council": r.council,
            "role": r.role,
            "role_label": access.ROLE_LABELS.get(r.role, r.role),
            "cases": r.cases,
            "open_cases": r.open_cases,
            "overdue_cases": r.overdue_cases,
            "overdue_items": r.overdue_items,
            "oldest_due": r.oldest_due,
            "active": r.active,
            "needs_reassignment": not r.active and r.open_cases > 0,
            "reassign": "要引継ぎ" if not r.active and r.open_cases > 0 else "",
        }
        for r in rows
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
            Column("reassign", "引継ぎ"),
        ),
        out,
        names,
        (
            "進行中: 完了・不受理・取下げ・中止を除く案件",
            "要引継ぎ: 無効 (inactive) の担当者の進行中の案件 ('kaizen case edit --officer')",
        ),
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
        data = sql.funnel_data(s, _filter(scope))
    cohort, counts = data.cohort, data.reached
    # Business days per (年度, stage), summed per case over re-entries.
    spent: dict[tuple[int, str], dict[str, int]] = {}
    prev: tuple[str, str, date] | None = None
    cal = k.calendar
    for y, cid, stage, on in data.steps:
        if prev is not None and prev[0] == cid:
            per_case = spent.setdefault((y, prev[1]), {})
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


def budget_rules(k: Kaizen) -> tuple[list[sql.CapRow], list[sql.ReuseCap]]:
    """The rule data the budget's SQL needs: every cap and rate, and the re-use payment caps."""
    cat = catalog()
    caps: list[sql.CapRow] = []
    reuse: list[sql.ReuseCap] = []
    for v in rule_versions(k.settings):
        num, den = v.rate
        for d in cat.definitions.values():
            caps += [
                sql.CapRow(
                    v.id,
                    d.program,
                    d.track,
                    c.id,
                    c.phase,
                    v.cap(d.program, d.track, c.id),
                    num,
                    den,
                )
                for c in d.categories
            ]
        for program in cat.programs:
            total = v.reuse(program).payment_cap_total
            if total is not None:
                reuse.append(sql.ReuseCap(v.id, program, total))
    return caps, reuse


def budget_cases(
    k: Kaizen, actor_id: str, *, council: str | None = None, fiscal_year: int | None = None
) -> list[sql.CaseBudget]:
    """The budget's figures case by case (what `budget` adds up per 年度, program, track)."""
    with _reading(k) as s:
        scope = _scope(s, k, actor_id, council, fiscal_year)
        return sql.budget_cases(s, _filter(scope), *budget_rules(k))


def budget(
    k: Kaizen, actor_id: str, *, council: str | None = None, fiscal_year: int | None = None
) -> Report:
    """The council's 2/3 share per 年度, program and track: decided, paid and forecast."""
    cat = catalog()
    with _reading(k) as s:
        scope = _scope(s, k, actor_id, council, fiscal_year)
        rows = sql.budget_groups(s, _filter(scope), *budget_rules(k))
        names = sql.council_names(s)
    out = [
        {
            "fiscal_year": r.fiscal_year,
            "program": r.program,
            "program_label": cat.programs[r.program].short
            if r.program in cat.programs
            else r.program,
            "track": r.track,
            "track_label": cat.track_labels.get(r.track, r.track),
            "cases": r.cases,
            "decided_cases": r.decided_cases,
            "decided": r.decided,
            "paid": r.paid,
            "withheld": r.withheld,
            "monitoring_remaining": r.monitoring_remaining,
            "forecast": r.withheld + r.monitoring_remaining,
            "pipeline": r.pipeline,
        }
        for r in rows
    ]
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

"""`kaizen export cases`: every case the actor may see, in the import's columns."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from states.calendar import fiscal_year_bounds
from states.programs import catalog
from storage.models import (
    Case,
    Company,
    Cost,
    Council,
    Event,
    Lender,
    MonitoringReport,
    Payment,
    PriorUse,
)
from workflow import access, store
from workflow.errors import InvalidInput, NotFound
from workflow.exports import Progress, Sheet, format_for, write
from workflow.inputs import cause_text
from workflow.sheet import COLUMNS, main_line
from workflow.tx import read

if TYPE_CHECKING:
    from workflow.service import Kaizen

# ---------------------------------------------------------------- export


@dataclass(frozen=True)
class ExportResult:
    file: str
    format: str
    rows: int


def case_sheet(
    k: Kaizen, actor_id: str, *, council: str | None = None, fiscal_year_: int | None = None
) -> Sheet:
    """Every case the actor may see, in the import's columns (one query per table)."""
    with read(k) as s:
        actor = store.actor(s, actor_id)
        q = select(Case).order_by(Case.id)
        if council is not None:
            if s.get(Council, council) is None:
                raise NotFound(f"協議会 {council} が見つかりません")
            access.require_council(actor, council)
            q = q.where(Case.council_code == council)
        elif actor.role != "admin":
            q = q.where(Case.council_code == actor.council)
        if fiscal_year_ is not None:
            first, last = fiscal_year_bounds(fiscal_year_)
            q = q.where(Case.opened_on >= first, Case.opened_on <= last)
        cases = list(s.scalars(q))
        ids = [c.id for c in cases]
        keys = {c.company_key for c in cases}
        companies = {c.key: c for c in s.scalars(select(Company).where(Company.key.in_(keys)))}
        priors: dict[str, list[PriorUse]] = {}
        for u in s.scalars(
            select(PriorUse).where(PriorUse.company_key.in_(keys)).order_by(PriorUse.id)
        ):
            priors.setdefault(u.company_key, []).append(u)
        lenders = _group(
            s.scalars(select(Lender).where(Lender.case_id.in_(ids)).order_by(Lender.id))
        )
        costs = _group(s.scalars(select(Cost).where(Cost.case_id.in_(ids)).order_by(Cost.category)))
        # A payment a revert reversed (issue 12) is not in the history a file replays.
        reversals = Counter(
            (p.case_id, p.kind, p.period)
            for p in s.scalars(select(Payment).where(Payment.case_id.in_(ids), Payment.reversal))
        )
        pays = _group(
            p
            for p in s.scalars(select(Payment).where(Payment.case_id.in_(ids)).order_by(Payment.id))
            if not p.reversal and not _reversed(p, reversals)
        )
        reps = _group(
            s.scalars(
                select(MonitoringReport)
                .where(MonitoringReport.case_id.in_(ids))
                .order_by(MonitoringReport.period)
            )
        )
        events = _group(
            standing(
                s.scalars(
                    select(Event)
                    .where(Event.case_id.in_(ids), Event.kind != "fact")
                    .order_by(Event.case_id, Event.seq)
                )
            )
        )
    cat = catalog()
    rows = [
        _export_row(
            c,
            companies[c.company_key],
            priors.get(c.company_key, []),
            lenders.get(c.id, []),
            costs.get(c.id, []),
            pays.get(c.id, []),
            reps.get(c.id, []),
            events.get(c.id, []),
            cat,
        )
        for c in cases
    ]
    return Sheet(
        title="案件一覧 (取込形式)",
        columns=COLUMNS,
        rows=rows,
        notes=(f"Kaizen の案件 {len(rows)}件 (docs/import.md の列)",),
    )


def _group(items: Iterable[Any]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for x in items:
        out.setdefault(x.case_id, []).append(x)
    return out


def _d(v: date | None) -> str:
    return v.isoformat() if v else ""


def _export_row(
    c: Case,
    co: Company,
    priors: list[PriorUse],
    lenders: list[Lender],
    costs: list[Cost],
    pays: list[Payment],
    reps: list[MonitoringReport],
    events: list[Event],
    cat: Any,
) -> dict[str, Any]:
    first: dict[str, Event] = {}
    for e in events:
        first.setdefault(e.trigger, e)
    claims = [e for e in events if e.trigger == "claim_monitoring"]
    paid = [e for e in events if e.trigger in ("pay_monitoring", "complete")]
    periods = []
    for i, rep in enumerate(reps):
        parts = [rep.reported_on.isoformat()]
        if i < len(claims):
            parts.append(claims[i].effective_on.isoformat())
            if i < len(paid):
                parts.append(paid[i].effective_on.isoformat())
        periods.append("/".join(parts))
    closing = next(
        (e for e in reversed(events) if e.trigger in ("reject", "withdraw", "discontinue")), None
    )
    accept = first.get("accept")
    # The steps of the straight path to where the case is (or was, when it closed): a plan
    # sent back by the lenders (計画修正) is in planning again, without its first submission.
    line = main_line(cat.definition(c.program, c.track))
    where = closing.from_stage if closing and closing.from_stage else c.stage
    reached = {st: i for i, (_, st) in enumerate(line, 1)}.get(
        where, len(line) if where in ("monitoring", "monitoring_claim", "completed") else 0
    )
    taken = {t for t, _ in line[:reached]}

    def on(trigger: str) -> date | None:
        e = first.get(trigger)
        return e.effective_on if e and trigger in taken else None

    def cost(x: Cost) -> str:
        text = f"{x.category}={x.estimate if x.estimate is not None else 0}"
        if x.actual is not None:
            text += f"/{x.actual}" + (f"@{x.paid_on.isoformat()}" if x.paid_on else "")
        return text

    return {
        "case_id": c.id,
        "council": c.council_code,
        "officer": c.officer_id,
        "program": c.program,
        "track": c.track,
        "stage": cat.stage_label(c.stage),
        "rule_version": c.rule_version or "",
        "company": co.key,
        "company_name": co.name,
        "fiscal_year_end": co.fiscal_year_end,
        "industry": co.industry,
        "capital": co.capital,
        "employees": co.employees,
        "legal_form": co.legal_form,
        "prior_uses": "; ".join(
            f"{u.program}{'/' + u.track if u.track else ''}:{u.fiscal_year}:{u.paid}"
            for u in priors
        ),
        "advisor": c.advisor,
        "affected": cause_text(tuple(x for x in c.affected.split(",") if x), c.affected_note),
        "interim_monitoring": c.interim_monitoring,
        "guarantee_release": c.guarantee_release,
        "reuse_reason": c.reuse_reason or "",
        "accepted_by": accept.actor if accept and accept.actor != c.officer_id else "",
        "certificate_issued": c.certificate_issued,
        "opened_on": c.opened_on,
        "applied_on": c.applied_on,
        "accepted_on": c.accepted_on,
        "planning_on": on("start_planning"),
        "plan_recorded": c.plan_recorded,
        "submitted_on": on("submit_plan"),
        "agreed_on": c.agreed_on,
        "decided_on": c.decided_on,
        "valid_until": c.valid_until,
        "lenders": "; ".join(
            x.name + (f"@{x.consented_on.isoformat()}" if x.consented_on else "") for x in lenders
        ),
        "costs": "; ".join(cost(x) for x in costs),
        "monitoring": "; ".join(periods),
        "payments": "; ".join(
            f"{p.kind}{'#' + str(p.period) if p.period else ''}={p.amount}@{p.paid_on.isoformat()}"
            for p in pays
        ),
        "closed_on": closing.effective_on if closing else (on("complete")),
        "closed_reason": closing.reason or "" if closing else "",
    }


def export_cases(
    k: Kaizen,
    actor_id: str,
    path: Path,
    *,
    council: str | None = None,
    fiscal_year_: int | None = None,
    progress: Progress | None = None,
) -> ExportResult:
    """Write the cases as CSV or XLSX (by the suffix), in the import's columns."""
    if path.suffix.lower() not in (".csv", ".xlsx"):
        raise InvalidInput(f"案件の書き出しは .csv か .xlsx です: {path.name}")
    fmt = format_for(path)
    sheet = case_sheet(k, actor_id, council=council, fiscal_year_=fiscal_year_)
    write(sheet, path, progress)
    return ExportResult(path.name, fmt, len(sheet.rows))


def standing(events: Iterable[Event]) -> list[Event]:
    """The moves that stand: corrections and the transitions they reverted left out."""
    rows = list(events)
    reverted = {(e.case_id, store.reverted_seq(e.detail)) for e in rows if e.kind == "correction"}
    return [e for e in rows if e.kind != "correction" and (e.case_id, e.seq) not in reverted]


def _reversed(p: Payment, reversals: Counter[tuple[str, str, int | None]]) -> bool:
    """Whether a payment was reversed (each reversal undoes the one before it of its kind)."""
    key = (p.case_id, p.kind, p.period)
    if reversals[key] > 0:
        reversals[key] -= 1
        return True
    return False

"""The reads of `kaizen doctor`: every row its checks look at, as plain tuples, in one snapshot.

`council=None` reads every council's cases (and finds rows whose case is missing); a council
code reads only that council's cases and their rows. The re-use check also needs the firms'
other uses, whatever council filed them: `company_uses` reads those.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import Case, Cost, Event, Milestone, Officer, Payment, PriorUse, Reminder


class CaseRow(NamedTuple):
    id: str
    program: str
    track: str
    stage: str
    rule_version: str | None
    company_key: str
    council: str
    applied_on: date | None
    accepted_on: date | None
    affected: str
    reuse_reason: str | None


class EventRow(NamedTuple):
    case_id: str
    seq: int
    kind: str
    trigger: str
    from_stage: str | None
    to_stage: str
    effective_on: date
    actor: str
    recorded_at: datetime


class PaymentRow(NamedTuple):
    case_id: str
    kind: str
    amount: int


class CostRow(NamedTuple):
    case_id: str
    category: str
    estimate: int | None
    actual: int | None


class OpenWork(NamedTuple):
    """An open milestone (id None) or a pending reminder (its id), with its case's stage."""

    case_id: str
    what: str  # milestone key, or reminder id as text
    reminder: bool
    stage: str | None  # None: the case is missing


class UseRow(NamedTuple):
    """A recorded prior use (case None) or an accepted case of a firm, with what it was paid."""

    company_key: str
    program: str
    track: str | None
    fiscal_year: int | None  # prior uses: their 年度; cases: None (see accepted_on)
    accepted_on: date | None
    paid: int
    source_id: str  # the prior use's id, or the case's id
    case: bool


def _of(q: Any, council: str | None, case_col: Any) -> Any:
    """Restrict a query over a table with a case id to one council's cases."""
    if council is None:
        return q
    return q.where(
        case_col.in_(select(Case.id).where(Case.council_code == council).scalar_subquery())
    )


def cases(s: Session, council: str | None) -> list[CaseRow]:
    q = select(
        Case.id,
        Case.program,
        Case.track,
        Case.stage,
        Case.rule_version,
        Case.company_key,
        Case.council_code,
        Case.applied_on,
        Case.accepted_on,
        Case.affected,
        Case.reuse_reason,
    )
    if council is not None:
        q = q.where(Case.council_code == council)
    return [CaseRow._make(r) for r in s.execute(q.order_by(Case.id))]


def events(s: Session, council: str | None) -> list[EventRow]:
    q = select(
        Event.case_id,
        Event.seq,
        Event.kind,
        Event.trigger,
        Event.from_stage,
        Event.to_stage,
        Event.effective_on,
        Event.actor,
        Event.recorded_at,
    ).order_by(Event.case_id, Event.seq)
    return [EventRow._make(r) for r in s.execute(_of(q, council, Event.case_id))]


def officer_roles(s: Session) -> dict[str, str]:
    return {oid: role for oid, role in s.execute(select(Officer.id, Officer.role))}


def open_work(s: Session, council: str | None) -> list[OpenWork]:
    """Open milestones, then pending reminders, each with its case's stage (outer joined)."""
    ms = _of(
        select(Milestone.case_id, Milestone.key, Case.stage)
        .outerjoin(Case, Case.id == Milestone.case_id)
        .where(Milestone.done_on.is_(None))
        .order_by(Milestone.id),
        council,
        Milestone.case_id,
    )
    rs = _of(
        select(Reminder.case_id, Reminder.id, Case.stage)
        .outerjoin(Case, Case.id == Reminder.case_id)
        .where(Reminder.status == "pending")
        .order_by(Reminder.id),
        council,
        Reminder.case_id,
    )
    return [OpenWork(cid, key, False, st) for cid, key, st in s.execute(ms)] + [
        OpenWork(cid, str(rid), True, st) for cid, rid, st in s.execute(rs)
    ]


def payments(s: Session, council: str | None) -> list[PaymentRow]:
    q = select(Payment.case_id, Payment.kind, Payment.amount).order_by(Payment.id)
    return [PaymentRow._make(r) for r in s.execute(_of(q, council, Payment.case_id))]


def costs(s: Session, council: str | None) -> list[CostRow]:
    q = select(Cost.case_id, Cost.category, Cost.estimate, Cost.actual)
    return [CostRow._make(r) for r in s.execute(_of(q, council, Cost.case_id))]


def company_uses(s: Session, companies: Collection[str] | None) -> list[UseRow]:
    """Prior uses and accepted cases (with their payments) of these firms (None: all)."""
    prior = select(
        PriorUse.company_key,
        PriorUse.program,
        PriorUse.track,
        PriorUse.fiscal_year,
        PriorUse.paid,
        PriorUse.id,
    ).order_by(PriorUse.id)
    paid = (
        select(Payment.case_id, func.sum(Payment.amount).label("paid"))
        .group_by(Payment.case_id)
        .subquery("paid")
    )
    accepted = (
        select(
            Case.company_key,
            Case.program,
            Case.track,
            Case.accepted_on,
            func.coalesce(paid.c.paid, 0),
            Case.id,
        )
        .outerjoin(paid, paid.c.case_id == Case.id)
        .where(Case.accepted_on.is_not(None))
        .order_by(Case.accepted_on, Case.id)
    )
    if companies is not None:
        keys = sorted(companies)
        prior = prior.where(PriorUse.company_key.in_(keys))
        accepted = accepted.where(Case.company_key.in_(keys))
    out = [
        UseRow(key, prog, track, fy, None, int(yen), str(pid), False)
        for key, prog, track, fy, yen, pid in s.execute(prior)
    ]
    out += [
        UseRow(key, prog, track, None, on, int(yen), cid, True)
        for key, prog, track, on, yen, cid in s.execute(accepted)
    ]
    return out


def corrections(s: Session, council: str | None) -> list[tuple[str, str | None]]:
    """(case id, detail JSON) of every `correction` event (a revert names the move it undoes)."""
    q = select(Event.case_id, Event.detail).where(Event.kind == "correction").order_by(Event.id)
    return [(cid, detail) for cid, detail in s.execute(_of(q, council, Event.case_id))]


def payment_kinds(s: Session, council: str | None) -> list[tuple[str, str, int | None, int]]:
    """(case id, kind, period, net amount) of the payments, reversals included."""
    q = (
        select(Payment.case_id, Payment.kind, Payment.period, func.sum(Payment.amount))
        .group_by(Payment.case_id, Payment.kind, Payment.period)
        .order_by(Payment.case_id, Payment.kind, Payment.period)
    )
    return [(c, k, p, int(n)) for c, k, p, n in s.execute(_of(q, council, Payment.case_id))]


def live_case_ids(s: Session, council: str | None, finals: Collection[str]) -> list[str]:
    q = select(Case.id).where(Case.stage.not_in(sorted(finals))).order_by(Case.id)
    if council is not None:
        q = q.where(Case.council_code == council)
    return list(s.scalars(q))

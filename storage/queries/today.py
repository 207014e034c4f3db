"""The SQL of `kaizen today`: open milestones due soon, and cases waiting on someone else."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import NamedTuple

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from storage.models import Case, Company, Lender, Milestone, MonitoringReport


class Scope(NamedTuple):
    """Whose cases: one officer's, one council's, or (both None) every council's."""

    officer: str | None
    council: str | None


class DueRow(NamedTuple):
    case: str
    company: str
    program: str
    track: str
    case_stage: str
    officer: str
    key: str
    label: str
    due: date
    stage: str  # the milestone's


class WaitingRow(NamedTuple):
    case: str
    company: str
    program: str
    track: str
    stage: str
    officer: str
    reuse_exception: bool
    periods_paid: int
    reports: int
    report_due: date | None  # the earliest open monitoring report's due date


# What every line shows of its case.
_CASE = (Case.id, Company.name, Case.program, Case.track, Case.stage, Case.officer_id)


def _within(scope: Scope) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if scope.officer is not None:
        where.append(Case.officer_id == scope.officer)
    if scope.council is not None:
        where.append(Case.council_code == scope.council)
    return where


def due_by(s: Session, scope: Scope, until: date, final_stages: Sequence[str]) -> list[DueRow]:
    """Open milestones of open cases due on or before `until` (overdue ones too), by due date."""
    q = (
        select(
            *_CASE,
            Milestone.key,
            Milestone.label,
            Milestone.due,
            Milestone.stage,
        )
        .join(Case, Case.id == Milestone.case_id)
        .join(Company, Company.key == Case.company_key)
        .where(
            Milestone.done_on.is_(None),
            Milestone.due <= until,
            Case.stage.not_in(final_stages),
            *_within(scope),
        )
        .order_by(Milestone.due, Case.id, Milestone.key)
    )
    return [
        DueRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9]) for r in s.execute(q)
    ]


def waiting(s: Session, scope: Scope, stages: Sequence[str]) -> list[WaitingRow]:
    """Cases at `stages`, with what tells whom they wait on: the re-use exception flag, the
    monitoring periods paid and the reports recorded."""
    reports = (
        select(MonitoringReport.case_id, func.count().label("n"))
        .group_by(MonitoringReport.case_id)
        .subquery()
    )
    report_due = (
        select(Milestone.case_id, func.min(Milestone.due).label("due"))
        .where(
            Milestone.done_on.is_(None),
            Milestone.stage == "monitoring",
            Milestone.key.startswith("monitoring", autoescape=True),
            ~Milestone.key.endswith("_claim", autoescape=True),
        )
        .group_by(Milestone.case_id)
        .subquery()
    )
    q = (
        select(
            *_CASE,
            Case.reuse_exception,
            Case.periods_paid,
            func.coalesce(reports.c.n, 0),
            report_due.c.due,
        )
        .join(Company, Company.key == Case.company_key)
        .outerjoin(reports, reports.c.case_id == Case.id)
        .outerjoin(report_due, report_due.c.case_id == Case.id)
        .where(Case.stage.in_(stages), *_within(scope))
        .order_by(Case.id)
    )
    return [
        WaitingRow(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6]), int(r[7]), int(r[8]), r[9])
        for r in s.execute(q)
    ]


def lenders_without_consent(s: Session, case_ids: Sequence[str]) -> dict[str, list[str]]:
    """The lenders (in the order added) that have not consented, per case."""
    out: dict[str, list[str]] = {}
    if not case_ids:
        return out
    q = (
        select(Lender.case_id, Lender.name)
        .where(Lender.case_id.in_(case_ids), Lender.consented_on.is_(None))
        .order_by(Lender.case_id, Lender.id)
    )
    for case_id, name in s.execute(q):
        out.setdefault(case_id, []).append(name)
    return out

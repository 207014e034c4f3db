"""The SQL of `case list`: filters, search, the next-due order and paging, in one statement."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session

from storage.models import Case, Company, Milestone


@dataclass(frozen=True)
class CaseFilter:
    """What `case list` asks for; None and False mean "any"."""

    council: str | None = None
    stage: str | None = None
    officer: str | None = None
    overdue: bool = False
    open_only: bool = False  # leave out the final stages
    search: str | None = None  # company name, 法人番号, case id or advisor (a part of any)
    by_due: bool = False  # next due date first (cases with none last), else by id
    limit: int | None = None
    offset: int = 0


class CaseListRow(NamedTuple):
    id: str
    program: str
    track: str
    stage: str
    council: str
    company: str
    company_name: str
    officer: str
    advisor: str
    next_due: date | None
    overdue: int
    lapsed: bool


def search_terms(text: str) -> list[str]:
    """The words of a search, NFKC-folded and lower case; every word must match."""
    return unicodedata.normalize("NFKC", text).lower().split()


def number_part(word: str) -> str:
    """A 法人番号 as typed with hyphens (`7-0000-1205-0002`), without them."""
    return re.sub(r"(?<=\d)[-‐ー−](?=\d)", "", word)


def _matches(word: str) -> ColumnElement[bool]:
    """A part of the company name, case id or advisor, or of the 法人番号 (typed with
    hyphens or without)."""
    digits = number_part(word)
    return or_(
        *(
            func.lower(col).contains(word, autoescape=True)
            for col in (Company.name, Case.id, Case.advisor)
        ),
        Case.company_key.contains(digits, autoescape=True),
    )


def case_rows(
    s: Session,
    f: CaseFilter,
    *,
    today: date,
    final_stages: Sequence[str],
    lapsing_stages: Sequence[str],
) -> list[CaseListRow]:
    """The cases of `f`, each with its next open milestone's due date and how many are late."""
    pending = (
        select(
            Milestone.case_id,
            func.min(Milestone.due).label("next"),
            func.sum(case((Milestone.due < today, 1), else_=0)).label("late"),
        )
        .where(Milestone.done_on.is_(None))
        .group_by(Milestone.case_id)
        .subquery()
    )
    late = func.coalesce(pending.c.late, 0)
    lapsed = and_(Case.program == "405", Case.valid_until < today, Case.stage.in_(lapsing_stages))
    q = (
        select(
            Case.id,
            Case.program,
            Case.track,
            Case.stage,
            Case.council_code,
            Case.company_key,
            Company.name,
            Case.officer_id,
            Case.advisor,
            pending.c.next,
            late,
            lapsed,
        )
        .join(Company, Company.key == Case.company_key)
        .outerjoin(pending, pending.c.case_id == Case.id)
    )
    if f.council is not None:
        q = q.where(Case.council_code == f.council)
    if f.stage is not None:
        q = q.where(Case.stage == f.stage)
    if f.officer is not None:
        q = q.where(Case.officer_id == f.officer)
    if f.overdue:
        q = q.where(late > 0)
    if f.open_only:
        q = q.where(Case.stage.not_in(final_stages))
    for word in search_terms(f.search or ""):
        q = q.where(_matches(word))
    if f.by_due:
        q = q.order_by(pending.c.next.is_(None), pending.c.next, Case.id)
    else:
        q = q.order_by(Case.id)
    if f.limit is not None:
        q = q.limit(f.limit)
    if f.offset:
        q = q.offset(f.offset)
    return [
        CaseListRow(
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            r[6],
            r[7],
            r[8] or "",
            r[9],
            int(r[10]),
            bool(r[11]),
        )
        for r in s.execute(q)
    ]

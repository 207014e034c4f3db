"""The SQL of `company list`: companies found by a part of their name or 法人番号, with how
many cases (and open cases) each has in the councils asked about."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from storage.models import Case, Company
from storage.queries.cases import number_part, search_terms


class CompanyRow(NamedTuple):
    key: str
    name: str
    industry: str
    fiscal_year_end: int
    cases: int
    open_cases: int


def company_rows(
    s: Session,
    *,
    search: str | None,
    council: str | None,
    final_stages: Sequence[str],
    limit: int | None = None,
    offset: int = 0,
) -> list[CompanyRow]:
    """Companies by name; each word of `search` must be a part of the name or the number.
    Cases are counted in `council` only (None: every council)."""
    counted = select(
        Case.company_key,
        func.count().label("n"),
        func.sum(case((Case.stage.in_(final_stages), 0), else_=1)).label("open"),
    )
    if council is not None:
        counted = counted.where(Case.council_code == council)
    per = counted.group_by(Case.company_key).subquery()
    q = (
        select(
            Company.key,
            Company.name,
            Company.industry,
            Company.fiscal_year_end,
            func.coalesce(per.c.n, 0),
            func.coalesce(per.c.open, 0),
        )
        .outerjoin(per, per.c.company_key == Company.key)
        .order_by(Company.name, Company.key)
    )
    for word in search_terms(search or ""):
        q = q.where(
            or_(
                func.lower(Company.name).contains(word, autoescape=True),
                Company.key.contains(number_part(word), autoescape=True),
            )
        )
    if limit is not None:
        q = q.limit(limit)
    if offset:
        q = q.offset(offset)
    return [CompanyRow(r[0], r[1], r[2], r[3], int(r[4]), int(r[5])) for r in s.execute(q)]

"""Officers as the workflow needs them to decide who acts: id, name, e-mail, role, council."""

from __future__ import annotations

from collections.abc import Collection
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import Officer


class Contact(NamedTuple):
    id: str
    name: str
    email: str | None
    role: str
    council: str | None


def active_officer(s: Session, officer_id: str) -> Contact | None:
    """The officer with this id if registered and active, else None."""
    q = select(Officer.id, Officer.name, Officer.email, Officer.role, Officer.council_code)
    r = s.execute(q.where(Officer.id == officer_id, Officer.active.is_(True))).first()
    return None if r is None else Contact._make(r)


def officer_rows(
    s: Session, council: str | None, finals: Collection[str]
) -> list[tuple[str, str, str, str | None, str | None, bool, int]]:
    """(id, name, role, council, email, active, open cases) of a council's officers (None:
    all), ordered by id; a case is open until it reaches a final stage."""
    from storage.models import Case

    open_cases = (
        select(func.count())
        .where(
            Case.officer_id == Officer.id,
            Case.stage.not_in(sorted(finals)),
        )
        .scalar_subquery()
    )
    q = select(
        Officer.id,
        Officer.name,
        Officer.role,
        Officer.council_code,
        Officer.email,
        Officer.active,
        open_cases,
    ).order_by(Officer.id)
    if council is not None:
        q = q.where(Officer.council_code == council)
    return [(r[0], r[1], r[2], r[3], r[4], bool(r[5]), int(r[6])) for r in s.execute(q)]

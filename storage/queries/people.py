"""Officers as the workflow needs them to decide who acts: id, name, e-mail, role, council."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import select
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

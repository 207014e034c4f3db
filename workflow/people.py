"""Use cases for councils and officers: list and import councils, add officers, who am I."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from states.programs import catalog
from storage.models import Council, Officer
from storage.queries.people import officer_rows
from workflow import access, store
from workflow.errors import Conflict, InvalidInput, NotFound
from workflow.inputs import name, text
from workflow.tx import Boundaries, read, write
from workflow.views import Actor

COUNCIL_LIMITS = (("name", 200), ("address", 300), ("phone", 40), ("url", 300))


def list_councils(b: Boundaries) -> list[dict[str, str]]:
    with read(b) as s:
        return [
            {"code": c.code, "name": c.name, "address": c.address, "phone": c.phone, "url": c.url}
            for c in s.scalars(select(Council).order_by(Council.code))
        ]


def upsert_councils(b: Boundaries, actor_id: str, rows: Sequence[dict[str, str]]) -> int:
    with write(b) as s:
        access.require_admin(store.actor(s, actor_id), "協議会の登録")
        return write_councils(s, rows)


def write_councils(s: Session, rows: Sequence[dict[str, str]]) -> int:
    n = 0
    for r in rows:
        code = str(r.get("code", "")).strip()
        if not re.fullmatch(r"\d{2}", code):
            raise InvalidInput(f"協議会コードは都道府県コード2桁です: '{code}'")
        if not str(r.get("name", "")).strip():
            raise InvalidInput(f"協議会 {code} の名称が空です")
        values = {key: str(r.get(key, "")).strip() for key, _ in COUNCIL_LIMITS}
        for key, limit in COUNCIL_LIMITS:
            if len(values[key]) > limit:
                raise InvalidInput(
                    f"協議会 {code} の {key} が長すぎます ({len(values[key])}文字; 上限 {limit}文字)"
                )
        c = s.get(Council, code) or Council(code=code)
        c.name, c.address, c.phone, c.url = (values[k] for k, _ in COUNCIL_LIMITS)
        s.add(c)
        n += 1
    return n


def add_officer(
    b: Boundaries,
    actor_id: str,
    officer_id: str,
    *,
    name_: str,
    council: str | None,
    role: str,
    email: str | None = None,
) -> Actor:
    oid = text(officer_id, "担当者ID", required=True, limit=64) or ""
    if not re.fullmatch(r"[A-Za-z0-9._@-]+", oid):
        raise InvalidInput(f"担当者IDは英数字と . _ @ - で入力してください: '{officer_id}'")
    nm = name(name_, "氏名")
    if role not in access.ROLES:
        raise InvalidInput(f"役割 (--role) は {', '.join(access.ROLES)} のいずれかです: '{role}'")
    check_email(email)
    with write(b) as s:
        access.require_admin(store.actor(s, actor_id), "担当者の登録")
        if council is None and role != "admin":
            raise InvalidInput("担当者と統括責任者には所属協議会 (--council) が必要です")
        if council is not None and s.get(Council, council) is None:
            raise NotFound(f"協議会 {council} が見つかりません ('kaizen council list')")
        if s.get(Officer, oid) is not None:
            raise Conflict(f"担当者 {oid} は既に登録されています")
        insert_officer(s, Actor(oid, nm, role, council), email, b.now())
        return Actor(oid, nm, role, council)


def insert_officer(s: Session, who: Actor, email: str | None, at: datetime) -> None:
    s.add(
        Officer(
            id=who.id,
            name=who.name,
            council_code=who.council,
            role=who.role,
            email=email,
            active=True,
            created_at=at,
        )
    )


def check_email(email: str | None) -> None:
    if email is not None and (
        len(email) > 254 or not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email)
    ):
        raise InvalidInput(f"メールアドレスの形式が不正です: '{email}'")


@dataclass(frozen=True)
class OfficerRow:
    id: str
    name: str
    role: str
    council: str | None
    email: str | None
    active: bool
    open_cases: int = 0  # cases in charge that are not closed
    changes: dict[str, list[object]] = field(default_factory=dict)  # an edit: old → new


def edit_officer(
    b: Boundaries,
    actor_id: str,
    officer_id: str,
    *,
    name_: str | None = None,
    email: str | None = None,
    role: str | None = None,
    council: str | None = None,
    active: bool | None = None,
) -> OfficerRow:
    """Change an officer (admins): name, e-mail, role, council, active. An inactive officer
    can no longer act; their open cases show in `report workload` as needing reassignment."""
    if role is not None and role not in access.ROLES:
        raise InvalidInput(f"役割 (--role) は {', '.join(access.ROLES)} のいずれかです: '{role}'")
    check_email(email)
    nm = None if name_ is None else name(name_, "氏名")
    with write(b) as s:
        who = store.actor(s, actor_id)
        access.require_admin(who, "担当者の変更")
        o = s.get(Officer, officer_id)
        if o is None:
            raise NotFound(f"担当者 {officer_id} が見つかりません ('kaizen officer list')")
        if council is not None and s.get(Council, council) is None:
            raise NotFound(f"協議会 {council} が見つかりません ('kaizen council list')")
        if o.id == who.id and active is False:
            raise InvalidInput("自分自身を無効にはできません")
        new = {
            "name": nm if nm is not None else o.name,
            "email": email if email is not None else o.email,
            "role": role or o.role,
            "council_code": council if council is not None else o.council_code,
            "active": o.active if active is None else active,
        }
        if new["council_code"] is None and new["role"] != "admin":
            raise InvalidInput("担当者と統括責任者には所属協議会 (--council) が必要です")
        changes = {k: [getattr(o, k), v] for k, v in new.items() if getattr(o, k) != v}
        if not changes:
            raise InvalidInput("変更する項目がありません (現在の値と同じです)")
        for k, v in new.items():
            setattr(o, k, v)
        s.flush()
        return OfficerRow(
            o.id, o.name, o.role, o.council_code, o.email, bool(o.active), changes=changes
        )


def list_officers(b: Boundaries, actor_id: str, *, council: str | None = None) -> list[OfficerRow]:
    """Officers (admins: every council; others: their own), with their open cases."""
    with read(b) as s:
        who = store.actor(s, actor_id)
        if council is not None:
            access.require_council(who, council)
        elif who.role != "admin":
            council = who.council
        finals = {x for d in catalog().definitions.values() for x in d.final_stages}
        return [OfficerRow(*r) for r in officer_rows(s, council, finals)]


def whoami(b: Boundaries, actor_id: str) -> Actor:
    with read(b) as s:
        return store.actor(s, actor_id)

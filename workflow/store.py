"""The one write path: load a case's snapshot, apply change sets, number cases, key companies.

Every writer — the use cases, `kaizen import cases`, `kaizen demo` — loads what the decision
core needs with `load` and writes what it decided with `apply` (SQLAlchemy Core on the tables
of `storage.models`): a version-checked `UPDATE cases … WHERE version = ?` (a concurrent change
makes it match no row: `Conflict`), event rows appended, lenders, costs and milestones upserted,
reports and payments inserted. Numbering, company keys and the actor lookup live here once.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, delete, exists, func, insert, select, text, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from states.calendar import fiscal_year
from storage.models import (
    Case,
    Company,
    CompanyChange,
    Cost,
    Event,
    Lender,
    Milestone,
    MonitoringReport,
    Officer,
    Payment,
    PriorUse,
    Reminder,
)
from workflow import access
from workflow.dberrors import STALE
from workflow.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from workflow.reuse import Use
from workflow.snapshot import (
    COSTS,
    HISTORY,
    LENDERS,
    PAYMENTS,
    REPORTS,
    USES,
    CaseState,
    ChangeSet,
    CompanyState,
    CostState,
    EventRow,
    LenderState,
    MilestoneState,
    Needs,
    PaymentState,
    Snapshot,
)
from workflow.views import Actor


def _table(model: Any) -> Table:
    return cast(Table, model.__table__)


CASES, EVENTS, MILESTONES = _table(Case), _table(Event), _table(Milestone)
LENDERS_T, COSTS_T, REPORTS_T = _table(Lender), _table(Cost), _table(MonitoringReport)
PAYMENTS_T, REMINDERS_T, COMPANIES = _table(Payment), _table(Reminder), _table(Company)

_CASE_COLUMNS = [
    "id",
    "program",
    "track",
    "council_code",
    "company_key",
    "officer_id",
    "advisor",
    "stage",
    "rule_version",
    "affected",
    "affected_note",
    "interim_monitoring",
    "guarantee_release",
    "reuse_reason",
    "reuse_exception",
    "certificate_issued",
    "plan_recorded",
    "opened_on",
    "applied_on",
    "accepted_on",
    "agreed_on",
    "decided_on",
    "valid_until",
    "last_event_on",
    "periods_paid",
    "version",
]
_COMPANY_COLUMNS = [
    "key",
    "name",
    "fiscal_year_end",
    "industry",
    "capital",
    "employees",
    "legal_form",
]


# The statements of the hot path, built once (building one costs more than running it).
_ACTOR = select(
    *(_table(Officer).c[c] for c in ("id", "name", "role", "council_code", "active"))
).where(_table(Officer).c.id == bindparam("id"))
_LOAD = (
    select(
        *(CASES.c[c] for c in _CASE_COLUMNS),
        *(COMPANIES.c[c] for c in _COMPANY_COLUMNS),
        select(func.coalesce(func.max(EVENTS.c.seq), 0))
        .where(EVENTS.c.case_id == bindparam("cid"))
        .scalar_subquery(),
    )
    .join(COMPANIES, COMPANIES.c.key == CASES.c.company_key)
    .where(CASES.c.id == bindparam("cid"))
)
_MOVES = (
    select(EVENTS.c.seq, EVENTS.c.kind, EVENTS.c.trigger, EVENTS.c.effective_on, EVENTS.c.detail)
    .where(EVENTS.c.case_id == bindparam("cid"), EVENTS.c.kind != "fact")
    .order_by(EVENTS.c.seq)
)
_HISTORY = (
    select(
        *(
            EVENTS.c[c]
            for c in (
                "seq",
                "kind",
                "trigger",
                "from_stage",
                "to_stage",
                "effective_on",
                "actor",
                "reason",
                "detail",
                "recorded_at",
            )
        )
    )
    .where(EVENTS.c.case_id == bindparam("cid"))
    .order_by(EVENTS.c.seq)
)
_MILESTONES = select(
    *(MILESTONES.c[c] for c in ("key", "label", "stage", "due", "done_on")),
    exists()
    .where(REMINDERS_T.c.milestone_id == MILESTONES.c.id, REMINDERS_T.c.status == "sent")
    .label("reminded"),
).where(MILESTONES.c.case_id == bindparam("cid"))
_LENDERS = (
    select(LENDERS_T.c.name, LENDERS_T.c.consented_on)
    .where(LENDERS_T.c.case_id == bindparam("cid"))
    .order_by(LENDERS_T.c.id)
)
_COSTS = (
    select(COSTS_T.c.category, COSTS_T.c.estimate, COSTS_T.c.actual, COSTS_T.c.paid_on)
    .where(COSTS_T.c.case_id == bindparam("cid"))
    .order_by(COSTS_T.c.category)
)
_REPORTS = select(REPORTS_T.c.period, REPORTS_T.c.reported_on).where(
    REPORTS_T.c.case_id == bindparam("cid")
)
_PAYMENTS = (
    select(
        PAYMENTS_T.c.kind,
        PAYMENTS_T.c.period,
        PAYMENTS_T.c.amount,
        PAYMENTS_T.c.paid_on,
        PAYMENTS_T.c.reversal,
    )
    .where(PAYMENTS_T.c.case_id == bindparam("cid"))
    .order_by(PAYMENTS_T.c.id)
)
_UPDATE_CASE = (
    update(CASES)
    .where(CASES.c.id == bindparam("case_id"), CASES.c.version == bindparam("expected"))
    .values({c: bindparam("v_" + c) for c in [*_CASE_COLUMNS[1:], "updated_at"]})
)

# ---------------------------------------------------------------- people and companies


def actor(s: Session, actor_id: str) -> Actor:
    """The acting officer, who must be registered and active."""
    row = s.connection().execute(_ACTOR, {"id": actor_id}).one_or_none()
    if row is None or not row.active:
        raise PermissionDenied(
            f"'{actor_id}' は登録された担当者ではありません "
            "(管理者に 'kaizen officer add' を依頼するか --as / KAIZEN_USER を確認してください)"
        )
    return Actor(row.id, row.name, row.role, row.council_code)


def company(s: Session, key: str) -> CompanyState:
    row = s.execute(
        select(*(COMPANIES.c[c] for c in _COMPANY_COLUMNS)).where(COMPANIES.c.key == key)
    ).one_or_none()
    if row is None:
        raise NotFound(f"会社 {key} が見つかりません ('kaizen company add' で登録してください)")
    return CompanyState(*row)


def all_companies(s: Session) -> dict[str, CompanyState]:
    cols = [COMPANIES.c[c] for c in _COMPANY_COLUMNS]
    return {r[0]: CompanyState(*r) for r in s.execute(select(*cols))}


def officer(s: Session, officer_id: str) -> Actor:
    """A registered, active officer (e.g. the one a case is handed to)."""
    row = s.connection().execute(_ACTOR, {"id": officer_id}).one_or_none()
    if row is None:
        raise NotFound(f"担当者 {officer_id} が見つかりません ('kaizen officer list')")
    if not row.active:
        raise InvalidInput(f"担当者 {officer_id} は無効 (inactive) です")
    return Actor(row.id, row.name, row.role, row.council_code)


def company_cases(s: Session, key: str) -> list[tuple[str, str]]:
    """(case id, council) of every case of a company."""
    q = select(CASES.c.id, CASES.c.council_code).where(CASES.c.company_key == key)
    return [(r[0], r[1]) for r in s.execute(q.order_by(CASES.c.id))]


def update_company(
    s: Session, old: CompanyState, new: CompanyState, actor_id: str, reason: str, at: datetime
) -> None:
    """The company row after a correction, and one audit row per changed field."""
    changed = [c for c in _COMPANY_COLUMNS[1:] if getattr(old, c) != getattr(new, c)]
    s.execute(
        update(COMPANIES)
        .where(COMPANIES.c.key == old.key)
        .values({c: getattr(new, c) for c in changed})
    )
    s.execute(
        insert(_table(CompanyChange)),
        [
            {
                "company_key": old.key,
                "field": c,
                "old": None if getattr(old, c) is None else str(getattr(old, c)),
                "new": None if getattr(new, c) is None else str(getattr(new, c)),
                "actor": actor_id,
                "reason": reason,
                "recorded_at": at,
            }
            for c in changed
        ],
    )


def company_exists(s: Session, key: str) -> bool:
    return s.scalar(select(COMPANIES.c.key).where(COMPANIES.c.key == key)) is not None


def next_company_key(s: Session) -> str:
    """A sole proprietor's internal key: 'P' and the next number."""
    n = s.scalar(select(func.count()).select_from(Company).where(Company.key.like("P%")))
    return f"P{(n or 0) + 1:08d}"


def insert_companies(s: Session, rows: Sequence[CompanyState], at: datetime) -> None:
    if rows:
        s.execute(
            insert(COMPANIES),
            [{**{c: getattr(r, c) for c in _COMPANY_COLUMNS}, "created_at": at} for r in rows],
        )


def uses(s: Session, company_key: str, exclude_case: str | None) -> list[Use]:
    """Every earlier use of either program: recorded prior uses and accepted Kaizen cases."""
    out = [
        Use(p.program, p.track, p.fiscal_year, p.paid, f"記録 #{p.id}")
        for p in s.execute(
            select(
                PriorUse.id, PriorUse.program, PriorUse.track, PriorUse.fiscal_year, PriorUse.paid
            )
            .where(PriorUse.company_key == company_key)
            .order_by(PriorUse.fiscal_year, PriorUse.id)
        )
    ]
    paid = (
        select(func.coalesce(func.sum(Payment.amount), 0))
        .where(Payment.case_id == Case.id)
        .scalar_subquery()
    )
    q = select(Case.id, Case.program, Case.track, Case.accepted_on, paid).where(
        Case.company_key == company_key, Case.accepted_on.is_not(None)
    )
    if exclude_case:
        q = q.where(Case.id != exclude_case)
    for cid, program, track, accepted, total in s.execute(q.order_by(Case.accepted_on, Case.id)):
        out.append(Use(program, track, fiscal_year(accepted), int(total), f"案件 {cid}"))
    return out


# ---------------------------------------------------------------- case numbers


def next_case_id(s: Session, council: str, opened: date) -> str:
    """The council's next number in the 年度 of `opened`: '40-2026-0007'."""
    prefix = f"{council}-{fiscal_year(opened)}-"
    if s.get_bind().dialect.name == "postgresql":
        # Numbers are allocated under a transaction-scoped lock per council and year, so
        # simultaneous openings queue instead of colliding.
        s.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": "kaizen-case-" + prefix}
        )
    last = s.scalar(
        select(func.max(Case.id)).where(Case.id.between(prefix + "0000", prefix + "9999"))
    )
    return number_after(prefix, last)


def last_case_id(s: Session, prefix: str) -> str | None:
    """The highest number given in a council's 年度 ('40-2026-'), on the id's range."""
    return s.scalar(
        select(func.max(Case.id)).where(Case.id.between(prefix + "0000", prefix + "9999"))
    )


def number_after(prefix: str, last: str | None) -> str:
    seq = int(last.rsplit("-", 1)[1]) + 1 if last else 1
    if seq > 9999:
        raise InvalidInput(f"案件番号 {prefix}… は 9999 件までです: この年度の番号がありません")
    return f"{prefix}{seq:04d}"


def case_ids(s: Session) -> set[str]:
    return set(s.scalars(select(Case.id)))


# ---------------------------------------------------------------- loading


def load(s: Session, case_id: str, who: Actor, needs: Needs) -> Snapshot:
    """The case, if the actor may see it, with its history and what `needs` names."""
    cid = case_id.strip()
    if not is_case_id(cid):
        raise InvalidInput(f"案件番号は '40-2026-0007' の形式です: '{case_id}'")
    conn = s.connection()
    row = conn.execute(_LOAD, {"cid": cid}).one_or_none()
    if row is None or not access.can_see_council(who, row.council_code):
        # Another council's case is reported as missing: its existence is not disclosed.
        raise NotFound(f"案件 {cid} が見つかりません")
    n = len(_CASE_COLUMNS)
    snap = Snapshot(
        case=case_state(row[:n]),
        company=CompanyState(*row[n : n + len(_COMPANY_COLUMNS)]),
        moves=standing_moves(conn.execute(_MOVES, {"cid": cid}).all()),
        milestones={
            r.key: MilestoneState(r.key, r.label, r.stage, r.due, r.done_on, bool(r.reminded))
            for r in conn.execute(_MILESTONES, {"cid": cid})
        },
        next_seq=int(row[-1]) + 1,
    )
    # The planner reads the reports (a report closes its milestone): always loaded.
    return fill(s, snap, needs | {REPORTS})


def fill(s: Session, snap: Snapshot, needs: Needs) -> Snapshot:
    """Add the facts `needs` names to a snapshot."""
    conn = s.connection()
    p = {"cid": snap.case.id}
    extra: dict[str, Any] = {}
    if LENDERS in needs:
        extra["lenders"] = tuple(LenderState(*r) for r in conn.execute(_LENDERS, p))
    if COSTS in needs:
        extra["costs"] = {r[0]: CostState(*r) for r in conn.execute(_COSTS, p)}
    if REPORTS in needs:
        extra["reports"] = {period: on for period, on in conn.execute(_REPORTS, p)}
    if PAYMENTS in needs:
        extra["payments"] = tuple(PaymentState(*r) for r in conn.execute(_PAYMENTS, p))
    if USES in needs:
        extra["uses"] = tuple(uses(s, snap.case.company, snap.case.id))
    if HISTORY in needs:
        extra["history"] = tuple(
            EventRow(
                r.seq,
                r.kind,
                r.trigger,
                r.from_stage,
                r.to_stage,
                r.effective_on,
                r.actor,
                r.reason,
                r.detail,
                r.recorded_at,
            )
            for r in conn.execute(_HISTORY, p)
        )
    return replace(snap, **extra) if extra else snap


def standing_moves(rows: Sequence[Any]) -> tuple[tuple[str, date], ...]:
    """(trigger, date) of the transitions that stand: `(seq, kind, trigger, on, detail)` rows
    of every non-fact event, a reverted transition left out (its `correction` names it)."""
    reverted = {reverted_seq(r[4]) for r in rows if r[1] == "correction"}
    return tuple((r[2], r[3]) for r in rows if r[1] != "correction" and r[0] not in reverted)


def reverted_seq(detail: str | None) -> int | None:
    """The transition a `correction` event reverts (None: it reverts none)."""
    if not detail:
        return None
    value = json.loads(detail).get("reverts")
    return int(value) if value is not None else None


def case_state(row: Sequence[Any]) -> CaseState:
    v = dict(zip(_CASE_COLUMNS, row, strict=True))
    return CaseState(
        id=v["id"],
        program=v["program"],
        track=v["track"],
        council=v["council_code"],
        company=v["company_key"],
        officer=v["officer_id"],
        advisor=v["advisor"],
        stage=v["stage"],
        rule_version=v["rule_version"],
        affected=tuple(x for x in (v["affected"] or "").split(",") if x),
        affected_note=v["affected_note"],
        interim_monitoring=bool(v["interim_monitoring"]),
        guarantee_release=bool(v["guarantee_release"]),
        reuse_reason=v["reuse_reason"],
        reuse_exception=bool(v["reuse_exception"]),
        certificate_issued=v["certificate_issued"],
        plan_recorded=v["plan_recorded"],
        opened_on=v["opened_on"],
        applied_on=v["applied_on"],
        accepted_on=v["accepted_on"],
        agreed_on=v["agreed_on"],
        decided_on=v["decided_on"],
        valid_until=v["valid_until"],
        last_event_on=v["last_event_on"],
        periods_paid=v["periods_paid"],
        version=v["version"],
    )


def is_case_id(text: str) -> bool:
    parts = text.split("-")
    return (
        len(parts) == 3
        and [len(p) for p in parts] == [2, 4, 4]
        and all(p.isascii() and p.isdigit() for p in parts)
    )


# ---------------------------------------------------------------- writing


def _case_row(c: CaseState, at: datetime) -> dict[str, Any]:
    return {
        "id": c.id,
        "program": c.program,
        "track": c.track,
        "council_code": c.council,
        "company_key": c.company,
        "officer_id": c.officer,
        "advisor": c.advisor,
        "stage": c.stage,
        "rule_version": c.rule_version,
        "affected": ",".join(c.affected),
        "affected_note": c.affected_note,
        "interim_monitoring": c.interim_monitoring,
        "guarantee_release": c.guarantee_release,
        "reuse_reason": c.reuse_reason,
        "reuse_exception": c.reuse_exception,
        "certificate_issued": c.certificate_issued,
        "plan_recorded": c.plan_recorded,
        "lender_receipt": None,
        "opened_on": c.opened_on,
        "applied_on": c.applied_on,
        "accepted_on": c.accepted_on,
        "agreed_on": c.agreed_on,
        "decided_on": c.decided_on,
        "valid_until": c.valid_until,
        "last_event_on": c.last_event_on,
        "periods_paid": c.periods_paid,
        "version": c.version,
        "updated_at": at,
    }


def apply(s: Session, changes: ChangeSet, at: datetime) -> None:
    """Write one decision (or several merged) in the caller's transaction."""
    apply_many(s, [changes], at)


def apply_many(s: Session, change_sets: Iterable[ChangeSet], at: datetime) -> None:
    """Write many cases' changes: new cases' rows go in by table with `executemany`."""
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for ch in change_sets:
        if ch.expected_version is None:
            rows["cases"].append(_case_row(ch.case, at))
        else:
            _update_case(s, ch, at)
        cid = ch.case_id
        rows["events"] += [
            {
                "case_id": cid,
                "seq": e.seq,
                "kind": e.kind,
                "trigger": e.trigger,
                "from_stage": e.from_stage,
                "to_stage": e.to_stage,
                "effective_on": e.on,
                "recorded_at": e.at or at,
                "actor": e.actor,
                "reason": e.reason,
                "detail": e.detail,
            }
            for e in ch.events
        ]
        rows["monitoring_reports"] += [
            {"case_id": cid, "period": p, "reported_on": on} for p, on in ch.reports.items()
        ]
        rows["payments"] += [
            {
                "case_id": cid,
                "kind": p.kind,
                "period": p.period,
                "amount": p.amount,
                "paid_on": p.paid_on,
                "reversal": p.reversal,
            }
            for p in ch.payments
        ]
        if ch.expected_version is None:
            rows["lenders"] += [
                {"case_id": cid, "name": x.name, "consented_on": x.consented_on}
                for x in ch.lenders.values()
            ]
            rows["costs"] += [_cost_row(cid, x) for x in ch.costs.values()]
            rows["milestones"] += [_milestone_row(cid, m) for m in ch.milestones.values()]
        else:
            _upsert_children(s, ch)
    for table in (CASES, EVENTS, LENDERS_T, COSTS_T, REPORTS_T, PAYMENTS_T, MILESTONES):
        if rows[table.name]:
            s.execute(insert(table), rows[table.name])


def _update_case(s: Session, ch: ChangeSet, at: datetime) -> None:
    values = _case_row(ch.case, at)
    del values["lender_receipt"], values["id"]
    params = {"v_" + k: v for k, v in values.items()}
    params.update(case_id=ch.case_id, expected=ch.expected_version)
    done = cast(CursorResult[Any], s.connection().execute(_UPDATE_CASE, params)).rowcount
    if done != 1:
        raise Conflict(STALE)


def _cost_row(cid: str, x: CostState) -> dict[str, Any]:
    return {
        "case_id": cid,
        "category": x.category,
        "estimate": x.estimate,
        "actual": x.actual,
        "paid_on": x.paid_on,
    }


def _milestone_row(cid: str, m: MilestoneState) -> dict[str, Any]:
    return {
        "case_id": cid,
        "key": m.key,
        "label": m.label,
        "stage": m.stage,
        "due": m.due,
        "done_on": m.done_on,
    }


def _upsert_children(s: Session, ch: ChangeSet) -> None:
    """Changes to an existing case's rows: update where the row exists, else insert."""
    cid = ch.case_id
    for x in ch.lenders.values():
        _upsert(
            s,
            LENDERS_T,
            and_(LENDERS_T.c.case_id == cid, LENDERS_T.c.name == x.name),
            {"consented_on": x.consented_on},
            {"case_id": cid, "name": x.name, "consented_on": x.consented_on},
        )
    for c in ch.costs.values():
        row = _cost_row(cid, c)
        _upsert(
            s,
            COSTS_T,
            and_(COSTS_T.c.case_id == cid, COSTS_T.c.category == c.category),
            {k: row[k] for k in ("estimate", "actual", "paid_on")},
            row,
        )
    for m in ch.milestones.values():
        row = _milestone_row(cid, m)
        _upsert(
            s,
            MILESTONES,
            and_(MILESTONES.c.case_id == cid, MILESTONES.c.key == m.key),
            {k: row[k] for k in ("label", "stage", "due", "done_on")},
            row,
        )
    if ch.cancel_reminders:
        s.execute(
            update(REMINDERS_T)
            .where(
                REMINDERS_T.c.status == "pending",
                REMINDERS_T.c.milestone_id.in_(_ids(cid, ch.cancel_reminders)),
            )
            .values(status="cancelled")
        )
    if ch.drop_lenders:
        s.execute(
            delete(LENDERS_T).where(
                LENDERS_T.c.case_id == cid, LENDERS_T.c.name.in_(sorted(ch.drop_lenders))
            )
        )
    if ch.drop_reports:
        s.execute(
            delete(REPORTS_T).where(
                REPORTS_T.c.case_id == cid, REPORTS_T.c.period.in_(sorted(ch.drop_reports))
            )
        )
    if ch.drop_milestones:
        s.execute(
            delete(REMINDERS_T).where(REMINDERS_T.c.milestone_id.in_(_ids(cid, ch.drop_milestones)))
        )
        s.execute(
            delete(MILESTONES).where(
                MILESTONES.c.case_id == cid, MILESTONES.c.key.in_(sorted(ch.drop_milestones))
            )
        )


def _rows(s: Session, stmt: Any) -> int:
    """Rows an UPDATE matched."""
    return cast(CursorResult[Any], s.execute(stmt)).rowcount


def _ids(cid: str, keys: set[str]) -> Any:
    return select(Milestone.id).where(Milestone.case_id == cid, Milestone.key.in_(sorted(keys)))


def _upsert(
    s: Session, table: Any, where: Any, values: dict[str, Any], row: dict[str, Any]
) -> None:
    if _rows(s, update(table).where(where).values(**values)) == 0:
        s.execute(insert(table), [row])

"""The SQL of reminder sweeps and the morning digest: candidates, existing rows, claims, marks.

`workflow/reminders.py` decides what is due (business days), who receives it and how it is
delivered; it asks here for rows by name and writes through these functions only, inside the
transactions it opens. Each statement's shape is chosen for the indexes (see the comments).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy import delete, literal, or_, select, update
from sqlalchemy.orm import Session

from storage.models import Case, Company, Meta, Milestone, Officer, Reminder
from storage.queries.people import Contact

INSERT_CHUNK = 1000


class OpenMilestone(NamedTuple):
    id: int
    case_id: str
    council: str
    company: str
    key: str
    label: str
    due: date
    officer: str  # the case's officer


def open_milestones(
    s: Session, due_by: date, final: Collection[str], *, company: bool = False
) -> list[OpenMilestone]:
    """Milestones not done, due by `due_by`, of cases not in a final stage.

    By milestone id (a fixed order: sweeps insert in it, so they never deadlock), or with
    `company=True` by due date, case and key with the company's name (the digest's order).
    """
    cols = (
        Milestone.id,
        Milestone.case_id,
        Case.council_code,
        Company.name if company else literal(""),
        Milestone.key,
        Milestone.label,
        Milestone.due,
        Case.officer_id,
    )
    q = (
        select(*cols)
        .join(Case, Case.id == Milestone.case_id)
        .where(Milestone.done_on.is_(None), Milestone.due <= due_by, Case.stage.not_in(final))
    )
    if company:
        q = q.join(Company, Company.key == Case.company_key).order_by(
            Milestone.due, Milestone.case_id, Milestone.key
        )
    else:
        q = q.order_by(Milestone.id)
    return [OpenMilestone._make(r) for r in s.execute(q)]


def supervisors_by_council(s: Session) -> dict[str, list[str]]:
    """Active supervisors' ids per council, in id order."""
    out: dict[str, list[str]] = defaultdict(list)
    for oid, council in s.execute(
        select(Officer.id, Officer.council_code)
        .where(Officer.role == "supervisor", Officer.active.is_(True))
        .order_by(Officer.id)
    ):
        if council is not None:
            out[council].append(oid)
    return out


ReminderKey = tuple[int, str, str, date]  # (milestone id, stored kind, recipient, due)


def existing_keys(s: Session, milestone_ids: Collection[int], due_by: date) -> set[ReminderKey]:
    """The keys of the reminders that exist already for these open milestones due by `due_by`.

    One join instead of `milestone_id IN (500 ids)` per chunk: the milestones are open and due
    by `due_by`, so their rows are among the reminders of such milestones (the open-milestone
    index finds them). The IN lists cost one statement per 500 candidates, and on a PostgreSQL
    table not analysed since a large sweep each became a sequential scan (30 s for 50,000).
    """
    if not milestone_ids:
        return set()
    have: set[ReminderKey] = set()
    for mid, kind, rcpt, due in s.execute(
        select(Reminder.milestone_id, Reminder.kind, Reminder.recipient, Reminder.due)
        .join(Milestone, Milestone.id == Reminder.milestone_id)
        .where(Milestone.done_on.is_(None), Milestone.due <= due_by)
    ):
        if mid in milestone_ids:
            have.add((mid, kind, rcpt, due))
    return have


def _insert_ignoring(s: Session, table: Any, index: list[str]) -> Any:
    """INSERT … ON CONFLICT (index) DO NOTHING on either dialect."""
    if s.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing(index_elements=index)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).on_conflict_do_nothing(index_elements=index)


def insert_reminders(s: Session, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert reminder rows, skipping those that exist (one per key); how many were new."""
    # One statement, executed with many parameter sets (compiled once; SQLAlchemy batches
    # it into multi-row VALUES): building `.values(rows)` per chunk compiled 9 bind
    # parameters per row every time, ~0.4 ms a row.
    q = _insert_ignoring(s, Reminder, ["milestone_id", "kind", "recipient", "due"]).returning(
        Reminder.id
    )
    n = 0
    for i in range(0, len(rows), INSERT_CHUNK):
        n += len(s.execute(q, list(rows[i : i + INSERT_CHUNK])).all())
    return n


def ready_ids(s: Session, at: datetime, now: datetime, limit: int) -> list[int]:
    """Up to `limit` rows a sweep at `at` may claim, locked for this transaction.

    Ready: pending, `next_attempt_at` ≤ `at`, unclaimed or with a lease run out by `now`.
    On PostgreSQL rows another transaction holds are skipped (`FOR UPDATE SKIP LOCKED`).
    """
    # 'pending' is written into the SQL (not bound) so that SQLite can prove the partial
    # index `ix_reminders_pending` applies; read in its order (oldest attempt first; ties in
    # index order), each batch starts where the pending rows are instead of re-reading the
    # rows already sent (ordering by id made both databases scan or sort every pending row
    # per batch: quadratic in the queue's length).
    q = (
        select(Reminder.id)
        .where(
            Reminder.status == literal("pending", literal_execute=True),
            Reminder.next_attempt_at <= at,
            or_(Reminder.claimed_until.is_(None), Reminder.claimed_until <= now),
        )
        .order_by(Reminder.next_attempt_at)
        .limit(limit)
    )
    if s.get_bind().dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    return list(s.scalars(q))


def stamp_claims(s: Session, ids: Sequence[int], worker: str, until: datetime) -> None:
    """Mark rows as claimed by `worker` until `until` (the caller holds them: `ready_ids`)."""
    s.execute(
        update(Reminder).where(Reminder.id.in_(ids)).values(claimed_by=worker, claimed_until=until)
    )


def renew_claims(s: Session, ids: Sequence[int], worker: str, until: datetime) -> int:
    """Extend `worker`'s claims on these rows to `until`; how many are still its own."""
    if not ids:
        return 0
    q = (
        update(Reminder)
        .where(
            Reminder.id.in_(ids),
            Reminder.claimed_by == worker,
            Reminder.status == "pending",
        )
        .values(claimed_until=until)
    )
    return int(s.execute(q).rowcount)  # type: ignore[attr-defined]


class ReminderRow(NamedTuple):
    """A reminder with what a sweep needs to send it or to see that it went stale."""

    id: int
    case_id: str
    council: str
    company: str
    key: str
    label: str
    kind: str  # stored kind
    recipient: str
    due: date
    attempts: int
    officer: str  # the case's officer
    milestone_due: date
    milestone_done: date | None
    stage: str


def _reminder_rows() -> Any:
    return (
        select(
            Reminder.id,
            Reminder.case_id,
            Case.council_code,
            Company.name,
            Milestone.key,
            Milestone.label,
            Reminder.kind,
            Reminder.recipient,
            Reminder.due,
            Reminder.attempts,
            Case.officer_id,
            Milestone.due,
            Milestone.done_on,
            Case.stage,
        )
        .join(Milestone, Milestone.id == Reminder.milestone_id)
        .join(Case, Case.id == Reminder.case_id)
        .join(Company, Company.key == Case.company_key)
        .order_by(Reminder.id)
    )


def reminders_by_id(s: Session, ids: Collection[int]) -> list[ReminderRow]:
    return [ReminderRow._make(r) for r in s.execute(_reminder_rows().where(Reminder.id.in_(ids)))]


def ready_reminders(s: Session, at: datetime, now: datetime) -> list[ReminderRow]:
    """The rows a claim at `at` (wall clock `now`) could take, without claiming them."""
    q = _reminder_rows().where(
        Reminder.status == "pending",
        Reminder.next_attempt_at <= at,
        or_(Reminder.claimed_until.is_(None), Reminder.claimed_until <= now),
    )
    return [ReminderRow._make(r) for r in s.execute(q)]


def cancel(s: Session, why: Mapping[int, str]) -> None:
    """Cancel claimed rows that went stale, each with its reason."""
    for rid, reason in why.items():
        s.execute(
            update(Reminder)
            .where(Reminder.id == rid)
            .values(status="cancelled", claimed_until=None, last_error=reason)
        )


def mark_sent(s: Session, ids: Sequence[int], worker: str, at: datetime, channel: str) -> int:
    """Mark rows this worker still holds as sent; how many it still held."""
    if not ids:
        return 0
    done = s.execute(
        update(Reminder)
        .where(Reminder.id.in_(ids), Reminder.claimed_by == worker)
        .values(status="sent", sent_at=at, channel=channel, claimed_until=None)
        .returning(Reminder.id)
        .execution_options(synchronize_session=False)
    ).all()
    return len(done)


def mark_failed(
    s: Session,
    rid: int,
    worker: str,
    *,
    attempts: int,
    error: str,
    retry_at: datetime | None,
) -> None:
    """Record a failed delivery: retry at `retry_at`, or `failed` for good when it is None."""
    values: dict[str, Any] = {
        "attempts": attempts,
        "last_error": error,
        "claimed_until": None,
        "channel": "email",
    }
    if retry_at is None:
        values["status"] = "failed"
    else:
        values["next_attempt_at"] = retry_at
    s.execute(
        update(Reminder)
        .where(Reminder.id == rid, Reminder.claimed_by == worker)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def contacts(s: Session, ids: Iterable[str]) -> dict[str, Contact]:
    """Name and e-mail of these officers (active or not)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    q = select(Officer.id, Officer.name, Officer.email, Officer.role, Officer.council_code)
    return {r[0]: Contact._make(r) for r in s.execute(q.where(Officer.id.in_(wanted)))}


def staff(s: Session) -> dict[str, Contact]:
    """Every active officer and supervisor (the digest's readers)."""
    q = select(Officer.id, Officer.name, Officer.email, Officer.role, Officer.council_code).where(
        Officer.active.is_(True), Officer.role.in_(("officer", "supervisor"))
    )
    return {r[0]: Contact._make(r) for r in s.execute(q)}


def claim_key(s: Session, key: str, value: str) -> bool:
    """Insert a `kaizen_meta` row unless it exists: True when this call inserted it."""
    q = _insert_ignoring(s, Meta, ["key"]).values(key=key, value=value).returning(Meta.key)
    return len(s.execute(q).all()) == 1


def drop_key(s: Session, key: str) -> None:
    s.execute(delete(Meta).where(Meta.key == key))


def drop_keys_before(s: Session, prefix: str, first_kept: str) -> None:
    """Delete `kaizen_meta` rows whose key starts with `prefix` and sorts before `first_kept`."""
    s.execute(delete(Meta).where(Meta.key.like(f"{prefix}%"), Meta.key < first_kept))

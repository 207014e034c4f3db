"""Reminders: one sweep finds what is due, records one row per reminder, and delivers it once.

`sweep(db, settings, at, calendar, mailer)` does the whole job for the instant `at` (the
scheduler's, or `kaizen remind --at`'s); `workflow/digest.py` sends the morning summary per
officer and `workflow/mail.py` words the messages.

What is due (business days of the council's calendar, `today` = the JST date of `at`):
- `upcoming` (stored as `upcoming-N`): an open milestone due within N business days, for the
  narrowest window of `[reminders] before_days` (default 7 and 1) that is open, to the case's
  officer. After downtime the wider windows that were missed are not sent any more: the
  narrowest one says the same thing, later.
- `overdue`: due date passed by at least one business day, to the case's officer;
- `escalation`: overdue by `escalate_after_days` business days (default 5) or more, to every
  active supervisor (統括責任者) of the case's council.
Open means not done, on a case that is not in a final stage.

Exactly once:
1. Create: one row per (milestone, kind, recipient, due) with INSERT … ON CONFLICT DO NOTHING,
   so sweeping twice, or two sweeps at once, create each row once.
2. Claim: in one write transaction, pick pending rows whose `next_attempt_at` has come and that
   nobody holds (PostgreSQL: `SELECT … FOR UPDATE SKIP LOCKED`; SQLite: the transaction holds
   the write lock from BEGIN IMMEDIATE) and stamp them `claimed_by`/`claimed_until` (a lease
   on the wall clock); commit. A second sweep skips them.
3. Deliver outside any transaction: one e-mail per recipient (when SMTP is set and the officer
   has an address), else the outbox (the row itself and the returned list).
4. Mark: `sent` (with `sent_at`, `channel`), or on failure `attempts + 1` and a retry after
   `retry_base_seconds * 2**(attempts - 1)`, `last_error` kept; `failed` after `max_attempts`.
   Rows whose milestone was done, moved or closed meanwhile are `cancelled` at claim time.
A process that dies between the SMTP server's acceptance and step 4 leaves its claim to expire
(`CLAIM_LEASE`); the next sweep then sends those rows again — the one case of a repeat.

Logs carry counts, case ids and officer ids only: never company names nor addresses.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from states.calendar import FIRST_SUPPORTED_YEAR, LAST_SUPPORTED_YEAR, BusinessCalendar
from states.programs import catalog
from storage.db import Database
from storage.queries import reminders as sql
from storage.queries.people import active_officer
from workflow import access
from workflow.clock import JST, Clock, SystemClock
from workflow.config import ReminderSettings, Settings
from workflow.dberrors import storage_error, translate_errors
from workflow.errors import InvalidInput, PermissionDenied
from workflow.mail import compose, kind_of
from workflow.mailer import Mail, Mailer
from workflow.views import Actor

log = logging.getLogger("kaizen.reminders")

KINDS = ("upcoming", "overdue", "escalation")
# A claim's lease, in wall-clock time: this long from the claim, and renewed before each
# e-mail for that e-mail's rows to 3 SMTP timeouts (a hanging server included). A sweep that
# dies holds its rows for at most max(CLAIM_LEASE, one message's lease), whatever the batch.
CLAIM_LEASE = timedelta(minutes=15)
BATCH = 1000  # rows claimed per round; a sweep claims rounds until none are left


@dataclass(frozen=True)
class Item:
    """One reminder as reported: delivered, failing, or (dry run) about to be."""

    reminder: int | None  # the row's id (None in a dry run, for a row not yet created)
    case: str
    council: str
    milestone: str  # the milestone's key
    label: str
    kind: str  # upcoming, overdue, escalation
    window: int | None  # upcoming: the business-day window (7, 1…)
    to: str  # officer id
    due: date
    channel: str  # email or outbox
    attempts: int = 0
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "case": self.case,
            "milestone": self.milestone,
            "kind": self.kind,
            "to": self.to,
            "due": self.due.isoformat(),
            "label": self.label,
            "window": self.window,
            "channel": self.channel,
            "reminder": self.reminder,
            "council": self.council,
        }
        if self.error is not None:
            doc["attempts"] = self.attempts
            doc["error"] = self.error
        return doc


@dataclass
class SweepResult:
    at: datetime
    today: date
    worker: str
    dry_run: bool = False
    created: int = 0
    sent: list[Item] = field(default_factory=list)
    retrying: list[Item] = field(default_factory=list)  # failed now, tried again later
    failed: list[Item] = field(default_factory=list)  # attempts exhausted: status 'failed'
    cancelled: int = 0
    emails: int = 0  # messages the SMTP server accepted

    def summary(self) -> str:
        by_kind = {k: sum(1 for i in self.sent if i.kind == k) for k in KINDS}
        kinds = ", ".join(f"{k} {n}" for k, n in by_kind.items())
        when = f"{self.at.astimezone(JST):%Y-%m-%d %H:%M} JST"
        if self.dry_run:
            return (
                f"dry run {when} (nothing written): would create {self.created}, "
                f"send {len(self.sent)} ({kinds}; e-mails {self.emails}), "
                f"cancel {self.cancelled}"
            )
        return (
            f"sweep {when}: created {self.created}, sent {len(self.sent)} "
            f"({kinds}; e-mails {self.emails}), retrying {len(self.retrying)}, "
            f"failed {len(self.failed)}, cancelled {self.cancelled}"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "today": self.today.isoformat(),
            "dry_run": self.dry_run,
            "created": self.created,
            "sent": [i.to_json() for i in self.sent],
            "retrying": [i.to_json() for i in self.retrying],
            "failed": [i.to_json() for i in self.failed],
            "cancelled": self.cancelled,
            "emails": self.emails,
        }


# ------------------------------------------------------------------ what is due


def due_kinds(due: date, today: date, rs: ReminderSettings, cal: BusinessCalendar) -> list[str]:
    """The stored kinds an open milestone due on `due` calls for on `today` (pure)."""
    if today <= due:
        left = cal.business_days_between(today, due)
        windows = sorted(n for n in rs.before_days if n >= left)
        return [f"upcoming-{windows[0]}"] if windows else []
    late = cal.business_days_between(due, today)
    if late < 1:
        return []  # due Friday, swept on Saturday: the officer hears on Monday
    out = ["overdue"]
    if late >= rs.escalate_after_days:
        out.append("escalation")
    return out


def worker_name() -> str:
    """Unique per sweep caller: host, process and a random part (threads differ too)."""
    host = socket.gethostname()[:32]
    return f"{host}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _final_stages() -> set[str]:
    return {s for d in catalog().definitions.values() for s in d.final_stages}


def _check_time(at: datetime) -> date:
    if at.tzinfo is None:
        raise InvalidInput("時刻にはタイムゾーンが必要です (aware datetime)")
    today = at.astimezone(JST).date()
    if not FIRST_SUPPORTED_YEAR < today.year < LAST_SUPPORTED_YEAR:
        raise InvalidInput(
            f"日時 {today} は営業日カレンダーの範囲外です "
            f"({FIRST_SUPPORTED_YEAR + 1}〜{LAST_SUPPORTED_YEAR - 1}年)"
        )
    return today


@contextmanager
def _tx(db: Database) -> Iterator[Session]:
    with translate_errors(db), db.transaction() as s:
        yield s


@dataclass(frozen=True)
class _Candidate:
    milestone_id: int
    case_id: str
    council: str
    key: str
    label: str
    kind: str  # stored kind
    recipient: str
    due: date


def _candidates(
    s: Session, today: date, rs: ReminderSettings, cal: BusinessCalendar
) -> list[_Candidate]:
    """Every reminder due today, existing or not, in a fixed order (no deadlocks)."""
    horizon = cal.add_business_days(today, max(rs.before_days, default=0) + 1)
    rows = sql.open_milestones(s, horizon, _final_stages())
    supervisors = sql.supervisors_by_council(s)
    out = []
    kinds_on: dict[date, list[str]] = {}  # many milestones share a due date
    for mid, cid, council, _company, key, label, due, officer in rows:
        kinds = kinds_on.get(due)
        if kinds is None:
            kinds = kinds_on[due] = due_kinds(due, today, rs, cal)
        for kind in kinds:
            recipients = supervisors.get(council, []) if kind == "escalation" else [officer]
            for r in recipients:
                out.append(_Candidate(mid, cid, council, key, label, kind, r, due))
    out.sort(key=lambda c: (c.milestone_id, c.kind, c.recipient))
    return out


def _existing(s: Session, cands: Sequence[_Candidate]) -> set[sql.ReminderKey]:
    """The keys of the reminders that exist already for these candidates."""
    if not cands:
        return set()
    return sql.existing_keys(s, {c.milestone_id for c in cands}, max(c.due for c in cands))


def create_due(db: Database, settings: Settings, at: datetime, cal: BusinessCalendar) -> int:
    """Step 1 alone: create the rows due at `at` (delivering nothing); how many were new."""
    today = _check_time(at)
    for attempt in range(3):
        try:
            with db.transaction() as s:
                cands = _candidates(s, today, settings.reminders, cal)
                have = _existing(s, cands)
                rows = [
                    {
                        "milestone_id": c.milestone_id,
                        "case_id": c.case_id,
                        "kind": c.kind,
                        "recipient": c.recipient,
                        "due": c.due,
                        "created_at": at,
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": at,
                    }
                    for c in cands
                    if (c.milestone_id, c.kind, c.recipient, c.due) not in have
                ]
                return sql.insert_reminders(s, rows) if rows else 0
        except DBAPIError as e:
            # A milestone deleted by a concurrent replan between our read and our insert, or
            # a deadlock with a writer that locks in another order: read again. (Not through
            # translate_errors: a duplicate here is a reason to retry, not a Conflict.)
            retry = isinstance(e, IntegrityError) or "deadlock" in str(e.orig).lower()
            if attempt == 2 or not retry:
                raise storage_error(e, db) from None
    raise AssertionError("unreachable")


# ------------------------------------------------------------------ claiming and delivering


@dataclass
class _Claimed:
    id: int
    case_id: str
    council: str
    company: str
    key: str
    label: str
    kind: str  # stored
    recipient: str
    due: date
    attempts: int
    officer: str  # the case's officer (for escalations)


def claim(
    s: Session,
    at: datetime,
    worker: str,
    *,
    limit: int = BATCH,
    now: datetime | None = None,
    per_message: timedelta = timedelta(0),
) -> tuple[list[_Claimed], int]:
    """Claim ready rows in the caller's write transaction; returns them and the cancelled count.

    Ready: pending, `next_attempt_at` ≤ `at` (the sweep's time), and unclaimed or with a lease
    that ran out by `now` (the wall clock: a back-filling `kaizen remind --at` in the past
    must not make the scheduler's live claims look expired). On PostgreSQL rows another
    transaction holds are skipped (`FOR UPDATE SKIP LOCKED`).
    """
    now = now or at
    today = at.astimezone(JST).date()
    ids = sql.ready_ids(s, at, now, limit)
    if not ids:
        return [], 0
    sql.stamp_claims(s, ids, worker, now + max(CLAIM_LEASE, per_message))
    finals = _final_stages()
    keep: list[_Claimed] = []
    stale: dict[int, str] = {}
    for r in sql.reminders_by_id(s, ids):
        why = _stale(r, today, finals)
        if why:
            stale[r.id] = why
        else:
            keep.append(_Claimed(*r[:11]))  # the row without its staleness columns
    sql.cancel(s, stale)
    return keep, len(stale)


def _stale(r: sql.ReminderRow, today: date, finals: set[str]) -> str | None:
    """Why a pending reminder must not be sent any more (None: it still holds)."""
    if r.milestone_done is not None:
        return "milestone done"
    if r.milestone_due != r.due:
        return f"milestone moved to {r.milestone_due}"
    if r.stage in finals:
        return f"case closed ({r.stage})"
    if r.kind.startswith("upcoming-") and today > r.due:
        return "no longer upcoming"
    return None


def _officers(s: Session, ids: set[str]) -> dict[str, tuple[str, str | None]]:
    return {oid: (c.name, c.email) for oid, c in sql.contacts(s, ids).items()}


def _item(c: _Claimed, channel: str, error: str | None = None, attempts: int = 0) -> Item:
    kind, window = kind_of(c.kind)
    return Item(
        c.id,
        c.case_id,
        c.council,
        c.key,
        c.label,
        kind,
        window,
        c.recipient,
        c.due,
        channel,
        attempts,
        error,
    )


def sweep(
    db: Database,
    settings: Settings,
    at: datetime,
    calendar: BusinessCalendar,
    mailer: Mailer,
    *,
    dry_run: bool = False,
    worker_id: str | None = None,
    batch: int = BATCH,
    wall: Clock | None = None,
    council: str | None = None,
) -> SweepResult:
    """Create the reminders due at `at` and deliver every pending one whose time has come.

    Rows are claimed `batch` at a time (one e-mail per recipient and batch: with the default
    batch, one per recipient and sweep in practice). `wall` is the real clock (the system
    clock unless a test hands in another): claim leases run on it whatever time `at` says,
    and a sweep at a later `at` is refused — it would mark as sent what is not yet due. A dry
    run may look ahead, and `council` limits it to one council's reminders.
    """
    today = _check_time(at)
    at = at.astimezone(UTC)
    worker = (worker_id or worker_name())[:64]
    result = SweepResult(at=at, today=today, worker=worker, dry_run=dry_run)
    clock = wall or SystemClock()
    if dry_run:
        _preview(db, settings, at, clock.now(), today, calendar, mailer, result, council)
        log.info("%s", result.summary())
        return result
    check_not_future(at, clock.now())

    result.created = create_due(db, settings, at, calendar)
    per_message = _message_lease(settings)
    while True:
        now = clock.now()
        with _tx(db) as s:
            claimed, cancelled = claim(s, at, worker, limit=batch, now=now, per_message=per_message)
            officers = _officers(s, {c.recipient for c in claimed} | {c.officer for c in claimed})
        result.cancelled += cancelled
        if not claimed:
            break
        _deliver(
            db, settings, at, today, calendar, mailer, claimed, officers, worker, result, clock
        )
        if len(claimed) + cancelled < batch:
            break
    log.info("%s", result.summary())
    return result


def check_not_future(at: datetime, now: datetime) -> None:
    """A sweep sends only what is due by the real clock `now`: none at a later time."""
    if at > now:
        raise InvalidInput(
            f"{at.astimezone(JST):%Y-%m-%d %H:%M} は現在 ({now.astimezone(JST):%Y-%m-%d %H:%M})"
            " より後です: まだ期限の来ていないリマインダーは送信できません (--dry-run で確認できます)"
        )


def _message_lease(settings: Settings) -> timedelta:
    """How long one e-mail may take: three SMTP timeouts (connect, send, quit)."""
    return timedelta(seconds=3 * settings.smtp.timeout) if settings.smtp else timedelta(0)


def _deliver(
    db: Database,
    settings: Settings,
    at: datetime,
    today: date,
    cal: BusinessCalendar,
    mailer: Mailer,
    claimed: list[_Claimed],
    officers: dict[str, tuple[str, str | None]],
    worker: str,
    result: SweepResult,
    clock: Clock,
) -> None:
    by_recipient: dict[str, list[_Claimed]] = defaultdict(list)
    for c in claimed:
        by_recipient[c.recipient].append(c)
    mails: list[Mail] = []
    mail_rows: list[list[_Claimed]] = []
    outbox: list[_Claimed] = []
    for rcpt, rows in sorted(by_recipient.items()):
        name, email = officers.get(rcpt, (rcpt, None))
        if mailer.enabled and email:
            mails.append(compose(rcpt, name, email, rows, officers, at, today, cal))
            mail_rows.append(rows)
        else:
            outbox.extend(rows)
    errors = _send_each(db, settings, mailer, mails, mail_rows, worker, clock)
    sent: list[tuple[_Claimed, str]] = [(c, "outbox") for c in outbox]
    failed: list[tuple[_Claimed, str]] = []
    for rows, err in zip(mail_rows, errors, strict=True):
        if not rows:  # another sweep's now
            continue
        if err is None:
            result.emails += 1
            sent.extend((c, "email") for c in rows)
        else:
            log.warning(
                "e-mail to officer %s failed (%d reminder(s))", rows[0].recipient, len(rows)
            )
            failed.extend((c, err) for c in rows)
    rs = settings.reminders
    with _tx(db) as s:
        for channel in ("outbox", "email"):
            ids = [c.id for c, ch in sent if ch == channel]
            n = sql.mark_sent(s, ids, worker, at, channel)
            if n != len(ids):  # our lease ran out and another sweep took some over
                log.warning("%d reminder(s) were re-claimed by another sweep", len(ids) - n)
        for c, err in failed:
            attempts = c.attempts + 1
            gives_up = attempts >= rs.max_attempts
            retry_at = at + timedelta(seconds=rs.retry_base_seconds * 2 ** (attempts - 1))
            sql.mark_failed(
                s,
                c.id,
                worker,
                attempts=attempts,
                error=err,
                retry_at=None if gives_up else retry_at,
            )
            item = _item(c, "email", err, attempts)
            (result.failed if gives_up else result.retrying).append(item)
    result.sent.extend(_item(c, ch) for c, ch in sent)


def _send_each(
    db: Database,
    settings: Settings,
    mailer: Mailer,
    mails: list[Mail],
    mail_rows: list[list[_Claimed]],
    worker: str,
    clock: Clock,
) -> list[str | None]:
    """Send the e-mails one by one, renewing each one's lease just before it goes out (so
    a crash holds rows for one message's lease, not the batch's). A message whose rows
    another sweep took over meanwhile (our lease ran out) is not sent by us."""
    lease = max(_message_lease(settings), timedelta(minutes=1))
    errors: list[str | None] = []
    for i, (mail, rows) in enumerate(zip(mails, mail_rows, strict=True)):
        with _tx(db) as s:
            mine = sql.renew_claims(s, [c.id for c in rows], worker, clock.now() + lease)
        if mine < len(rows):
            log.warning("%d reminder(s) were re-claimed by another sweep", len(rows) - mine)
            mail_rows[i] = []  # nothing of ours to mark
            errors.append(None)
            continue
        errors.append(mailer.send([mail])[0])
    return errors


def _preview(
    db: Database,
    settings: Settings,
    at: datetime,
    now: datetime,
    today: date,
    cal: BusinessCalendar,
    mailer: Mailer,
    result: SweepResult,
    council: str | None = None,
) -> None:
    """What a sweep at `at` would send, read in a read-only session (nothing is written);
    with `council`, only that council's reminders (and counts)."""
    with translate_errors(db), db.reading() as s:
        cands = _candidates(s, today, settings.reminders, cal)
        have = _existing(s, cands)
        new = [c for c in cands if (c.milestone_id, c.kind, c.recipient, c.due) not in have]
        ready = sql.ready_reminders(s, at, now)
        if council is not None:
            new = [c for c in new if c.council == council]
            ready = [r for r in ready if r.council == council]
        officers = _officers(s, {c.recipient for c in new} | {r.recipient for r in ready})

    def channel(rcpt: str) -> str:
        return "email" if mailer.enabled and officers.get(rcpt, ("", None))[1] else "outbox"

    finals = _final_stages()
    for r in ready:
        if _stale(r, today, finals):
            result.cancelled += 1
            continue
        kind, window = kind_of(r.kind)
        result.sent.append(
            Item(
                r.id,
                r.case_id,
                r.council,
                r.key,
                r.label,
                kind,
                window,
                r.recipient,
                r.due,
                channel(r.recipient),
            )
        )
    for c in new:
        kind, window = kind_of(c.kind)
        result.sent.append(
            Item(
                None,
                c.case_id,
                c.council,
                c.key,
                c.label,
                kind,
                window,
                c.recipient,
                c.due,
                channel(c.recipient),
            )
        )
    result.created = len(new)
    result.emails = len({i.to for i in result.sent if i.channel == "email"})


# ------------------------------------------------------------------ `kaizen remind`


def _registered(db: Database, actor_id: str) -> Actor:
    with translate_errors(db), db.reading() as s:
        o = active_officer(s, actor_id)
    if o is None:
        raise PermissionDenied(
            f"'{actor_id}' は登録された担当者ではありません (--as / KAIZEN_USER を確認してください)"
        )
    return Actor(o.id, o.name, o.role, o.council)


def require_scheduler(db: Database, actor_id: str) -> None:
    """`kaizen scheduler run` sends every council's reminders: a registered admin's act."""
    access.require_admin(_registered(db, actor_id), "スケジューラの実行 (kaizen scheduler run)")


def remind(
    db: Database,
    settings: Settings,
    actor_id: str,
    at: datetime,
    calendar: BusinessCalendar,
    mailer: Mailer,
    *,
    dry_run: bool = False,
    wall: Clock | None = None,
) -> SweepResult:
    """A sweep by hand. Sending is an admin's act (it covers every council), for no time
    later than the real clock `wall`; a dry run is open to every officer and lists (and
    counts) only their own council's reminders."""
    _check_time(at)
    actor = _registered(db, actor_id)
    if not dry_run:
        access.require_admin(actor, "リマインダーの送信 (kaizen remind)")
    council = None if actor.role == "admin" else actor.council
    return sweep(db, settings, at, calendar, mailer, dry_run=dry_run, wall=wall, council=council)

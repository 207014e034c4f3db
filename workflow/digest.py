"""The morning digest: each officer's open milestones that are overdue or due soon, once a day.

Sent on business days only, at most once per officer and day across every scheduler (a
`kaizen_meta` row per officer and date); the words are `workflow/mail.py`'s.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from states.calendar import BusinessCalendar
from storage.db import Database
from storage.queries import reminders as sql
from workflow.config import Settings
from workflow.mail import compose_digest
from workflow.mailer import Mailer
from workflow.reminders import _check_time, _Claimed, _final_stages, _tx, worker_name

log = logging.getLogger("kaizen.reminders")


@dataclass
class DigestResult:
    at: datetime
    today: date
    skipped: str | None = None  # why nothing was sent at all (a closed day)
    sent: list[str] = field(default_factory=list)  # officer ids
    already: int = 0  # sent earlier today (by this or another scheduler)
    no_email: int = 0  # officers with items but no address, or no SMTP
    failed: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if self.skipped:
            return f"digest {self.today}: skipped ({self.skipped})"
        return (
            f"digest {self.today}: sent {len(self.sent)}, already sent {self.already}, "
            f"no e-mail {self.no_email}, failed {len(self.failed)}"
        )


def _digest_key(today: date, officer_id: str) -> str:
    key = f"digest:{today.isoformat()}:{officer_id}"
    if len(key) > 64:
        key = f"digest:{today.isoformat()}:#" + hashlib.sha256(officer_id.encode()).hexdigest()[:40]
    return key


def digest(
    db: Database,
    settings: Settings,
    at: datetime,
    calendar: BusinessCalendar,
    mailer: Mailer,
    *,
    worker_id: str | None = None,
) -> DigestResult:
    """The morning summary: each officer's open milestones that are overdue or due soon.

    Sent on business days only, at most once per officer and day across every scheduler:
    the right to send is a `kaizen_meta` row `digest:<date>:<officer>` inserted with ON
    CONFLICT DO NOTHING (removed again if the send fails, so a later run may retry).
    """
    today = _check_time(at)
    at = at.astimezone(UTC)
    result = DigestResult(at=at, today=today)
    if not calendar.is_business_day(today):
        result.skipped = calendar.closed_reason(today) or "closed"
        log.info("%s", result.summary())
        return result
    rs = settings.reminders
    horizon = calendar.add_business_days(today, max(rs.before_days, default=0))
    worker = (worker_id or worker_name())[:64]
    with _tx(db) as s:
        rows = sql.open_milestones(s, horizon, _final_stages(), company=True)
        staff = sql.staff(s)
    per: dict[str, list[_Claimed]] = defaultdict(list)
    for mid, cid, council, company, key, label, due, officer in rows:
        late = calendar.business_days_between(due, today) if due < today else 0
        kind = "upcoming-0" if due >= today else "overdue"
        c = _Claimed(mid, cid, council, company, key, label, kind, officer, due, 0, officer)
        if officer in staff:
            per[officer].append(c)
        if late >= rs.escalate_after_days:
            for sup in staff.values():
                if sup.role == "supervisor" and sup.council == council and sup.id != officer:
                    per[sup.id].append(_replace_kind(c, "escalation", sup.id))
    names = {o.id: (o.name, o.email) for o in staff.values()}
    for oid, items in sorted(per.items()):
        email = staff[oid].email
        if not (mailer.enabled and email):
            result.no_email += 1
            continue
        key = _digest_key(today, oid)
        with _tx(db) as s:
            mine = sql.claim_key(
                s, key, json.dumps({"worker": worker, "at": at.isoformat(), "items": len(items)})
            )
        if not mine:
            result.already += 1
            continue
        mail = compose_digest(oid, staff[oid].name, email, items, names, at, today, calendar)
        err = mailer.send([mail])[0]
        if err is None:
            result.sent.append(oid)
        else:
            log.warning("digest e-mail to officer %s failed", oid)
            result.failed.append(oid)
            with _tx(db) as s:
                sql.drop_key(s, key)
    with _tx(db) as s:  # keep two months of digest records
        old = f"digest:{(today - timedelta(days=62)).isoformat()}"
        sql.drop_keys_before(s, "digest:", old)
    log.info("%s", result.summary())
    return result


def _replace_kind(c: _Claimed, kind: str, recipient: str) -> _Claimed:
    return _Claimed(
        c.id,
        c.case_id,
        c.council,
        c.company,
        c.key,
        c.label,
        kind,
        recipient,
        c.due,
        c.attempts,
        c.officer,
    )

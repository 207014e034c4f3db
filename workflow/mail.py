"""The reminder e-mails' words: one message per officer and sweep, and the morning digest.

Pure functions of the rows to tell about (anything with the `MailRow` attributes: a claimed
reminder, or a milestone for the digest), the recipient and the calendar; `workflow/reminders.py`
decides what to send and when.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime
from typing import Protocol

from states.calendar import BusinessCalendar
from workflow.mailer import Mail

URGENCY = ("escalation", "overdue", "upcoming")  # the order messages list them in
KIND_LABELS = {
    "escalation": "期限超過 (統括責任者への報告)",
    "overdue": "期限超過",
    "upcoming": "まもなく期限",
}
_WEEKDAYS = "月火水木金土日"


class MailRow(Protocol):
    """What a message says about one reminder (or, in a digest, one milestone)."""

    @property
    def id(self) -> int: ...
    @property
    def case_id(self) -> str: ...
    @property
    def company(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def kind(self) -> str: ...  # stored: upcoming-N, overdue, escalation
    @property
    def due(self) -> date: ...
    @property
    def officer(self) -> str: ...  # the case's officer (named in escalations)


def kind_of(stored: str) -> tuple[str, int | None]:
    """'upcoming-7' → ('upcoming', 7); 'overdue' → ('overdue', None)."""
    if stored.startswith("upcoming-"):
        return "upcoming", int(stored.split("-", 1)[1])
    return stored, None


def jdate(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日 ({_WEEKDAYS[d.weekday()]})"


def compose(
    recipient: str,
    name: str,
    email: str,
    rows: Sequence[MailRow],
    officers: dict[str, tuple[str, str | None]],
    at: datetime,
    today: date,
    cal: BusinessCalendar,
    *,
    subject: str | None = None,
    intro: str = "からのお知らせです",
    ref: str = "R",
) -> Mail:
    """One Japanese message listing every reminder of this sweep for one officer.

    Each item ends with its reference (`[R12]`: reminder 12), so a reply can name it.
    """
    groups: dict[str, list[MailRow]] = defaultdict(list)
    for c in rows:
        groups[kind_of(c.kind)[0]].append(c)
    counts = "・".join(f"{KIND_LABELS[k]} {len(groups[k])}件" for k in URGENCY if groups.get(k))
    lines = [
        f"{name} 様",
        "",
        f"Kaizen (経営改善計画策定支援の案件管理) {intro} ({jdate(today)} 現在)。",
        "",
    ]
    for k in URGENCY:
        items = sorted(groups.get(k, []), key=lambda c: (c.due, c.case_id, c.key))
        if not items:
            continue
        lines.append(f"■ {KIND_LABELS[k]} ({len(items)}件)")
        for c in items:
            if k == "upcoming":
                left = cal.business_days_between(today, c.due)
                when = "本日が期限" if left == 0 else f"あと{left}営業日"
            else:
                when = f"{cal.business_days_between(c.due, today)}営業日超過"
            lines.append(f"・{c.case_id} {c.company}")
            lines.append(f"    {c.label}")
            lines.append(f"    期限: {jdate(c.due)} ({when})")
            if k == "escalation":
                officer_name = officers.get(c.officer, (c.officer, None))[0]
                lines.append(f"    担当: {officer_name} ({c.officer})")
            lines.append(f"    [{ref}{c.id}]")
        lines.append("")
    first = min(rows, key=lambda c: (c.due, c.case_id)).case_id
    lines += [
        f"詳しくは 'kaizen case show {first}' などで確認してください。",
        "",
        "-- ",
        "このメールは Kaizen が自動で送信しています。",
    ]
    return Mail(
        recipient=recipient,
        to=email,
        subject=subject or f"【Kaizen】期限のお知らせ: {counts}",
        body="\n".join(lines) + "\n",
        at=at,
    )


def compose_digest(
    recipient: str,
    name: str,
    email: str,
    items: Sequence[MailRow],
    officers: dict[str, tuple[str, str | None]],
    at: datetime,
    today: date,
    cal: BusinessCalendar,
) -> Mail:
    n_late = sum(1 for c in items if c.kind in ("overdue", "escalation"))
    return compose(
        recipient,
        name,
        email,
        items,
        officers,
        at,
        today,
        cal,
        subject=f"【Kaizen】本日の期限一覧 {jdate(today)}: 期限超過 {n_late}件・"
        f"まもなく期限 {len(items) - n_late}件",
        intro="から本日の期限一覧をお送りします",
        ref="M",  # milestone ids: a digest is not a reminder row
    )

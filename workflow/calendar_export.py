"""`kaizen export calendar`: every open milestone as an all-day event (Asia/Tokyo) in an
iCalendar file, so deadlines sit in the officer's own calendar. UIDs are stable (case and
milestone), so importing a newer export updates the events instead of doubling them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from icalendar import Calendar, Event

from states.programs import catalog
from storage.models import Council
from storage.queries import today as q
from workflow import access, store
from workflow.errors import InvalidInput, NotFound
from workflow.exports import atomic
from workflow.today import milestone_command
from workflow.tx import Boundaries, read

PRODID = "-//Kaizen//経営改善計画策定支援 案件管理//JA"


@dataclass(frozen=True)
class CalendarEvent:
    uid: str
    due: date
    summary: str
    description: str
    case: str
    stage_label: str


def _scope(b: Boundaries, actor_id: str, officer: str | None, council: str | None) -> q.Scope:
    if officer is not None and council is not None:
        raise InvalidInput("--officer と --council はどちらか一方を指定してください")
    with read(b) as s:
        who = store.actor(s, actor_id)
        if council is not None:
            if s.get(Council, council) is None:
                raise NotFound(f"協議会 {council} が見つかりません")
            access.require_council(who, council)
            return q.Scope(None, council)
        if officer is not None:
            # Another officer's cases, within the councils the actor may see.
            return q.Scope(officer, None if who.role == "admin" else who.council)
    if who.role == "officer":
        return q.Scope(who.id, None)
    return q.Scope(None, who.council if who.role == "supervisor" else None)


def calendar_events(
    b: Boundaries, actor_id: str, *, officer: str | None = None, council: str | None = None
) -> list[CalendarEvent]:
    """The open milestones of the open cases in scope (default: the actor's own cases; a
    supervisor's: the council's; an admin's: every council's)."""
    scope = _scope(b, actor_id, officer, council)
    final = tuple(k for k, st in catalog().stages.items() if st.final)
    with read(b) as s:
        rows = q.due_by(s, scope, date.max, final)
    out = []
    for d in rows:
        stage = catalog().stage_label(d.case_stage)
        command = milestone_command(d)
        out.append(
            CalendarEvent(
                uid=f"{d.case}.{d.key}@kaizen",
                due=d.due,
                summary=f"{d.label} — {d.company} ({d.case})",
                description=(
                    f"案件: {d.case}\n会社: {d.company}\n段階: {stage}\n"
                    f"期限: {d.label}\n進めるコマンド: {command}"
                ),
                case=d.case,
                stage_label=stage,
            )
        )
    return out


def to_ics(events: list[CalendarEvent], stamp: datetime) -> bytes:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", "Kaizen の期限")
    cal.add("x-wr-timezone", "Asia/Tokyo")
    for e in events:
        ev = Event()
        ev.add("uid", e.uid)
        ev.add("dtstamp", stamp)
        ev.add("dtstart", e.due)  # a date: an all-day event, whatever the zone
        ev.add("dtend", e.due + timedelta(days=1))
        ev.add("summary", e.summary)
        ev.add("description", e.description)
        ev.add("categories", [e.stage_label])
        ev.add("transp", "TRANSPARENT")
        cal.add_component(ev)
    return bytes(cal.to_ical())


def export_calendar(
    b: Boundaries, actor_id: str, path: Path, *, officer: str | None, council: str | None
) -> int:
    """Write the calendar; returns how many events it holds."""
    if path.suffix.lower() != ".ics":
        raise InvalidInput(f"カレンダーは .ics ファイルに書き出します: {path}")
    events = calendar_events(b, actor_id, officer=officer, council=council)
    data = to_ics(events, b.now())

    def write(tmp: Path) -> None:
        tmp.write_bytes(data)

    atomic(path, write)
    return len(events)

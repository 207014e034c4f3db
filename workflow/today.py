"""`kaizen today`: the acting officer's morning — what is late, what falls due, what waits on
someone else, which 405 applications lapse soon, and (supervisors) the exceptions to accept.
Each item carries the command that moves it, written as an officer would type it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta
from functools import cache
from typing import Any

from states import parse
from states.programs import catalog
from states.rules import versions
from storage.queries import today as q
from workflow import store
from workflow.tx import Boundaries, read
from workflow.views import Actor

HORIZON_BUSINESS_DAYS = 10  # "due soon": the next two working weeks
LAPSE_WARNING_DAYS = 92  # a 405 application lapsing within three months is shown
KINDS = ("overdue", "due", "waiting", "lapse", "exception")
KIND_LABELS = {
    "overdue": "期限超過",
    "due": "期限が近い",
    "waiting": "相手待ち",
    "lapse": "失効が近い",
    "exception": "承認待ちの例外",
}


@dataclass(frozen=True)
class TodayItem:
    kind: str  # one of KINDS
    case: str
    company: str
    stage: str
    stage_label: str
    what: str  # in Japanese: the milestone, or whom the case waits on
    due: date | None
    business_days: int | None  # overdue: business days late; due: business days left
    command: str  # the command that moves it


@dataclass(frozen=True)
class TodayView:
    actor: str
    role: str
    scope: str  # in Japanese: 担当の案件 / 協議会 40 / 全協議会
    today: date
    horizon: date
    items: tuple[TodayItem, ...]

    def of(self, kind: str) -> list[TodayItem]:
        return [i for i in self.items if i.kind == kind]

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "actor": self.actor,
            "role": self.role,
            "today": self.today,
            "horizon": self.horizon,
        }
        for kind in KINDS:
            doc[kind] = [{k: v for k, v in asdict(i).items() if k != "kind"} for i in self.of(kind)]
        return doc


def trigger_word(trigger: str) -> str:
    """What an officer types for a trigger: its label, shortened, if that names it."""
    vocab = parse.triggers()
    label = parse.short_label(vocab.labels.get(trigger, trigger))
    return label if " " not in label and vocab.match(label) == trigger else trigger


def advance(case: str, trigger: str) -> str:
    return f"kaizen case advance {case} {trigger_word(trigger)}"


@cache
def _done_by() -> dict[str, str]:
    """Milestone key → the trigger that completes it (rule data, and the computed deadlines)."""
    out = {"certificate_expiry": "apply", "payment_claim_deadline": "decide_payment"}
    for version in versions():
        for template in version.timeline.values():
            for m in template:
                out.setdefault(m.key, m.done_by)
    return out


BACKWARD = frozenset({"reject", "revise", "withdraw", "discontinue"})


def milestone_command(d: q.DueRow) -> str:
    """The command that moves the case towards this milestone: the trigger that completes
    it if the case may fire it now, else the case's next step forward."""
    case, key = d.case, d.key
    if key == "application_lapse":
        return f"kaizen case extend {case} --until YYYY-MM-DD --reason 理由  (統括責任者)"
    if d.stage == "monitoring" and key.startswith("monitoring"):
        if key.endswith("_claim"):
            return advance(case, "claim_monitoring")
        return f"kaizen case report {case}"
    if key == "draft_plan" and d.case_stage == "planning":
        return f"kaizen case plan {case}  →  " + advance(case, "submit_plan")
    forward = [
        t.trigger
        for t in catalog().definition(d.program, d.track).transitions_from(d.case_stage)
        if t.trigger not in BACKWARD
    ]
    done_by = _done_by().get(key)
    if done_by in forward:
        return advance(case, str(done_by))
    return advance(case, forward[0]) if forward else f"kaizen case show {case}"


def _scope(who: Actor) -> tuple[q.Scope, str]:
    if who.role == "officer":
        return q.Scope(who.id, None), "担当の案件"
    if who.role == "supervisor":
        return q.Scope(None, who.council), f"協議会 {who.council} の案件"
    return q.Scope(None, None), "全協議会の案件"


WAITING_STAGES = ("application", "bank_negotiation", "payment_claim", "monitoring")


def _waiting(w: q.WaitingRow, unconsented: list[str], supervisor: bool) -> TodayItem | None:
    def item(kind: str, what: str, command: str, due: date | None = None) -> TodayItem:
        label = catalog().stage_label(w.stage)
        return TodayItem(kind, w.case, w.company, w.stage, label, what, due, None, command)

    if w.stage == "application":
        if not w.reuse_exception:
            return None
        if supervisor:
            return item("exception", "再利用の例外: 統括責任者の受付", advance(w.case, "accept"))
        return item("waiting", "統括責任者の受付 (再利用の例外)", f"kaizen case show {w.case}")
    if w.stage == "bank_negotiation" and unconsented:
        names = "、".join(unconsented)
        what = f"金融機関の{'同意書' if w.program == '405' else '受領書'}: {names}"
        return item("waiting", what, f"kaizen case consent {w.case} {unconsented[0]} --on 日付")
    if w.stage == "payment_claim":
        return item("waiting", "支援機関の支払申請 (費用の実績)", advance(w.case, "decide_payment"))
    if w.stage == "monitoring":
        if w.reports <= w.periods_paid:
            command = f"kaizen case report {w.case}"
            return item("waiting", "支援機関のモニタリング報告", command, w.report_due)
        return item("waiting", "伴走支援費用の支払申請", advance(w.case, "claim_monitoring"))
    return None


def _due_item(kind: str, d: q.DueRow, what: str, days: int) -> TodayItem:
    label = catalog().stage_label(d.case_stage)
    return TodayItem(
        kind, d.case, d.company, d.case_stage, label, what, d.due, days, milestone_command(d)
    )


def today_view(b: Boundaries, actor_id: str) -> TodayView:
    today = b.today()
    horizon = b.calendar.add_business_days(today, HORIZON_BUSINESS_DAYS)
    lapse_until = today + timedelta(days=LAPSE_WARNING_DAYS)
    cat = catalog()
    final = tuple(k for k, st in cat.stages.items() if st.final)
    with read(b) as s:
        who = store.actor(s, actor_id)
        scope, scope_label = _scope(who)
        due = q.due_by(s, scope, max(horizon, lapse_until), final)
        waits = q.waiting(s, scope, WAITING_STAGES)
        unconsented = q.lenders_without_consent(
            s, [w.case for w in waits if w.stage == "bank_negotiation"]
        )
    items: list[TodayItem] = []
    # One line per case and section: its earliest milestone, and how many more are late.
    late: dict[str, list[q.DueRow]] = {}
    soon: dict[str, q.DueRow] = {}
    for d in due:
        if d.due < today:
            late.setdefault(d.case, []).append(d)
        elif d.key == "application_lapse":
            days = b.calendar.business_days_between(today, d.due)
            items.append(_due_item("lapse", d, d.label, days))
        elif d.due <= horizon and d.case not in late:
            soon.setdefault(d.case, d)
    for rows in late.values():
        first, more = rows[0], len(rows) - 1
        what = first.label + (f" (ほか{more}件超過)" if more else "")
        days = b.calendar.business_days_between(first.due, today)
        items.append(_due_item("overdue", first, what, days))
    for d in soon.values():
        items.append(_due_item("due", d, d.label, b.calendar.business_days_between(today, d.due)))
    supervisor = who.role in ("supervisor", "admin")
    for w in waits:
        waiting = _waiting(w, unconsented.get(w.case, []), supervisor)
        if waiting is not None:
            items.append(waiting)
    order = {k: n for n, k in enumerate(KINDS)}
    items.sort(key=lambda i: (order[i.kind], i.due or date.max, i.case))
    return TodayView(who.id, who.role, scope_label, today, horizon, tuple(items))

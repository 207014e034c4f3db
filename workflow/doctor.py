"""`kaizen doctor`: check every invariant of the database and list what breaks it.

Checks (each a name in the report):
- `stage_matches_events`: a case's stage is the target of its last transition/import event;
- `event_path`: events are numbered 1..n without gaps, start at the case's opening (or an
  import), and every transition is an edge of the case's stage graph;
- `orphans`: open milestones and pending reminders belong to cases that are still live;
- `money`: payments never exceed the caps (per phase) nor the subsidy the rules allow;
- `reuse`: every filed case respects the re-use policy of its pinned rule version, counted
  over the uses that came before it; a re-use exception was accepted by a supervisor;
- `derived`: the rows derived from the events are what the events that stand imply after
  corrections — no kind of payment nets below zero or stands without the stage change that
  pays it (a reverted one is reversed), and a live case's open milestones are a replan's.
An admin checks every council's cases (and rows whose case is missing); any other officer only
their own council's (`examine`). The SQL is in storage/queries/doctor.py.
Read-only: it never repairs anything. A row it cannot make sense of (a program, track, stage or
rule version the rule data does not know) is itself reported as a problem, never a crash.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from states.calendar import fiscal_year
from states.money import category_subsidy
from states.programs import Definition, UnknownProgramError, catalog
from states.rules import RuleVersion
from storage.db import Database
from storage.queries import doctor as sql
from storage.queries.doctor import CaseRow as Case
from storage.queries.doctor import CostRow as Cost
from storage.queries.doctor import EventRow as Event
from storage.queries.doctor import PaymentRow as Payment
from workflow import store
from workflow.config import Settings
from workflow.dberrors import translate_errors
from workflow.decide import Env, case_rules, plan
from workflow.errors import KaizenError, PermissionDenied
from workflow.reference import find_version
from workflow.reuse import Use, decide
from workflow.snapshot import EVERYTHING, USES
from workflow.views import Actor

if TYPE_CHECKING:
    from workflow.service import Kaizen


@dataclass(frozen=True)
class Problem:
    check: str
    case: str | None
    message: str


CHECKS = (
    "stage_matches_events",
    "event_path",
    "event_time",
    "orphans",
    "money",
    "reuse",
    "derived",
)
# Clocks of two hosts writing one PostgreSQL database may differ by this much without alarm.
SKEW = timedelta(minutes=5)


def _definition(case: Case, out: list[Problem]) -> Definition | None:
    try:
        return catalog().definition(case.program, case.track)
    except UnknownProgramError:
        out.append(
            Problem(
                "event_path",
                case.id,
                f"program/track {case.program}/{case.track} is not in the rule data: "
                "its path cannot be checked",
            )
        )
        return None


def _rules(settings: Settings, case: Case, check: str, out: list[Problem]) -> RuleVersion | None:
    try:
        return find_version(settings, case.rule_version or "")
    except KaizenError:
        out.append(Problem(check, case.id, f"unknown rule version {case.rule_version!r}"))
        return None


def examine(k: Kaizen, actor_id: str, now: datetime) -> tuple[int, list[Problem]]:
    """`kaizen doctor` for an actor: an admin checks everything, others their council's cases.
    `now` is the real clock's time: no event may have been recorded after it."""
    actor = k.whoami(actor_id)  # an unregistered or inactive user is refused here
    if actor.role == "admin":
        return check_database(k.db, k.settings, now=now, env=k.env())
    if actor.council is None:
        raise PermissionDenied(f"{actor.id} は協議会に所属していません: 検査できる案件がありません")
    return check_database(k.db, k.settings, council=actor.council, now=now, env=k.env())


def check_database(
    db: Database,
    settings: Settings,
    *,
    council: str | None = None,
    now: datetime | None = None,
    env: Env | None = None,
) -> tuple[int, list[Problem]]:
    """(number of cases checked, problems found): every case, or one council's. With `now`
    (the real clock), events recorded after it are problems too."""
    # A file corrupt past its first pages fails here, not at opening: one line, no traceback.
    with translate_errors(db), db.reading() as s:
        cases = {c.id: c for c in sql.cases(s, council)}
        events: dict[str, list[Event]] = defaultdict(list)
        for e in sql.events(s, council):
            events[e.case_id].append(e)
        data = _Data(
            cases,
            events,
            sql.officer_roles(s),
            sql.open_work(s, council),
            sql.payments(s, council),
            sql.costs(s, council),
            sql.company_uses(
                s, None if council is None else {c.company_key for c in cases.values()}
            ),
            _reverted(sql.corrections(s, council)),
            sql.payment_kinds(s, council),
        )
        problems = _check(data, settings, now)
        if env is not None:
            problems += _milestones(s, council, env)
    return len(cases), problems


@dataclass(frozen=True)
class _Data:
    cases: dict[str, Case]
    events: dict[str, list[Event]]
    roles: dict[str, str]
    open_work: list[sql.OpenWork]
    payments: list[Payment]
    costs: list[Cost]
    uses: list[sql.UseRow]
    reverted: dict[str, set[int]] = field(default_factory=dict)  # case -> reverted moves
    payment_net: list[tuple[str, str, int | None, int]] = field(default_factory=list)


def _check(data: _Data, settings: Settings, now: datetime | None) -> list[Problem]:
    out: list[Problem] = []
    definitions = _paths(data, out)
    _times(data, now, out)
    _orphans(data, out)
    _money(data, definitions, settings, out)
    _reuse(data, definitions, settings, out)
    _payments(data, out)
    return out


def _paths(data: _Data, out: list[Problem]) -> dict[str, Definition]:
    """stage_matches_events and event_path; the definitions of the cases it could read."""
    cases, events = data.cases, data.events
    definitions: dict[str, Definition] = {}
    for cid, case in cases.items():
        maybe = _definition(case, out)
        if maybe is None:
            continue
        d = definitions[cid] = maybe
        if case.stage not in d.stage_ids:
            out.append(
                Problem(
                    "stage_matches_events", cid, f"stage {case.stage} is not a stage of {d.key}"
                )
            )
        evs = events.get(cid, [])
        if [e.seq for e in evs] != list(range(1, len(evs) + 1)):
            out.append(
                Problem(
                    "event_path",
                    cid,
                    f"events are not numbered 1..{len(evs)}: {[e.seq for e in evs]}",
                )
            )
        moves = _standing(evs, data.reverted.get(cid, set()))
        if not moves:
            out.append(Problem("event_path", cid, "no opening event"))
            continue
        if moves[-1].to_stage != case.stage:
            out.append(
                Problem(
                    "stage_matches_events",
                    cid,
                    f"stage {case.stage} but the last event leads to {moves[-1].to_stage}",
                )
            )
        first = moves[0]
        if first.from_stage is not None or (
            first.kind == "transition" and first.to_stage != "consultation"
        ):
            out.append(
                Problem(
                    "event_path", cid, f"the first event {first.trigger} does not open the case"
                )
            )
        for prev, e in pairwise(moves):
            if e.kind == "import":
                out.append(
                    Problem("event_path", cid, f"event #{e.seq}: an import after the case's start")
                )
                continue
            if e.from_stage != prev.to_stage:
                out.append(
                    Problem(
                        "event_path",
                        cid,
                        f"event #{e.seq} {e.trigger} starts at {e.from_stage}, not at {prev.to_stage}",
                    )
                )
                continue
            try:
                t = d.transition(e.trigger)
            except KeyError:
                out.append(
                    Problem("event_path", cid, f"event #{e.seq}: unknown trigger {e.trigger}")
                )
                continue
            if e.from_stage not in t.sources or e.to_stage != t.dest:
                out.append(
                    Problem(
                        "event_path",
                        cid,
                        f"event #{e.seq}: {e.from_stage} -{e.trigger}-> {e.to_stage} is not an edge of {d.key}",
                    )
                )
            if e.effective_on < prev.effective_on:
                out.append(
                    Problem("event_path", cid, f"event #{e.seq} is dated before the one it follows")
                )

    return definitions


def _times(data: _Data, now: datetime | None, out: list[Problem]) -> None:
    """event_time: events recorded in order, and none after the real clock (a forged clock)."""
    for cid, evs in data.events.items():
        if cid not in data.cases:
            continue
        for e in evs:
            if now is not None and _utc(e.recorded_at) > now + SKEW:
                out.append(
                    Problem(
                        "event_time",
                        cid,
                        f"event #{e.seq} was recorded at {_utc(e.recorded_at):%Y-%m-%d %H:%M} UTC,"
                        f" after the clock ({now.astimezone(UTC):%Y-%m-%d %H:%M} UTC)",
                    )
                )
        for prev, e in pairwise(evs):
            if _utc(e.recorded_at) < _utc(prev.recorded_at) - SKEW:
                out.append(
                    Problem(
                        "event_time",
                        cid,
                        f"event #{e.seq} was recorded before event #{prev.seq}"
                        f" ({_utc(e.recorded_at):%Y-%m-%d %H:%M} < "
                        f"{_utc(prev.recorded_at):%Y-%m-%d %H:%M} UTC): out of order",
                    )
                )


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _orphans(data: _Data, out: list[Problem]) -> None:
    """Work left on closed (or missing) cases."""
    finals = {c for d in catalog().definitions.values() for c in d.final_stages}
    for w in data.open_work:
        if w.stage is None or w.stage in finals:
            what = f"pending reminder #{w.what}" if w.reminder else f"open milestone {w.what}"
            out.append(Problem("orphans", w.case_id, f"{what} on a closed or missing case"))


def _money(
    data: _Data, definitions: dict[str, Definition], settings: Settings, out: list[Problem]
) -> None:
    cases = data.cases
    payments: dict[str, list[Payment]] = defaultdict(list)
    for pay in data.payments:
        payments[pay.case_id].append(pay)
    costs: dict[str, dict[str, Cost]] = defaultdict(dict)
    for cost_row in data.costs:
        costs[cost_row.case_id][cost_row.category] = cost_row
    for cid, pays in payments.items():
        paid_case = cases.get(cid)
        if paid_case is None:
            out.append(Problem("orphans", cid, "payments of a missing case"))
            continue
        case = paid_case
        if not case.rule_version:
            out.append(Problem("money", cid, "payments on a case without a rule version"))
            continue
        rules = _rules(settings, case, "money", out)
        if rules is None or cid not in definitions:
            continue
        d = definitions[cid]
        for phase, kinds in (
            ("plan", ("plan_first", "plan_second")),
            ("monitoring", ("monitoring",)),
        ):
            cats = [x for x in d.categories if x.phase == phase]
            cap = sum(rules.cap(case.program, case.track, x.id) for x in cats)
            allowed = 0
            for x in cats:
                cost = costs[cid].get(x.id)
                if cost is not None and cost.estimate is not None:
                    allowed += category_subsidy(
                        cost.actual,
                        cost.estimate,
                        rules.cap(case.program, case.track, x.id),
                        rules.rate,
                    )
            paid = sum(p.amount for p in pays if p.kind in kinds)
            if paid > cap:
                out.append(
                    Problem("money", cid, f"{phase} payments {paid:,} exceed the caps {cap:,}")
                )
            elif paid > allowed:
                out.append(
                    Problem(
                        "money",
                        cid,
                        f"{phase} payments {paid:,} exceed the subsidy {allowed:,} of the recorded fees",
                    )
                )


def _reuse(
    data: _Data, definitions: dict[str, Definition], settings: Settings, out: list[Problem]
) -> None:
    """Each filed case against its rule version's re-use policy, over the uses before it."""
    prior: dict[str, list[Use]] = defaultdict(list)
    accepted: dict[str, list[sql.UseRow]] = defaultdict(list)  # by firm, in acceptance order
    for u in data.uses:
        if u.case:
            accepted[u.company_key].append(u)
        else:
            prior[u.company_key].append(
                Use(u.program, u.track, u.fiscal_year or 0, u.paid, f"記録 #{u.source_id}")
            )
    for case in data.cases.values():
        if not case.applied_on or not case.rule_version:
            continue
        earlier = [
            Use(o.program, o.track, fiscal_year(o.accepted_on), o.paid, f"案件 {o.source_id}")
            for o in accepted[case.company_key]
            if o.source_id != case.id and o.accepted_on and o.accepted_on <= case.applied_on
        ]
        rules = _rules(settings, case, "reuse", out)
        if rules is None or case.id not in definitions:
            continue
        decision = decide(
            rules,
            case.program,
            prior[case.company_key] + earlier,
            frozenset(x for x in case.affected.split(",") if x),
            case.reuse_reason,
        )
        # Payments made since are not a reason to doubt the filing: compare without the cap.
        for msg in decision.problems:
            if "上限" not in msg:
                out.append(Problem("reuse", case.id, msg))
        if decision.exception and case.accepted_on:
            acc = [e for e in data.events.get(case.id, []) if e.trigger == "accept"]
            if acc and data.roles.get(acc[-1].actor) != "supervisor":
                out.append(
                    Problem(
                        "reuse",
                        case.id,
                        f"re-use exception accepted by {acc[-1].actor}, not a supervisor",
                    )
                )


# ---------------------------------------------------------------- derived rows (issue 12)


def _reverted(rows: list[tuple[str, str | None]]) -> dict[str, set[int]]:
    out: dict[str, set[int]] = defaultdict(set)
    for cid, detail in rows:
        seq = store.reverted_seq(detail)
        if seq is not None:
            out[cid].add(seq)
    return out


def _standing(evs: list[Event], reverted: set[int]) -> list[Event]:
    """The moves that stand: transitions and imports, a reverted transition left out."""
    return [e for e in evs if e.kind in ("transition", "import") and e.seq not in reverted]


PAID_BY = {"plan_first": ("decide_payment",), "plan_second": ("pay_monitoring", "complete")}


def _payments(data: _Data, out: list[Problem]) -> None:
    """Each kind of payment nets to what the standing stage changes paid: never below zero,
    and nothing left of a payment whose stage change was reverted."""
    for cid, kind, period, net in data.payment_net:
        if net < 0:
            out.append(Problem("derived", cid, f"{kind} payments net {net:,} below zero"))
            continue
        moves = _standing(data.events.get(cid, []), data.reverted.get(cid, set()))
        if net == 0 or any(e.kind == "import" for e in moves):
            continue  # an imported history's payments came with it
        triggers = [e.trigger for e in moves]
        paying = PAID_BY.get(kind, ("pay_monitoring", "complete"))
        made = sum(1 for t in triggers if t in paying)
        if made == 0 or (kind == "monitoring" and (period or 0) > made):
            out.append(
                Problem(
                    "derived",
                    cid,
                    f"{kind} payments {net:,} stand without the stage change that pays them "
                    f"({'/'.join(paying)})",
                )
            )


DOCTOR = Actor("doctor", "kaizen doctor", "admin", None)


def _milestones(s: Session, council: str | None, env: Env) -> list[Problem]:
    """A live case's open milestones are what a replan of its standing facts leaves open
    (a milestone done stays done: only open ones are compared)."""
    finals = {x for d in catalog().definitions.values() for x in d.final_stages}
    out = []
    for cid in sql.live_case_ids(s, council, finals):
        try:
            snap = store.load(s, cid, DOCTOR, EVERYTHING - {USES})
            planned = plan(snap, case_rules(snap.case, env), env)
        except (KaizenError, KeyError, ValueError):
            continue  # a case the rule data cannot read is reported by event_path
        want = {p.key: p.due for p in planned if p.done_on is None}
        rows = snap.milestones
        for key, m in sorted(rows.items()):
            if m.done_on is None and want.get(key) != m.due:
                what = f"due {want[key]}" if key in want else "not in the plan"
                out.append(Problem("derived", cid, f"open milestone {key} ({m.due}): {what}"))
        for key in sorted(set(want) - set(rows)):
            out.append(Problem("derived", cid, f"milestone {key} due {want[key]} is missing"))
    return out

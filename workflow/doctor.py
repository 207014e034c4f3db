"""`kaizen doctor`: check every invariant of the database and list what breaks it.

Checks (each a name in the report):
- `stage_matches_events`: a case's stage is the target of its last transition/import event;
- `event_path`: events are numbered 1..n without gaps, start at the case's opening (or an
  import), and every transition is an edge of the case's stage graph;
- `orphans`: open milestones and pending reminders belong to cases that are still live;
- `money`: payments never exceed the caps (per phase) nor the subsidy the rules allow;
- `reuse`: every filed case respects the re-use policy of its pinned rule version, counted
  over the uses that came before it; a re-use exception was accepted by a supervisor.
Read-only: it never repairs anything. A row it cannot make sense of (a program, track, stage or
rule version the rule data does not know) is itself reported as a problem, never a crash.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from itertools import pairwise

from sqlalchemy import select

from states.calendar import fiscal_year
from states.money import category_subsidy
from states.programs import Definition, UnknownProgramError, catalog
from states.rules import RuleVersion
from storage.db import Database
from storage.models import Case, Cost, Event, Milestone, Officer, Payment, PriorUse, Reminder
from workflow.config import Settings
from workflow.dberrors import translate_errors
from workflow.errors import KaizenError
from workflow.reference import find_version
from workflow.reuse import Use, decide


@dataclass(frozen=True)
class Problem:
    check: str
    case: str | None
    message: str


CHECKS = ("stage_matches_events", "event_path", "orphans", "money", "reuse")


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


def check_database(db: Database, settings: Settings) -> tuple[int, list[Problem]]:
    """(number of cases checked, problems found)."""
    # A file corrupt past its first pages fails here, not at opening: one line, no traceback.
    with translate_errors(db):
        return _check(db, settings)


def _check(db: Database, settings: Settings) -> tuple[int, list[Problem]]:
    out: list[Problem] = []
    cat = catalog()
    with db.reading() as s:
        cases = {c.id: c for c in s.scalars(select(Case))}
        events: dict[str, list[Event]] = defaultdict(list)
        for e in s.scalars(select(Event).order_by(Event.case_id, Event.seq)):
            events[e.case_id].append(e)
        roles = {o.id: o.role for o in s.scalars(select(Officer))}

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
            moves = [e for e in evs if e.kind != "fact"]
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
                        Problem(
                            "event_path", cid, f"event #{e.seq}: an import after the case's start"
                        )
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
                        Problem(
                            "event_path", cid, f"event #{e.seq} is dated before the one it follows"
                        )
                    )

        # orphans: work left on closed cases
        finals = {c for d in cat.definitions.values() for c in d.final_stages}
        for m in s.scalars(select(Milestone).where(Milestone.done_on.is_(None))):
            c = cases.get(m.case_id)
            if c is None or c.stage in finals:
                out.append(
                    Problem(
                        "orphans", m.case_id, f"open milestone {m.key} on a closed or missing case"
                    )
                )
        for r in s.scalars(select(Reminder).where(Reminder.status == "pending")):
            c = cases.get(r.case_id)
            if c is None or c.stage in finals:
                out.append(
                    Problem(
                        "orphans",
                        r.case_id,
                        f"pending reminder #{r.id} on a closed or missing case",
                    )
                )

        # money
        payments: dict[str, list[Payment]] = defaultdict(list)
        for pay in s.scalars(select(Payment)):
            payments[pay.case_id].append(pay)
        costs: dict[str, dict[str, Cost]] = defaultdict(dict)
        for cost_row in s.scalars(select(Cost)):
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

        # re-use, in filing order
        prior: dict[str, list[Use]] = defaultdict(list)
        for p in s.scalars(select(PriorUse)):
            prior[p.company_key].append(
                Use(p.program, p.track, p.fiscal_year, p.paid, f"記録 #{p.id}")
            )
        accepted = sorted(
            (c for c in cases.values() if c.accepted_on),
            key=lambda c: (c.accepted_on or date.min, c.id),
        )
        for case in cases.values():
            if not case.applied_on or not case.rule_version:
                continue
            earlier = [
                Use(
                    o.program,
                    o.track,
                    fiscal_year(o.accepted_on),
                    sum(p.amount for p in payments.get(o.id, [])),
                    f"案件 {o.id}",
                )
                for o in accepted
                if o.company_key == case.company_key
                and o.id != case.id
                and o.accepted_on
                and o.accepted_on <= case.applied_on
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
                acc = [e for e in events.get(case.id, []) if e.trigger == "accept"]
                if acc and roles.get(acc[-1].actor) != "supervisor":
                    out.append(
                        Problem(
                            "reuse",
                            case.id,
                            f"re-use exception accepted by {acc[-1].actor}, not a supervisor",
                        )
                    )
    return len(cases), out

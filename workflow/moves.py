"""Use cases that change a case: fire a trigger, record a fact — each one transaction.

Both take the same road: load the snapshot the decision needs (`store.load`), decide
(`decide.decide_move`, `facts.decide_fact`: pure), write the change set (`store.apply`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date

from workflow import access, cases, store
from workflow.corrections import (
    CaseEdit,
    company_changes,
    decide_company_edit,
    decide_edit,
    decide_revert,
    decide_void,
)
from workflow.decide import Env, decide_move, definition, needs_for
from workflow.facts import FactCommand, decide_fact, needs_of
from workflow.inputs import text
from workflow.snapshot import COSTS, HISTORY, LENDERS, PAYMENTS, Decision, Needs, Snapshot
from workflow.tx import Boundaries, write
from workflow.views import Actor, CaseView

# Called after the snapshot is loaded and before anything is written (tests hold two
# concurrent commands here to prove the version check).
Hook = Callable[[Snapshot], None]


@dataclass(frozen=True)
class Moved:
    case: str
    from_stage: str
    to_stage: str
    version: int


def change(
    b: Boundaries,
    actor_id: str,
    case_id: str,
    needs: Callable[[Snapshot], Needs],
    decide: Callable[[Snapshot, Actor, Env], Decision],
    hook: Hook | None = None,
) -> Decision:
    """Load, decide, write: the one road of every command that changes a case."""
    return _change(b, actor_id, case_id, needs, decide, hook, view=False)[0]


def _change(
    b: Boundaries,
    actor_id: str,
    case_id: str,
    needs: Callable[[Snapshot], Needs],
    decide: Callable[[Snapshot, Actor, Env], Decision],
    hook: Hook | None,
    *,
    view: bool,
) -> tuple[Decision, CaseView | None]:
    """`change`, and with `view` the case as it now stands, read in the same transaction from
    the decision's snapshot (what the command did not load is read after the write)."""
    with write(b) as s:
        who = store.actor(s, actor_id)
        snap = store.load(s, case_id, who, frozenset())
        snap = store.fill(s, snap, needs(snap))
        if hook is not None:
            hook(snap)
        decision = decide(snap, who, b.env())
        store.apply(s, decision.changes, b.now())
        return decision, cases.view_after(b, s, decision.after, who) if view else None


Decide = Callable[[Snapshot, Actor, Env], Decision]
NeedsOf = Callable[[Snapshot], Needs]


def _trigger(trigger: str, on: date | None, reason: str | None) -> tuple[NeedsOf, Decide]:
    """What firing `trigger` loads, and its decision."""
    why = text(reason, "理由")
    return (
        lambda snap: needs_for(definition(snap.case), snap.case, trigger),
        lambda snap, who, env: decide_move(snap, who, trigger, on, why, env),
    )


def _fact(cmd: FactCommand) -> tuple[NeedsOf, Decide]:
    """What recording `cmd` loads, and its decision."""
    return (lambda snap: needs_of(cmd), lambda snap, who, env: decide_fact(snap, who, cmd, env))


def _viewed(
    b: Boundaries, actor_id: str, case_id: str, parts: tuple[NeedsOf, Decide], hook: Hook | None
) -> CaseView:
    _, shown = _change(b, actor_id, case_id, *parts, hook, view=True)
    assert shown is not None
    return shown


def advance(
    b: Boundaries,
    actor_id: str,
    case_id: str,
    trigger: str,
    *,
    on: date | None = None,
    reason: str | None = None,
    hook: Hook | None = None,
) -> CaseView:
    """Fire a trigger and return the case as it stands, in one transaction."""
    return _viewed(b, actor_id, case_id, _trigger(trigger, on, reason), hook)


def record_viewed(
    b: Boundaries, actor_id: str, case_id: str, cmd: FactCommand, hook: Hook | None = None
) -> CaseView:
    """Record one fact and return the case as it stands, in one transaction."""
    return _viewed(b, actor_id, case_id, _fact(cmd), hook)


def move(
    b: Boundaries,
    actor_id: str,
    case_id: str,
    trigger: str,
    *,
    on: date | None = None,
    reason: str | None = None,
    hook: Hook | None = None,
) -> Moved:
    d = change(b, actor_id, case_id, *_trigger(trigger, on, reason), hook)
    ev = d.changes.events[-1]
    return Moved(d.changes.case_id, ev.from_stage or "", ev.to_stage, d.after.case.version)


def record(
    b: Boundaries, actor_id: str, case_id: str, cmd: FactCommand, hook: Hook | None = None
) -> str:
    """Record one fact; returns the case id."""
    return change(b, actor_id, case_id, *_fact(cmd), hook).changes.case_id


# ---------------------------------------------------------------- corrections (issue 12)

CORRECTION_NEEDS: Needs = frozenset({HISTORY, LENDERS, COSTS, PAYMENTS})


def void(
    b: Boundaries, actor_id: str, case_id: str, seq: int, reason: str | None, hook: Hook | None
) -> Decision:
    why = text(reason, "理由")
    return _correct(
        b, actor_id, case_id, lambda snap, who, env: decide_void(snap, who, seq, why, env), hook
    )


def revert(
    b: Boundaries, actor_id: str, case_id: str, reason: str | None, hook: Hook | None
) -> Decision:
    why = text(reason, "理由")
    return _correct(
        b, actor_id, case_id, lambda snap, who, env: decide_revert(snap, who, why, env), hook
    )


def _correct(
    b: Boundaries,
    actor_id: str,
    case_id: str,
    decide: Callable[[Snapshot, Actor, Env], Decision],
    hook: Hook | None,
) -> Decision:
    return change(b, actor_id, case_id, lambda snap: CORRECTION_NEEDS, decide, hook)


def edit(
    b: Boundaries,
    actor_id: str,
    case_id: str,
    edit: CaseEdit,
    officer_id: str | None,
    reason: str | None,
) -> Decision:
    """Edit a case; the officer put in charge is read in the same transaction."""
    why = text(reason, "理由")
    with write(b) as s:
        who = store.actor(s, actor_id)
        if officer_id is not None:
            edit = replace(edit, officer=store.officer(s, officer_id))
        snap = store.load(s, case_id, who, CORRECTION_NEEDS)
        decision = decide_edit(snap, who, edit, why, b.env())
        store.apply(s, decision.changes, b.now())
        return decision


def edit_company(
    b: Boundaries, actor_id: str, key: str, fields: dict[str, object], reason: str | None
) -> list[tuple[str, object, object]]:
    """Change a company's facts: its row, one `company_changes` row per field, and its open
    cases replanned when their timeline moves; returns (field, old, new)."""
    why = text(reason, "理由")
    with write(b) as s:
        who = store.actor(s, actor_id)
        company = store.company(s, key)
        new = replace(company, **fields)  # type: ignore[arg-type]
        snaps = [
            store.load(s, cid, who, CORRECTION_NEEDS)
            if access.can_see_council(who, council)
            else _refuse(who, council)
            for cid, council in store.company_cases(s, company.key)
        ]
        env = b.env()
        decisions = decide_company_edit(company, new, snaps, who, why, env)
        store.update_company(s, company, new, who.id, why or "", b.now())
        for d in decisions:
            store.apply(s, d.changes, b.now())
        return [(f, o, n) for f, (o, n) in company_changes(company, new).items()]


def _refuse(who: Actor, council: str) -> Snapshot:
    access.require_council(who, council)
    raise AssertionError("unreachable")

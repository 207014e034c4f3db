"""Use cases that change a case: fire a trigger, record a fact — each one transaction.

Both take the same road: load the snapshot the decision needs (`store.load`), decide
(`decide.decide_move`, `facts.decide_fact`: pure), write the change set (`store.apply`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from workflow import store
from workflow.decide import Env, decide_move, definition, needs_for
from workflow.facts import FactCommand, decide_fact, needs_of
from workflow.inputs import text
from workflow.snapshot import Decision, Needs, Snapshot
from workflow.tx import Boundaries, write
from workflow.views import Actor

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
    with write(b) as s:
        who = store.actor(s, actor_id)
        snap = store.load(s, case_id, who, frozenset())
        snap = store.fill(s, snap, needs(snap))
        if hook is not None:
            hook(snap)
        decision = decide(snap, who, b.env())
        store.apply(s, decision.changes, b.now())
        return decision


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
    why = text(reason, "理由")
    d = change(
        b,
        actor_id,
        case_id,
        lambda snap: needs_for(definition(snap.case), snap.case, trigger),
        lambda snap, who, env: decide_move(snap, who, trigger, on, why, env),
        hook,
    )
    ev = d.changes.events[-1]
    return Moved(d.changes.case_id, ev.from_stage or "", ev.to_stage, d.after.case.version)


def record(
    b: Boundaries, actor_id: str, case_id: str, cmd: FactCommand, hook: Hook | None = None
) -> str:
    """Record one fact; returns the case id."""
    d = change(
        b,
        actor_id,
        case_id,
        lambda snap: needs_of(cmd),
        lambda snap, who, env: decide_fact(snap, who, cmd, env),
        hook,
    )
    return d.changes.case_id

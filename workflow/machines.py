"""One `transitions` machine per (program, track), built once and shared by every case.

A case is not a machine: its stage lives in the database. To fire a trigger, the engine hands
the shared machine a small `Token` carrying the case's current stage and the guard context;
the machine checks that the trigger exists from that stage, runs the guard condition (which
collects every failed condition in words), and moves the token. Building a `Machine` costs
~0.3 ms and ~80 KB, so it never happens per case (design.md §2; a test counts the builds).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from transitions import Machine, MachineError

from states.programs import INITIAL_STAGE, catalog

BUILDS = {"count": 0}  # machines built in this process (tests assert it stays at the few)


@dataclass
class Token:
    """What the shared machine moves: a stage and the failures the guard found."""

    state: str
    check: Callable[[str], list[str]] | None = None
    failures: list[str] = field(default_factory=list)


def _guard(event_data: Any) -> bool:
    token: Token = event_data.model
    if token.check is None:
        return True
    token.failures = token.check(event_data.event.name)
    return not token.failures


@cache
def machine_for(program: str, track: str) -> Machine:
    d = catalog().definition(program, track)
    BUILDS["count"] += 1
    m = Machine(
        model=None,
        states=list(d.stage_ids),
        initial=INITIAL_STAGE,
        auto_transitions=False,
        send_event=True,
        ignore_invalid_triggers=False,
    )
    for t in d.transitions:
        m.add_transition(t.trigger, list(t.sources), t.dest, conditions=[_guard])
    return m


def allowed_triggers(program: str, track: str, stage: str) -> list[str]:
    """Triggers that exist from a stage (guards not evaluated), in the definition's order."""
    return list(machine_for(program, track).get_triggers(stage))


class TriggerNotAvailable(Exception):
    pass


def fire(program: str, track: str, token: Token, trigger: str) -> bool:
    """Move the token; False when a guard failed (its reasons are in `token.failures`)."""
    m = machine_for(program, track)
    event = m.events.get(trigger)
    if event is None:
        raise TriggerNotAvailable(trigger)
    try:
        return bool(event.trigger(token))
    except MachineError as e:
        raise TriggerNotAvailable(trigger) from e

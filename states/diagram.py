"""Mermaid `stateDiagram-v2` text for one program and track, from the engine's own definition."""

from __future__ import annotations

from states.programs import INITIAL_STAGE, Definition


def mermaid(definition: Definition) -> str:
    """States carry their Japanese labels; edges carry the trigger id and its label."""
    lines = [
        "---",
        f"title: {definition.program} / {definition.track}",
        "---",
        "stateDiagram-v2",
    ]
    for s in definition.stages:
        lines.append(f'    state "{s.label}" as {s.id}')
    lines.append(f"    [*] --> {INITIAL_STAGE}")
    for t in definition.transitions:
        for src in t.sources:
            lines.append(f"    {src} --> {t.dest}: {t.trigger} {t.label}")
    for final in definition.final_stages:
        lines.append(f"    {final} --> [*]")
    return "\n".join(lines) + "\n"

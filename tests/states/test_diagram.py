"""Tests for states.diagram: the Mermaid picture is exactly the engine's definition."""

from __future__ import annotations

import re

import pytest

from states.diagram import mermaid
from states.programs import INITIAL_STAGE, Definition, definition

PAIRS = [("405", "normal"), ("405", "gl"), ("early", "normal"), ("early", "guarantee")]

STATE = re.compile(r'^    state "(?P<label>[^"]+)" as (?P<id>[a-z_]+)$')
START = re.compile(r"^    \[\*\] --> (?P<dest>[a-z_]+)$")
EDGE = re.compile(
    r"^    (?P<src>[a-z_]+) --> (?P<dest>[a-z_]+): (?P<trigger>[a-z_]+) (?P<label>\S.*)$"
)
END = re.compile(r"^    (?P<src>[a-z_]+) --> \[\*\]$")


def _body(d: Definition) -> list[str]:
    lines = mermaid(d).splitlines()
    return lines[4:]


@pytest.mark.parametrize(("program", "track"), PAIRS)
def test_front_matter(program: str, track: str) -> None:
    text = mermaid(definition(program, track))
    assert text.splitlines()[:4] == ["---", f"title: {program} / {track}", "---", "stateDiagram-v2"]
    assert text.endswith("\n") and not text.endswith("\n\n")


@pytest.mark.parametrize(("program", "track"), PAIRS)
def test_every_line_has_a_known_shape(program: str, track: str) -> None:
    for line in _body(definition(program, track)):
        assert any(p.match(line) for p in (STATE, START, EDGE, END)), line


@pytest.mark.parametrize(("program", "track"), PAIRS)
def test_states_declared_once_with_labels(program: str, track: str) -> None:
    d = definition(program, track)
    declared: list[tuple[str, str]] = [
        (m["id"], m["label"]) for line in _body(d) if (m := STATE.match(line))
    ]
    assert [i for i, _ in declared] == list(d.stage_ids)
    assert len({i for i, _ in declared}) == len(declared)
    assert dict(declared) == {s.id: s.label for s in d.stages}


@pytest.mark.parametrize(("program", "track"), PAIRS)
def test_edges_are_the_transitions(program: str, track: str) -> None:
    d = definition(program, track)
    body = _body(d)
    edges = [m.group("src", "dest", "trigger", "label") for line in body if (m := EDGE.match(line))]
    expected = {(s, t.dest, t.trigger) for t in d.transitions for s in t.sources}
    assert {e[:3] for e in edges} == expected
    assert len(edges) == len(expected)  # no edge drawn twice
    labels = {t.trigger: t.label for t in d.transitions}
    for _, _, trigger, label in edges:
        assert label == labels[trigger]
    # Every edge joins declared states.
    declared = {m.group("id") for line in body if (m := STATE.match(line))}
    assert {e[0] for e in edges} | {e[1] for e in edges} <= declared


@pytest.mark.parametrize(("program", "track"), PAIRS)
def test_start_and_final_markers(program: str, track: str) -> None:
    d = definition(program, track)
    body = _body(d)
    assert [m.group("dest") for line in body if (m := START.match(line))] == [INITIAL_STAGE]
    finals = [m.group("src") for line in body if (m := END.match(line))]
    assert sorted(finals) == sorted(d.final_stages)
    assert set(finals) == {"completed", "rejected", "withdrawn", "discontinued"}


@pytest.mark.parametrize(
    ("pair", "present", "absent"),
    [
        (("405", "normal"), "application --> due_diligence: accept", "application --> planning"),
        (("405", "gl"), "due_diligence --> planning: start_planning", "early"),
        (("early", "normal"), "application --> planning: accept", "due_diligence"),
        (("early", "guarantee"), "application --> planning: accept", "due_diligence"),
    ],
)
def test_program_specific_edges(pair: tuple[str, str], present: str, absent: str) -> None:
    text = "\n".join(_body(definition(*pair)))
    assert present in text
    assert absent not in text


def test_tracks_of_one_program_draw_the_same_graph() -> None:
    # Guards differ per track, the stage graph does not: only the title changes.
    for program, a, b in [("405", "normal", "gl"), ("early", "normal", "guarantee")]:
        assert _body(definition(program, a)) == _body(definition(program, b))

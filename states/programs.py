"""The programs' stage graphs, guards and cost categories, loaded from `data/programs.toml`.

One `Definition` per (program, track) is what the engine builds its state machine from and
what `kaizen diagram` draws: the same data, so the picture cannot drift from the behaviour.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

INITIAL_STAGE = "consultation"
PHASES = ("plan", "monitoring")
CASE_OPTIONS = ("guarantee_release", "interim_monitoring")


class RuleDataError(ValueError):
    """A rule data file is malformed; the message names the file and the offending key."""


class UnknownProgramError(ValueError):
    """A program or track id that the rules do not define."""


@dataclass(frozen=True)
class Stage:
    id: str
    label: str
    order: int
    final: bool
    programs: frozenset[str] | None  # None: every program
    form: str | None = None  # the form filed at this stage, where it has one


@dataclass(frozen=True)
class Guard:
    id: str
    label: str
    applies: frozenset[str] | None  # "program/track" keys; None: wherever its trigger is
    source: str


@dataclass(frozen=True)
class Transition:
    trigger: str
    label: str
    sources: tuple[str, ...]
    dest: str
    guards: tuple[str, ...]

    @property
    def needs_reason(self) -> bool:
        return "reason_given" in self.guards


@dataclass(frozen=True)
class Category:
    id: str
    label: str
    phase: str
    needs: str | None  # a case option without which the category does not apply
    optional: bool = False  # at the firm's wish: no estimate required


@dataclass(frozen=True)
class FactWindow:
    """The stages at which a fact may be recorded, and the refusal's wording otherwise."""

    stages: tuple[str, ...]
    refusal: str | None  # None: "<fact>は <stages> の段階でのみ登録できます"


@dataclass(frozen=True)
class FactRule:
    id: str
    label: str
    window: FactWindow | None  # None: any stage (or decided by phase)
    by_phase: Mapping[str, FactWindow]
    source: str

    def window_for(self, phase: str | None = None) -> FactWindow | None:
        if phase is not None and phase in self.by_phase:
            return self.by_phase[phase]
        return self.window


@dataclass(frozen=True)
class Program:
    id: str
    label: str
    short: str
    tracks: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class Definition:
    """The stage graph and categories of one program and track."""

    program: str
    track: str
    stages: tuple[Stage, ...]
    transitions: tuple[Transition, ...]
    categories: tuple[Category, ...]
    guards: Mapping[str, Guard]

    @property
    def key(self) -> str:
        return f"{self.program}/{self.track}"

    @property
    def stage_ids(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.stages)

    @property
    def final_stages(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.stages if s.final)

    @property
    def triggers(self) -> tuple[str, ...]:
        return tuple(t.trigger for t in self.transitions)

    def transition(self, trigger: str) -> Transition:
        for t in self.transitions:
            if t.trigger == trigger:
                return t
        raise KeyError(trigger)

    def transitions_from(self, stage: str) -> tuple[Transition, ...]:
        return tuple(t for t in self.transitions if stage in t.sources)

    def category(self, category_id: str) -> Category:
        for c in self.categories:
            if c.id == category_id:
                return c
        raise KeyError(category_id)

    def categories_for(self, options: frozenset[str] | set[str]) -> tuple[Category, ...]:
        """The categories a case with these options (`CASE_OPTIONS`) may claim."""
        return tuple(c for c in self.categories if c.needs is None or c.needs in options)


@dataclass(frozen=True)
class Catalog:
    programs: Mapping[str, Program]
    track_labels: Mapping[str, str]
    track_since: Mapping[str, date]
    stages: Mapping[str, Stage]
    guards: Mapping[str, Guard]
    definitions: Mapping[str, Definition]
    facts: Mapping[str, FactRule]

    def definition(self, program: str, track: str) -> Definition:
        if program not in self.programs:
            known = ", ".join(self.programs)
            raise UnknownProgramError(f"不明な事業 (program) '{program}': {known} のいずれか")
        key = f"{program}/{track}"
        if key not in self.definitions:
            known = ", ".join(self.programs[program].tracks)
            raise UnknownProgramError(
                f"事業 {program} に枠 (track) '{track}' はありません: {known} のいずれか"
            )
        return self.definitions[key]

    def stage_label(self, stage: str) -> str:
        return self.stages[stage].label if stage in self.stages else stage


def _need(table: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in table:
        raise RuleDataError(f"{where}: '{key}' is missing")
    value = table[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise RuleDataError(f"{where}.{key}: expected {kind}, got {value!r}")
    return value


def _applies(guard: Guard, key: str) -> bool:
    """A guard without `applies` applies everywhere; `applies = []` applies nowhere."""
    return guard.applies is None or key in guard.applies


def parse_catalog(raw: Mapping[str, Any], where: str = "programs.toml") -> Catalog:
    """Validate the raw TOML and build the catalog; every error names its key."""
    stages: dict[str, Stage] = {}
    for sid, st in _need(raw, "stages", dict, where).items():
        w = f"{where}: stages.{sid}"
        progs = st.get("programs")
        stages[sid] = Stage(
            id=sid,
            label=_need(st, "label", str, w),
            order=_need(st, "order", int, w),
            final=bool(st.get("final", False)),
            programs=frozenset(progs) if progs is not None else None,
            form=st.get("form"),
        )
    if INITIAL_STAGE not in stages:
        raise RuleDataError(f"{where}: the initial stage '{INITIAL_STAGE}' is missing")

    programs: dict[str, Program] = {}
    for pid, pt in _need(raw, "programs", dict, where).items():
        w = f"{where}: programs.{pid}"
        programs[pid] = Program(
            id=pid,
            label=_need(pt, "label", str, w),
            short=_need(pt, "short", str, w),
            tracks=tuple(_need(pt, "tracks", list, w)),
            source=_need(pt, "source", str, w),
        )
    tracks_raw = _need(raw, "tracks", dict, where)
    track_labels = {
        t: _need(v, "label", str, f"{where}: tracks.{t}") for t, v in tracks_raw.items()
    }
    track_since = {t: v["since"] for t, v in tracks_raw.items() if "since" in v}
    pairs = {f"{p.id}/{t}" for p in programs.values() for t in p.tracks}
    for p in programs.values():
        for t in p.tracks:
            if t not in track_labels:
                raise RuleDataError(f"{where}: programs.{p.id}.tracks: unknown track '{t}'")

    guards: dict[str, Guard] = {}
    for gid, gt in _need(raw, "guards", dict, where).items():
        w = f"{where}: guards.{gid}"
        applies = gt.get("applies")
        if applies is not None and not set(applies) <= pairs:
            raise RuleDataError(f"{w}.applies: unknown program/track in {applies}")
        guards[gid] = Guard(
            id=gid,
            label=_need(gt, "label", str, w),
            applies=frozenset(applies) if applies is not None else None,
            source=_need(gt, "source", str, w),
        )

    raw_transitions = _need(raw, "transitions", list, where)
    seen: set[str] = set()
    for i, tt in enumerate(raw_transitions):
        w = f"{where}: transitions[{i}]"
        trig = _need(tt, "trigger", str, w)
        if trig in seen:
            raise RuleDataError(f"{w}: trigger '{trig}' is defined twice")
        seen.add(trig)
        for s in [
            *_need(tt, "source", list, w),
            _need(tt, "dest", str, w),
            *tt.get("dest_by_program", {}).values(),
        ]:
            if s not in stages:
                raise RuleDataError(f"{w}: unknown stage '{s}'")
        for g in _need(tt, "guards", list, w):
            if g not in guards:
                raise RuleDataError(f"{w}: unknown guard '{g}'")
        finals = [s for s in tt["source"] if stages[s].final]
        if finals:
            raise RuleDataError(f"{w}: trigger '{trig}' leaves final stage(s) {finals}")

    cats_raw = _need(raw, "categories", dict, where)
    definitions: dict[str, Definition] = {}
    for key in sorted(pairs):
        program, track = key.split("/")
        transitions = []
        for tt in raw_transitions:
            if "programs" in tt and program not in tt["programs"]:
                continue
            dest = tt.get("dest_by_program", {}).get(program, tt["dest"])
            # Shared source lists (withdraw, discontinue) name every stage; keep this program's.
            srcs = tuple(s for s in tt["source"] if program in (stages[s].programs or {program}))
            tguards = tuple(g for g in tt["guards"] if _applies(guards[g], key))
            transitions.append(
                Transition(
                    tt["trigger"],
                    _need(tt, "label", str, f"{where}: transitions[{raw_transitions.index(tt)}]"),
                    srcs,
                    dest,
                    tguards,
                )
            )
        used = (
            {INITIAL_STAGE}
            | {t.dest for t in transitions}
            | {s for t in transitions for s in t.sources}
        )
        for s in used:
            progs = stages[s].programs
            if progs is not None and program not in progs:
                raise RuleDataError(f"{where}: stage '{s}' is not a stage of program {program}")
        def_stages = tuple(sorted((stages[s] for s in used), key=lambda s: s.order))
        if key not in cats_raw or not cats_raw[key]:
            raise RuleDataError(f'{where}: categories."{key}" is missing')
        categories = []
        for cid, ct in cats_raw[key].items():
            w = f'{where}: categories."{key}".{cid}'
            phase = _need(ct, "phase", str, w)
            if phase not in PHASES:
                raise RuleDataError(f"{w}.phase: '{phase}' is not one of {PHASES}")
            needs = ct.get("needs")
            if needs is not None and needs not in CASE_OPTIONS:
                raise RuleDataError(f"{w}.needs: '{needs}' is not one of {CASE_OPTIONS}")
            optional = ct.get("optional", False)
            if not isinstance(optional, bool):
                raise RuleDataError(f"{w}.optional: expected true or false, got {optional!r}")
            categories.append(Category(cid, _need(ct, "label", str, w), phase, needs, optional))
        definitions[key] = Definition(
            program, track, def_stages, tuple(transitions), tuple(categories), guards
        )
    extra = set(cats_raw) - pairs
    if extra:
        raise RuleDataError(f"{where}: categories for unknown program/track {sorted(extra)}")
    facts = _parse_facts(raw.get("facts", {}), stages, where)
    return Catalog(programs, track_labels, track_since, stages, guards, definitions, facts)


def _window(table: Mapping[str, Any], stages: Mapping[str, Stage], w: str) -> FactWindow:
    ids = tuple(_need(table, "stages", list, w))
    unknown = [s for s in ids if s not in stages]
    if unknown:
        raise RuleDataError(f"{w}.stages: unknown stage(s) {unknown}")
    refusal = table.get("refusal")
    if refusal is not None and not isinstance(refusal, str):
        raise RuleDataError(f"{w}.refusal: expected a string, got {refusal!r}")
    return FactWindow(ids, refusal)


def _parse_facts(
    raw: Mapping[str, Any], stages: Mapping[str, Stage], where: str
) -> dict[str, FactRule]:
    """`[facts.<id>]`: where each recorded fact is accepted (rule data, not code)."""
    out: dict[str, FactRule] = {}
    for fid, ft in raw.items():
        w = f"{where}: facts.{fid}"
        by_phase_raw = ft.get("by_phase", {})
        unknown = set(by_phase_raw) - set(PHASES)
        if unknown:
            raise RuleDataError(f"{w}.by_phase: '{sorted(unknown)}' not in {PHASES}")
        out[fid] = FactRule(
            id=fid,
            label=_need(ft, "label", str, w),
            window=_window(ft, stages, w) if "stages" in ft else None,
            by_phase={
                ph: _window(t, stages, f"{w}.by_phase.{ph}") for ph, t in by_phase_raw.items()
            },
            source=_need(ft, "source", str, w),
        )
    return out


def load_catalog(path: Path | None = None) -> Catalog:
    """Read and validate a programs file (the packaged one by default)."""
    if path is None:
        text = resources.files("states").joinpath("data/programs.toml").read_text("utf-8")
        name = "programs.toml"
    else:
        text = path.read_text("utf-8")
        name = str(path)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise RuleDataError(f"{name}: {e}") from e
    return parse_catalog(raw, name)


@cache
def catalog() -> Catalog:
    """The packaged catalog, loaded once per process."""
    return load_catalog()


def definition(program: str, track: str) -> Definition:
    return catalog().definition(program, track)

"""Tests for states.programs: stage graphs, guards and categories per program/track (rules.md §2–§3)."""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Callable
from importlib import resources
from typing import Any

import pytest

from states.programs import (
    INITIAL_STAGE,
    Catalog,
    Definition,
    RuleDataError,
    UnknownProgramError,
    catalog,
    definition,
    parse_catalog,
)

PAIRS = [("405", "normal"), ("405", "gl"), ("early", "normal"), ("early", "guarantee")]
FINAL = {"completed", "rejected", "withdrawn", "discontinued"}
BEFORE_MONITORING_405 = [
    "consultation",
    "application",
    "due_diligence",
    "planning",
    "bank_negotiation",
    "payment_claim",
]
BEFORE_MONITORING_EARLY = [s for s in BEFORE_MONITORING_405 if s != "due_diligence"]


def _raw() -> dict[str, Any]:
    text = resources.files("states").joinpath("data/programs.toml").read_text("utf-8")
    return tomllib.loads(text)


RAW = _raw()


def _defs() -> list[Definition]:
    return [definition(p, t) for p, t in PAIRS]


# ---------------------------------------------------------------- stages and triggers


@pytest.mark.parametrize(
    ("pair", "stages"),
    [
        (
            ("405", "normal"),
            [
                "consultation",
                "application",
                "due_diligence",
                "planning",
                "bank_negotiation",
                "payment_claim",
                "monitoring",
                "monitoring_claim",
                "completed",
                "rejected",
                "withdrawn",
                "discontinued",
            ],
        ),
        (
            ("405", "gl"),
            [
                "consultation",
                "application",
                "due_diligence",
                "planning",
                "bank_negotiation",
                "payment_claim",
                "monitoring",
                "monitoring_claim",
                "completed",
                "rejected",
                "withdrawn",
                "discontinued",
            ],
        ),
        (
            ("early", "normal"),
            [
                "consultation",
                "application",
                "planning",
                "bank_negotiation",
                "payment_claim",
                "monitoring",
                "monitoring_claim",
                "completed",
                "rejected",
                "withdrawn",
                "discontinued",
            ],
        ),
        (
            ("early", "guarantee"),
            [
                "consultation",
                "application",
                "planning",
                "bank_negotiation",
                "payment_claim",
                "monitoring",
                "monitoring_claim",
                "completed",
                "rejected",
                "withdrawn",
                "discontinued",
            ],
        ),
    ],
)
def test_stages_in_mission_order(pair: tuple[str, str], stages: list[str]) -> None:
    d = definition(*pair)
    assert list(d.stage_ids) == stages
    assert set(d.final_stages) == FINAL
    assert d.key == "/".join(pair)


TRIGGERS_405 = [
    "apply",
    "accept",
    "reject",
    "start_planning",
    "submit_plan",
    "revise",
    "agree",
    "decide_payment",
    "claim_monitoring",
    "pay_monitoring",
    "complete",
    "withdraw",
    "discontinue",
]
TRIGGERS_EARLY = [t for t in TRIGGERS_405 if t != "start_planning"]


@pytest.mark.parametrize(
    ("pair", "triggers"),
    [
        (("405", "normal"), TRIGGERS_405),
        (("405", "gl"), TRIGGERS_405),
        (("early", "normal"), TRIGGERS_EARLY),
        (("early", "guarantee"), TRIGGERS_EARLY),
    ],
)
def test_triggers(pair: tuple[str, str], triggers: list[str]) -> None:
    assert list(definition(*pair).triggers) == triggers


@pytest.mark.parametrize(
    ("pair", "has_dd"),
    [
        (("405", "normal"), True),
        (("405", "gl"), True),
        (("early", "normal"), False),
        (("early", "guarantee"), False),
    ],
)
def test_due_diligence_only_in_405(pair: tuple[str, str], has_dd: bool) -> None:
    d = definition(*pair)
    assert ("due_diligence" in d.stage_ids) is has_dd
    assert ("start_planning" in d.triggers) is has_dd
    every_stage_named = {s for t in d.transitions for s in (*t.sources, t.dest)}
    assert ("due_diligence" in every_stage_named) is has_dd


@pytest.mark.parametrize(
    ("pair", "trigger", "sources", "dest"),
    [
        (("405", "normal"), "accept", ("application",), "due_diligence"),
        (("405", "gl"), "accept", ("application",), "due_diligence"),
        (("early", "normal"), "accept", ("application",), "planning"),
        (("early", "guarantee"), "accept", ("application",), "planning"),
        (("405", "normal"), "apply", ("consultation",), "application"),
        (("early", "normal"), "reject", ("application",), "rejected"),
        (("405", "gl"), "start_planning", ("due_diligence",), "planning"),
        (("early", "normal"), "submit_plan", ("planning",), "bank_negotiation"),
        (("405", "normal"), "revise", ("bank_negotiation",), "planning"),
        (("early", "guarantee"), "agree", ("bank_negotiation",), "payment_claim"),
        (("405", "normal"), "decide_payment", ("payment_claim",), "monitoring"),
        (("early", "normal"), "claim_monitoring", ("monitoring",), "monitoring_claim"),
        (("405", "gl"), "pay_monitoring", ("monitoring_claim",), "monitoring"),
        (("early", "guarantee"), "complete", ("monitoring_claim",), "completed"),
        (("405", "normal"), "withdraw", tuple(BEFORE_MONITORING_405), "withdrawn"),
        (("early", "normal"), "withdraw", tuple(BEFORE_MONITORING_EARLY), "withdrawn"),
        (
            ("405", "gl"),
            "discontinue",
            (*BEFORE_MONITORING_405, "monitoring", "monitoring_claim"),
            "discontinued",
        ),
        (
            ("early", "guarantee"),
            "discontinue",
            (*BEFORE_MONITORING_EARLY, "monitoring", "monitoring_claim"),
            "discontinued",
        ),
    ],
)
def test_transition(
    pair: tuple[str, str], trigger: str, sources: tuple[str, ...], dest: str
) -> None:
    t = definition(*pair).transition(trigger)
    assert t.sources == sources
    assert t.dest == dest


@pytest.mark.parametrize("d", _defs(), ids=lambda d: d.key)
def test_withdraw_from_every_stage_before_monitoring(d: Definition) -> None:
    order = {s.id: s.order for s in d.stages}
    expected = {s for s in d.stage_ids if s not in FINAL and order[s] < order["monitoring"]}
    assert set(d.transition("withdraw").sources) == expected
    assert "monitoring" not in d.transition("withdraw").sources
    assert "monitoring_claim" not in d.transition("withdraw").sources


@pytest.mark.parametrize("d", _defs(), ids=lambda d: d.key)
def test_discontinue_from_every_non_final_stage(d: Definition) -> None:
    assert set(d.transition("discontinue").sources) == set(d.stage_ids) - FINAL


@pytest.mark.parametrize("d", _defs(), ids=lambda d: d.key)
def test_final_stages_have_no_way_out(d: Definition) -> None:
    for s in d.final_stages:
        assert d.transitions_from(s) == ()


@pytest.mark.parametrize("d", _defs(), ids=lambda d: d.key)
def test_every_stage_reachable_from_consultation(d: Definition) -> None:
    seen = {INITIAL_STAGE}
    todo = [INITIAL_STAGE]
    while todo:
        for t in d.transitions_from(todo.pop()):
            if t.dest not in seen:
                seen.add(t.dest)
                todo.append(t.dest)
    assert seen == set(d.stage_ids)


@pytest.mark.parametrize("d", _defs(), ids=lambda d: d.key)
def test_every_non_final_stage_has_a_way_out(d: Definition) -> None:
    for s in set(d.stage_ids) - FINAL:
        assert {t.dest for t in d.transitions_from(s)}, s


@pytest.mark.parametrize(
    ("trigger", "needs_reason"),
    [
        ("reject", True),
        ("revise", True),
        ("withdraw", True),
        ("discontinue", True),
        ("apply", False),
        ("accept", False),
        ("agree", False),
        ("complete", False),
    ],
)
def test_needs_reason(trigger: str, needs_reason: bool) -> None:
    for d in _defs():
        assert d.transition(trigger).needs_reason is needs_reason


# ---------------------------------------------------------------- guards per track


@pytest.mark.parametrize(
    ("guard", "trigger", "pairs"),
    [
        ("monitoring_estimate_half", "apply", {"405/normal"}),
        ("all_lenders_consented", "agree", {"405/normal", "405/gl"}),
        ("lender_receipt", "agree", {"early/normal", "early/guarantee"}),
        ("eligible", "apply", {"405/normal", "405/gl", "early/normal", "early/guarantee"}),
        ("reuse_allowed", "apply", {"405/normal", "405/gl", "early/normal", "early/guarantee"}),
        ("fees_recorded", "decide_payment", {f"{p}/{t}" for p, t in PAIRS}),
    ],
)
def test_guard_applies_per_track(guard: str, trigger: str, pairs: set[str]) -> None:
    have = {d.key for d in _defs() if guard in d.transition(trigger).guards}
    assert have == pairs
    # A guard limited to some tracks appears on no other trigger either.
    for d in _defs():
        if d.key not in pairs:
            assert all(guard not in t.guards for t in d.transitions)


@pytest.mark.parametrize(
    ("pair", "guards"),
    [
        # A lapsed 405 application cannot be agreed on (rules.md §5).
        (("405", "normal"), ("all_lenders_consented", "application_valid")),
        (("405", "gl"), ("all_lenders_consented", "application_valid")),
        (("early", "normal"), ("lender_receipt",)),
        (("early", "guarantee"), ("lender_receipt",)),
    ],
)
def test_agree_guards(pair: tuple[str, str], guards: tuple[str, ...]) -> None:
    assert definition(*pair).transition("agree").guards == guards


def test_every_guard_has_label_and_source() -> None:
    for g in catalog().guards.values():
        assert g.label.strip()
        assert g.source.strip()


# ---------------------------------------------------------------- categories


@pytest.mark.parametrize(
    ("pair", "categories"),
    [
        (
            ("405", "normal"),
            [("dd_plan", "plan", None), ("monitoring", "monitoring", None),
             ("bank_negotiation", "plan", "guarantee_release")],
        ),
        (
            ("405", "gl"),
            [("dd", "plan", None), ("plan", "plan", None), ("monitoring", "monitoring", None)],
        ),
        (
            ("early", "normal"),
            [("plan", "plan", None), ("monitoring_interim", "monitoring", "interim_monitoring"),
             ("monitoring_year_end", "monitoring", None)],
        ),
        (
            ("early", "guarantee"),
            [("plan", "plan", None), ("monitoring_interim", "monitoring", "interim_monitoring"),
             ("monitoring_year_end", "monitoring", None), ("bank_negotiation", "plan", None)],
        ),
    ],
)  # fmt: skip
def test_categories(pair: tuple[str, str], categories: list[tuple[str, str, str | None]]) -> None:
    d = definition(*pair)
    assert [(c.id, c.phase, c.needs) for c in d.categories] == categories
    for c in d.categories:
        assert c.label.strip()
        assert d.category(c.id) is c


@pytest.mark.parametrize(
    ("pair", "options", "expected"),
    [
        (("405", "normal"), set(), ["dd_plan", "monitoring"]),
        (("405", "normal"), {"guarantee_release"}, ["dd_plan", "monitoring", "bank_negotiation"]),
        (("405", "normal"), {"interim_monitoring"}, ["dd_plan", "monitoring"]),
        (("405", "gl"), set(), ["dd", "plan", "monitoring"]),
        (("early", "normal"), set(), ["plan", "monitoring_year_end"]),
        (
            ("early", "normal"),
            {"interim_monitoring"},
            ["plan", "monitoring_interim", "monitoring_year_end"],
        ),
        (("early", "guarantee"), set(), ["plan", "monitoring_year_end", "bank_negotiation"]),
        (
            ("early", "guarantee"),
            {"interim_monitoring", "guarantee_release"},
            ["plan", "monitoring_interim", "monitoring_year_end", "bank_negotiation"],
        ),
    ],
)
def test_categories_for_options(
    pair: tuple[str, str], options: set[str], expected: list[str]
) -> None:
    assert [c.id for c in definition(*pair).categories_for(options)] == expected


def test_unknown_category_and_trigger_are_key_errors() -> None:
    d = definition("405", "normal")
    with pytest.raises(KeyError):
        d.category("plan")
    with pytest.raises(KeyError):
        d.transition("start")


# ---------------------------------------------------------------- unknown ids


@pytest.mark.parametrize(
    ("program", "track", "message"),
    [
        ("406", "normal", "'406'"),
        ("", "normal", "''"),
        ("early", "gl", "'gl'"),
        ("405", "guarantee", "'guarantee'"),
        ("405", "", "''"),
        ("EARLY", "normal", "'EARLY'"),
    ],
)
def test_unknown_program_or_track(program: str, track: str, message: str) -> None:
    with pytest.raises(UnknownProgramError, match=message):
        definition(program, track)


def test_catalog_labels() -> None:
    cat = catalog()
    assert cat.stage_label("due_diligence") == "DD"
    assert cat.stage_label("nowhere") == "nowhere"
    assert cat.track_labels["gl"] == "中小版GL枠"
    assert set(cat.programs) == {"405", "early"}
    assert cat.programs["405"].tracks == ("normal", "gl")
    assert cat.programs["early"].tracks == ("normal", "guarantee")


def test_packaged_data_parses_to_the_same_catalog() -> None:
    again = parse_catalog(copy.deepcopy(RAW))
    assert isinstance(again, Catalog)
    assert again.definitions.keys() == catalog().definitions.keys()
    for key, d in again.definitions.items():
        assert d.transitions == catalog().definitions[key].transitions
        assert d.categories == catalog().definitions[key].categories


# ---------------------------------------------------------------- bad catalog data


def _transition(raw: dict[str, Any], trigger: str) -> dict[str, Any]:
    return next(t for t in raw["transitions"] if t["trigger"] == trigger)


def _set_dest(trigger: str, dest: str) -> Callable[[dict[str, Any]], None]:
    def edit(raw: dict[str, Any]) -> None:
        _transition(raw, trigger)["dest"] = dest

    return edit


def _add_source(trigger: str, source: str) -> Callable[[dict[str, Any]], None]:
    def edit(raw: dict[str, Any]) -> None:
        _transition(raw, trigger)["source"].append(source)

    return edit


def _add_guard(trigger: str, guard: str) -> Callable[[dict[str, Any]], None]:
    def edit(raw: dict[str, Any]) -> None:
        _transition(raw, trigger)["guards"].append(guard)

    return edit


def _duplicate(trigger: str) -> Callable[[dict[str, Any]], None]:
    def edit(raw: dict[str, Any]) -> None:
        raw["transitions"].append(copy.deepcopy(_transition(raw, trigger)))

    return edit


def _set(path: tuple[str, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(raw: dict[str, Any]) -> None:
        t = raw
        for k in path[:-1]:
            t = t[k]
        t[path[-1]] = value

    return edit


def _delete(path: tuple[str, ...]) -> Callable[[dict[str, Any]], None]:
    def edit(raw: dict[str, Any]) -> None:
        t = raw
        for k in path[:-1]:
            t = t[k]
        del t[path[-1]]

    return edit


def _dest_by_program(trigger: str, value: dict[str, str]) -> Callable[[dict[str, Any]], None]:
    def edit(raw: dict[str, Any]) -> None:
        _transition(raw, trigger)["dest_by_program"] = value

    return edit


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_set_dest("agree", "paid"), "unknown stage 'paid'"),
        (_add_source("withdraw", "monitoring_report"), "unknown stage 'monitoring_report'"),
        (_dest_by_program("accept", {"405": "dd"}), "unknown stage 'dd'"),
        (_add_guard("agree", "bank_happy"), "unknown guard 'bank_happy'"),
        (_duplicate("revise"), "trigger 'revise' is defined twice"),
        (_set(("categories", "405/gl", "dd", "phase"), "planning"), '405/gl".dd.phase'),
        (_set(("categories", "early/normal", "plan", "needs"), "gl"), 'early/normal".plan.needs'),
        (_delete(("categories", "early/guarantee")), 'categories."early/guarantee" is missing'),
        (_set(("categories", "early/normal"), {}), 'categories."early/normal" is missing'),
        (_set(("categories", "405/xl"), {}), "405/xl"),
        (_delete(("stages", "consultation")), "consultation"),
        (_delete(("stages", "planning", "label")), "stages.planning: 'label' is missing"),
        (_set(("stages", "planning", "order"), "4"), "stages.planning.order"),
        (_set(("stages", "planning", "order"), True), "stages.planning.order"),
        (_set(("programs", "405", "tracks"), ["normal", "xl"]), "unknown track 'xl'"),
        (_delete(("programs", "early", "source")), "programs.early: 'source' is missing"),
        (_set(("guards", "lender_receipt", "applies"), ["early/gl"]), "guards.lender_receipt"),
        (_delete(("guards", "plan_recorded", "source")), "guards.plan_recorded"),
        (_delete(("tracks",)), "'tracks' is missing"),
        (_delete(("transitions",)), "'transitions' is missing"),
        (_set(("stages", "due_diligence", "programs"), ["early"]), "due_diligence"),
    ],
    ids=lambda x: x if isinstance(x, str) else None,
)
def test_bad_catalog_data(edit: Callable[[dict[str, Any]], None], message: str) -> None:
    raw = copy.deepcopy(RAW)
    edit(raw)
    with pytest.raises(RuleDataError) as e:
        parse_catalog(raw, "bad-programs.toml")
    assert str(e.value).startswith("bad-programs.toml")
    assert message in str(e.value)


def test_missing_transition_label_names_the_transition() -> None:
    raw = copy.deepcopy(RAW)
    index = next(i for i, t in enumerate(raw["transitions"]) if t["trigger"] == "revise")
    del raw["transitions"][index]["label"]
    with pytest.raises(RuleDataError, match=rf"transitions\[{index}\]"):
        parse_catalog(raw, "bad-programs.toml")


def test_transition_from_final_stage_refused() -> None:
    raw = copy.deepcopy(RAW)
    _add_source("revise", "completed")(raw)
    with pytest.raises(RuleDataError, match="completed"):
        parse_catalog(raw, "bad-programs.toml")


def test_guard_with_empty_applies_is_not_applied_everywhere() -> None:
    raw = copy.deepcopy(RAW)
    raw["guards"]["lender_receipt"]["applies"] = []
    try:
        cat = parse_catalog(raw, "bad-programs.toml")
    except RuleDataError:
        return
    for d in cat.definitions.values():
        assert "lender_receipt" not in d.transition("agree").guards, d.key

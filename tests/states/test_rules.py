"""Tests for states.rules: rule versions R4–R7 as sourced data (rules.md §3–§5, §8)."""

from __future__ import annotations

from datetime import date
from importlib import resources
from typing import Any

import pytest

from states.programs import RuleDataError
from states.rules import (
    NoRuleVersionError,
    ReusePolicy,
    RuleVersion,
    get_version,
    parse_versions,
    version_for,
    versions,
)

VERSIONS = ["R4", "R5", "R6", "R7"]


def _texts() -> dict[str, str]:
    root = resources.files("states").joinpath("data/rules")
    return {f"{v}.toml": root.joinpath(f"{v}.toml").read_text("utf-8") for v in VERSIONS}


TEXTS = _texts()


# ---------------------------------------------------------------- caps

CAPS = {
    ("405", "normal"): {"dd_plan": 2_000_000, "monitoring": 1_000_000, "bank_negotiation": 100_000},
    ("405", "gl"): {"dd": 3_000_000, "plan": 3_000_000, "monitoring": 1_000_000},
    ("early", "normal"): {"plan": 150_000, "monitoring_interim": 50_000,
                          "monitoring_year_end": 50_000},
    ("early", "guarantee"): {"plan": 150_000, "monitoring_interim": 50_000,
                             "monitoring_year_end": 50_000, "bank_negotiation": 100_000},
}  # fmt: skip


@pytest.mark.parametrize("vid", VERSIONS)
@pytest.mark.parametrize(("pair", "caps"), list(CAPS.items()), ids=lambda x: str(x))
def test_caps(vid: str, pair: tuple[str, str], caps: dict[str, int]) -> None:
    v = get_version(vid)
    assert v.caps(*pair) == caps
    for category, cap in caps.items():
        assert v.cap(*pair, category) == cap
        assert v.values[f"caps.{pair[0]}/{pair[1]}.{category}"].verified is True


@pytest.mark.parametrize("vid", VERSIONS)
def test_rate_is_two_thirds(vid: str) -> None:
    assert get_version(vid).rate == (2, 3)


# ---------------------------------------------------------------- re-use

# Early first, then 405, is allowed in every version (rules.md §4): only 405 uses count
# toward 405. The causes are open-ended ("…等"): `other` is a cause given in words.
AFFECTED = ReusePolicy(
    mode="affected",
    counted_programs=("405",),
    max_uses=2,
    affected_causes=("covid", "ukraine", "oil", "other"),
)
AFFECTED_EARLY = ReusePolicy(
    mode="affected",
    counted_programs=("405", "early"),
    max_uses=2,
    affected_causes=("covid", "ukraine", "oil", "other"),
    blocked_after_405=True,
    blocked_after_405_unless_affected=True,
)
EXCEPTION_405 = ReusePolicy(
    mode="exception",
    counted_programs=("405",),
    payment_cap_total=3_000_000,
    needs_reason=True,
    needs_supervisor=True,
)
ONCE_EARLY = ReusePolicy(mode="once", counted_programs=("early",), blocked_after_405=True)


@pytest.mark.parametrize(
    ("vid", "program", "policy"),
    [
        ("R4", "405", AFFECTED),
        ("R4", "early", AFFECTED_EARLY),
        ("R5", "405", AFFECTED),
        ("R5", "early", AFFECTED_EARLY),
        ("R6", "405", EXCEPTION_405),
        ("R6", "early", ONCE_EARLY),
        ("R7", "405", EXCEPTION_405),
        ("R7", "early", ONCE_EARLY),
    ],
)
def test_reuse_policy(vid: str, program: str, policy: ReusePolicy) -> None:
    assert get_version(vid).reuse(program) == policy


@pytest.mark.parametrize(
    ("vid", "key"),
    [
        ("R4", "reuse.405.mode"),
        ("R4", "reuse.405.max_uses"),
        ("R5", "reuse.405.mode"),
        ("R5", "reuse.405.max_uses"),
        ("R5", "reuse.early.mode"),
        ("R5", "reuse.early.max_uses"),
        ("R5", "reuse.early.counted_programs"),
    ],
)
def test_reuse_values_without_a_source_that_states_them_are_unverified(vid: str, key: str) -> None:
    assert key in get_version(vid).unverified


def test_r6_replaces_the_affected_settings() -> None:
    keys = {k for k in get_version("R6").values if k.startswith("reuse.")}
    assert "reuse.405.max_uses" not in keys
    assert "reuse.405.affected_causes" not in keys
    assert "reuse.early.blocked_after_405_unless_affected" not in keys


# ---------------------------------------------------------------- picking a version


@pytest.mark.parametrize(
    ("on", "vid"),
    [
        (date(2022, 4, 1), "R4"),
        (date(2022, 12, 31), "R4"),
        (date(2023, 3, 31), "R4"),
        (date(2023, 4, 1), "R5"),
        (date(2024, 3, 31), "R5"),
        (date(2024, 4, 1), "R6"),
        (date(2025, 3, 31), "R6"),
        (date(2025, 4, 1), "R7"),
        (date(2026, 11, 22), "R7"),
        (date(2040, 1, 1), "R7"),
    ],
)
def test_version_for(on: date, vid: str) -> None:
    assert version_for(on).id == vid


@pytest.mark.parametrize("on", [date(2022, 3, 31), date(2000, 1, 1)])
def test_version_for_before_the_first(on: date) -> None:
    with pytest.raises(NoRuleVersionError, match="2022-04-01"):
        version_for(on)


def test_version_for_with_no_versions() -> None:
    with pytest.raises(NoRuleVersionError):
        version_for(date(2026, 1, 1), [])


def test_version_for_uses_the_given_versions() -> None:
    only_r5 = [get_version("R5")]
    assert version_for(date(2026, 1, 1), only_r5).id == "R5"
    with pytest.raises(NoRuleVersionError):
        version_for(date(2023, 3, 31), only_r5)


@pytest.mark.parametrize(
    ("vid", "expect"),
    [("R4", "R4"), ("R7", "R7"), ("r6", "R6"), ("R9", None), ("", None), ("R", None)],
)
def test_get_version(vid: str, expect: str | None) -> None:
    if expect is None:
        with pytest.raises(NoRuleVersionError, match="R4, R5, R6, R7"):
            get_version(vid)
    else:
        assert get_version(vid).id == expect


def test_versions_sorted_and_cached() -> None:
    assert [v.id for v in versions()] == VERSIONS
    assert versions() is versions()
    assert [v.effective_from for v in versions()] == [
        date(2022, 4, 1),
        date(2023, 4, 1),
        date(2024, 4, 1),
        date(2025, 4, 1),
    ]


@pytest.mark.parametrize(
    ("vid", "inherits"), [("R4", None), ("R5", "R4"), ("R6", "R5"), ("R7", "R6")]
)
def test_inherits(vid: str, inherits: str | None) -> None:
    assert get_version(vid).inherits == inherits


# ---------------------------------------------------------------- sources and flags


@pytest.mark.parametrize(
    ("vid", "key", "defined_in"),
    [
        ("R4", "caps.405/normal.dd_plan", "R4"),
        ("R7", "caps.405/normal.dd_plan", "R4"),
        ("R7", "caps.early/guarantee.bank_negotiation", "R4"),
        ("R7", "money.rate_numerator", "R4"),
        ("R5", "reuse.early.mode", "R5"),
        ("R5", "reuse.early.max_uses", "R5"),  # restated as unverified (rules.md §4)
        ("R5", "reuse.405.mode", "R5"),
        ("R6", "reuse.405.mode", "R6"),
        ("R7", "reuse.405.payment_cap_total", "R7"),
        ("R7", "reuse.early.mode", "R7"),
        ("R6", "deadlines.certificate_max_age_months", "R4"),
    ],
)
def test_defined_in(vid: str, key: str, defined_in: str) -> None:
    assert get_version(vid).values[key].defined_in == defined_in


@pytest.mark.parametrize("vid", VERSIONS)
@pytest.mark.parametrize(
    ("key", "verified"),
    [
        ("money.rounding", False),
        ("money.tax_included", False),
        ("monitoring.405.periods", False),
        ("monitoring.405.per_year", False),
        ("deadlines.monitoring_claim_expiry_days", False),
        ("deadlines.payment_claim_after_agreement_months", False),
        ("money.rate_numerator", True),
        ("caps.405/gl.dd", True),
        ("deadlines.certificate_max_age_months", True),
        ("monitoring.early.year_end_min_months_after_plan", True),
    ],
)
def test_verified_flags(vid: str, key: str, verified: bool) -> None:
    v = get_version(vid)
    assert v.values[key].verified is verified
    assert (key in v.unverified) is not verified


@pytest.mark.parametrize(("vid", "unverified"), [("R4", False), ("R5", True), ("R6", False)])
def test_early_reuse_mode_flag(vid: str, unverified: bool) -> None:
    assert ("reuse.early.mode" in get_version(vid).unverified) is unverified


def test_r7_reuse_is_flagged_unverified() -> None:
    r7 = get_version("R7")
    assert r7.verified is False
    assert "reuse.405.mode" in r7.unverified
    assert "reuse.early.mode" in r7.unverified


@pytest.mark.parametrize("vid", VERSIONS)
def test_every_value_has_a_source(vid: str) -> None:
    v = get_version(vid)
    assert v.values
    for key, s in v.values.items():
        assert isinstance(s.source, str) and s.source.strip(), key
        assert isinstance(s.verified, bool), key
        assert s.defined_in in VERSIONS, key
    assert v.source.strip()
    assert v.label.strip()


@pytest.mark.parametrize("vid", VERSIONS)
def test_timeline_templates(vid: str) -> None:
    tl = get_version(vid).timeline
    assert [m.key for m in tl["405"]] == ["kickoff", "dd", "draft_plan", "final_plan",
                                          "payment_claim"]  # fmt: skip
    assert [m.month for m in tl["405"]] == [0, 1, 2, 3, 4]
    assert [m.key for m in tl["early"]] == ["kickoff", "draft_plan", "final_plan",
                                            "payment_claim"]  # fmt: skip
    assert [m.month for m in tl["early"]] == [0, 2, 3, 4]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("certificate_max_age_months", 3),
        ("application_valid_years_405", 2),
        ("early_payment_claim_within_months", 12),
        ("monitoring_claim_expiry_days", 0),
        ("monitoring_claim_reminder_days", 60),
    ],
)
def test_deadlines(name: str, value: int) -> None:
    for v in versions():
        assert v.deadline(name) == value


def test_unknown_value_is_a_key_error_naming_the_key() -> None:
    with pytest.raises(KeyError, match=r"caps\.405/normal\.plan"):
        get_version("R4").cap("405", "normal", "plan")


# ---------------------------------------------------------------- overrides


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("caps.early/normal.plan", 200_000),
        ("monitoring.405.periods", 4),
        ("money.rounding", "round"),
        ("reuse.405.counted_programs", ["405", "early"]),
    ],
)
def test_with_overrides(key: str, value: Any) -> None:
    r7 = get_version("R7")
    v = r7.with_overrides({key: value}, "kaizen.toml")
    assert v.value(key) == value
    assert v.values[key].source == "kaizen.toml"
    assert v.values[key].verified is True
    assert key not in v.unverified
    assert v.id == "R7"
    # The packaged version is untouched.
    assert r7.value(key) != value


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"caps.early/normal.plan": "200000"}, "caps.early/normal.plan must be int"),
        ({"caps.early/normal.plan": 200_000.0}, "must be int"),
        ({"caps.early/normal.plan": True}, "must be int"),
        ({"money.tax_included": 1}, "money.tax_included must be bool"),
        ({"caps.early/normal.consulting": 1}, "no value 'caps.early/normal.consulting'"),
        ({"reuse.405.max_uses": 3}, "no value 'reuse.405.max_uses'"),
    ],
)
def test_with_overrides_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(RuleDataError, match=message) as e:
        get_version("R7").with_overrides(overrides, "kaizen.toml")
    assert str(e.value).startswith("kaizen.toml: ")


@pytest.mark.parametrize(
    "overrides",
    [{"caps.405/normal.dd_plan": -5}, {"monitoring.405.per_year": 5}],
)
def test_with_overrides_validates_values(overrides: dict[str, Any]) -> None:
    with pytest.raises(RuleDataError):
        get_version("R6").with_overrides(overrides, "kaizen.toml")


# ---------------------------------------------------------------- bad rule files


def _edit(name: str, old: str, new: str, texts: dict[str, str] | None = None) -> dict[str, str]:
    files = dict(texts if texts is not None else TEXTS)
    assert old in files[name], f"fixture text not found in {name}: {old!r}"
    files[name] = files[name].replace(old, new, 1)
    return files


def _r4_only(old: str, new: str) -> dict[str, str]:
    return _edit("R4.toml", old, new, {"R4.toml": TEXTS["R4.toml"]})


CAP_LINE = 'dd_plan = { value = 2_000_000, source = "'


@pytest.mark.parametrize(
    ("files", "where", "message"),
    [
        (
            _r4_only(CAP_LINE, 'dd_plan = { value = 2_000_000, sauce = "'),
            "R4.toml",
            "caps.405/normal.dd_plan: unexpected keys",
        ),
        (
            _r4_only(
                'source = "中小企業庁 経営改善計画策定支援 (saisei/05.html): DD・計画策定支援費用 '
                '上限200万円", ',
                "",
            ),
            "R4.toml",
            "caps.405/normal.dd_plan: every value needs a 'source'",
        ),
        (
            _r4_only(
                'rounding = { value = "floor", source = "rules.md §3: 円未満切捨ては未確認 '
                '(Kaizen の既定)", verified = false }',
                'rounding = { value = "floor", source = "  ", verified = false }',
            ),
            "R4.toml",
            "money.rounding: every value needs a 'source'",
        ),
        (
            _r4_only("上限10万円\", verified = true }", '上限10万円", verified = "yes" }'),
            "R4.toml",
            "caps.405/normal.bank_negotiation: 'verified' must be true or false",
        ),
        (
            _r4_only("dd_plan = { value = 2_000_000", "dd_plan = { value = -1"),
            "R4.toml",
            "caps.405/normal.dd_plan must be an integer ≥ 1",
        ),
        (
            _r4_only("dd_plan = { value = 2_000_000", "dd_plan = { value = 0"),
            "R4.toml",
            "caps.405/normal.dd_plan must be an integer ≥ 1",
        ),
        (
            _r4_only("dd_plan = { value = 2_000_000", 'dd_plan = { value = "200万"'),
            "R4.toml",
            "caps.405/normal.dd_plan must be an integer",
        ),
        (
            _r4_only(
                'dd_plan = { value = 2_000_000, source = "',
                'consulting = { value = 1, source = "x", verified = true }\n'
                'dd_plan = { value = 2_000_000, source = "',
            ),
            "R4.toml",
            "caps.405/normal: unknown categories ['consulting']",
        ),
        (
            _r4_only('dd = { value = 3_000_000, source = "', 'dx = { value = 3_000_000, source = "'),
            "R4.toml",
            "caps.405/gl.dd",
        ),
        (
            _r4_only('mode = { value = "affected", source = "Kyushu council flyer (2022年度) states',
                     'mode = { value = "sometimes", source = "Kyushu council flyer (2022年度) states'),
            "R4.toml",
            "reuse.405.mode must be one of",
        ),
        (
            _r4_only('counted_programs = { value = ["405"], source = "rules.md §4: early first',
                     'counted_programs = { value = ["405", "pre405"], source = "rules.md §4: early first'),
            "R4.toml",
            "reuse.405.counted_programs must list programs",
        ),
        (
            _r4_only('max_uses = { value = 2, source = "Kyushu council flyer (2022年度), early',
                     'max_uses = { value = 0, source = "Kyushu council flyer (2022年度), early'),
            "R4.toml",
            "reuse.405.max_uses must be an integer ≥ 1",
        ),
        (
            _r4_only("effective_from = 2022-04-01\n", ""),
            "R4.toml",
            "'effective_from' must be a date",
        ),
        (
            _r4_only("effective_from = 2022-04-01", 'effective_from = "2022-04-01"'),
            "R4.toml",
            "'effective_from' must be a date",
        ),
        (_r4_only('id = "R4"\n', ""), "R4.toml", "'id' is missing"),
        (
            _r4_only("[deadlines]", "[deadline]"),
            "R4.toml",
            "unknown sections ['deadline']",
        ),
        (
            _r4_only('stage = "due_diligence"', 'stage = "dd"'),
            "R4.toml",
            "timeline.405.dd: unknown stage",
        ),
        (
            _r4_only('done_by = "start_planning"', 'done_by = "plan_started"'),
            "R4.toml",
            "timeline.405.dd: unknown trigger",
        ),
        (
            # early has no DD stage: a 405-only stage in its template is unknown there.
            _r4_only(
                'key = "draft_plan"\nlabel = "計画案の検討"\nstage = "planning"',
                'key = "draft_plan"\nlabel = "計画案の検討"\nstage = "due_diligence"',
            ),
            "R4.toml",
            "timeline.early.draft_plan: unknown stage",
        ),
        (
            _r4_only('key = "dd"\nlabel = "DD完了・計画策定の開始"\n', 'label = "DD"\n'),
            "R4.toml",
            "timeline.405[1]: needs key",
        ),
        (
            _r4_only('stage = "payment_claim"\ndone_by = "decide_payment"\nmonth = 4\n\n'
                     '[[timeline.early]]',
                     'stage = "payment_claim"\ndone_by = "decide_payment"\nmonth = 0\n\n'
                     '[[timeline.early]]'),
            "R4.toml",
            "timeline.405.payment_claim: months go backwards",
        ),
        (
            _r4_only("per_year = { value = 2,", "per_year = { value = 5,"),
            "R4.toml",
            "monitoring.405.per_year must divide 12",
        ),
        (
            _r4_only("rate_numerator = { value = 2,", "rate_numerator = { value = 4,"),
            "R4.toml",
            "the subsidy rate 4/3 is above 1",
        ),
        (
            _r4_only("certificate_max_age_months = { value = 3,",
                     "certificate_max_age_months = { value = -3,"),
            "R4.toml",
            "deadlines.certificate_max_age_months must be an integer ≥ 0",
        ),
        (
            _r4_only("[money]\n", "[money]\nrate = 2\n"),
            "R4.toml",
            "money.rate: expected {value, source, verified}",
        ),
        (_r4_only("[money]\n", "[money\n"), "R4.toml", "R4.toml: "),
        (
            _edit("R5.toml", 'inherits = "R4"', 'inherits = "R3"'),
            "R5.toml",
            "inherits unknown version 'R3'",
        ),
        (
            _edit("R4.toml", 'effective_from = 2022-04-01\n',
                  'effective_from = 2022-04-01\ninherits = "R7"\n'),
            "R4.toml",
            "inheritance loop",
        ),
        (
            _edit("R6.toml", 'inherits = "R5"', 'inherits = "R6"'),
            "R6.toml",
            "inheritance loop through 'R6'",
        ),
        (
            _edit("R7.toml", 'id = "R7"', 'id = "R6"'),
            "R7.toml",
            "version R6 is defined twice",
        ),
        (
            _edit("R6.toml", 'mode = { value = "once"', 'mode = { value = "never"'),
            "R6.toml",
            "reuse.early.mode must be one of",
        ),
        (
            _edit("R6.toml", "payment_cap_total = { value = 3_000_000",
                  "payment_cap_total = { value = -3_000_000"),
            "R6.toml",
            "reuse.405.payment_cap_total must be an integer ≥ 1",
        ),
        (
            # Dropping the table in R6 leaves R6 with no early re-use mode at all.
            _edit("R6.toml", 'mode = { value = "once", source = "Okinawa council FAQ Q1-5 (R6): '
                  '早期経営改善計画策定支援の2回目の利用は不可", verified = true }\n', ""),
            "R6.toml",
            "reuse.early.mode must be one of",
        ),
    ],
)  # fmt: skip
def test_bad_rule_files(files: dict[str, str], where: str, message: str) -> None:
    with pytest.raises(RuleDataError) as e:
        parse_versions(files)
    text = str(e.value)
    assert text.startswith(where), text
    assert message in text, text


def test_shared_effective_date_names_the_files() -> None:
    files = _edit("R7.toml", "effective_from = 2025-04-01", "effective_from = 2024-04-01")
    with pytest.raises(RuleDataError, match=r"R7\.toml"):
        parse_versions(files)


def test_packaged_texts_parse() -> None:
    parsed = parse_versions(TEXTS)
    assert [v.id for v in parsed] == VERSIONS
    assert all(isinstance(v, RuleVersion) for v in parsed)
    assert parsed[3].caps("405", "gl") == get_version("R7").caps("405", "gl")


def test_a_child_restating_a_value() -> None:
    files = _edit(
        "R7.toml",
        "verified = false\n",
        'verified = false\n\n[caps."early/normal"]\n'
        'plan = { value = 200_000, source = "a council page: 上限20万円", verified = false }\n',
    )
    r7 = {v.id: v for v in parse_versions(files)}["R7"]
    assert r7.cap("early", "normal", "plan") == 200_000
    assert r7.values["caps.early/normal.plan"].defined_in == "R7"
    assert "caps.early/normal.plan" in r7.unverified
    assert r7.cap("early", "guarantee", "plan") == 150_000
    assert r7.values["caps.early/guarantee.plan"].defined_in == "R4"

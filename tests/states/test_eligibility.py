"""Tests for states.eligibility (中小企業基本法第2条 size test, legal forms; rules.md §7)."""

from __future__ import annotations

import pytest

from states.eligibility import (
    EXCLUDED_LEGAL_FORMS,
    INDUSTRIES,
    INDUSTRY_LABELS,
    LEGAL_FORM_ALIASES,
    LEGAL_FORMS,
    SME_LIMITS,
    CompanyFacts,
    canonical_legal_form,
    eligibility_problems,
    is_sme,
)

OKU = 100_000_000
MAN = 10_000

# (industry, capital limit, employee limit) as stated in 中小企業基本法 第2条第1項.
STATUTORY_LIMITS = [
    ("manufacturing", 3 * OKU, 300),
    ("other", 3 * OKU, 300),
    ("wholesale", 1 * OKU, 100),
    ("services", 5000 * MAN, 100),
    ("retail", 5000 * MAN, 50),
]


def facts(
    industry: str = "manufacturing",
    capital: int | None = 10 * MAN * 100,
    employees: int | None = 10,
    legal_form: str = "株式会社",
) -> CompanyFacts:
    return CompanyFacts(
        industry=industry, capital=capital, employees=employees, legal_form=legal_form
    )


def test_tables_are_complete() -> None:
    assert set(INDUSTRIES) == set(INDUSTRY_LABELS) == set(SME_LIMITS)
    assert not set(LEGAL_FORMS) & set(EXCLUDED_LEGAL_FORMS)
    for target in LEGAL_FORM_ALIASES.values():
        assert target in LEGAL_FORMS or target in EXCLUDED_LEGAL_FORMS


@pytest.mark.parametrize(("industry", "capital", "employees"), STATUTORY_LIMITS)
def test_limits_match_statute(industry: str, capital: int, employees: int) -> None:
    assert SME_LIMITS[industry].capital == capital
    assert SME_LIMITS[industry].employees == employees


BOUNDARY_CASES = [
    case
    for industry, cap, emp in STATUTORY_LIMITS
    for case in [
        (industry, cap, emp, True),  # both exactly at the limit
        (industry, cap + 1, emp + 1, False),  # both one over
        (industry, cap, emp + 1, True),  # capital at limit is enough
        (industry, cap + 1, emp, True),  # employees at limit are enough
        (industry, cap * 10, 0, True),  # capital over but employees under
        (industry, 0, emp * 10, True),  # employees over but capital under
        (industry, cap + 1, None, False),
        (industry, None, emp + 1, False),
        (industry, cap, None, True),
        (industry, None, emp, True),
        (industry, None, None, False),
    ]
]


@pytest.mark.parametrize(("industry", "capital", "employees", "expected"), BOUNDARY_CASES)
def test_is_sme_boundaries(
    industry: str, capital: int | None, employees: int | None, expected: bool
) -> None:
    assert is_sme(industry, capital, employees) is expected


@pytest.mark.parametrize(
    ("industry", "capital", "employees", "eligible"),
    [case for case in BOUNDARY_CASES if case[1:3] != (None, None)],
)
def test_company_size_problems_follow_is_sme(
    industry: str, capital: int | None, employees: int | None, eligible: bool
) -> None:
    problems = eligibility_problems(facts(industry, capital, employees))
    if eligible:
        assert problems == []
    else:
        assert len(problems) == 1
        assert "中小企業の規模要件を満たしません" in problems[0]
        assert INDUSTRY_LABELS[industry] in problems[0]


def test_size_problem_shows_limits_in_officer_units() -> None:
    (problem,) = eligibility_problems(facts("services", 6000 * MAN, 101))
    assert "資本金5,000万円以下または常時使用する従業員数100人以下" in problem
    assert "登録: 資本金6,000万円、従業員数101人" in problem
    (problem,) = eligibility_problems(facts("manufacturing", 3 * OKU + 5 * MAN, None))
    assert "資本金3億円以下" in problem
    assert "3億5万円" in problem
    assert "従業員数未登録" in problem


@pytest.mark.parametrize(
    ("industry", "capital", "employees"),
    [("nope", 1, 1), ("", 1, 1), ("wholesale", -1, 1), ("wholesale", 1, -1)],
)
def test_is_sme_rejects_bad_input(industry: str, capital: int, employees: int) -> None:
    with pytest.raises(ValueError):
        is_sme(industry, capital, employees)


def test_missing_capital_and_employees_is_a_problem() -> None:
    assert eligibility_problems(facts(capital=None, employees=None)) == [
        "資本金または常時使用する従業員数が未登録です"
    ]


@pytest.mark.parametrize("form", EXCLUDED_LEGAL_FORMS)
def test_excluded_forms(form: str) -> None:
    (problem,) = eligibility_problems(facts(legal_form=form))
    assert problem.startswith(form)
    assert "対象外" in problem


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("NPO法人", "特定非営利活動法人"),
        ("ＮＰＯ法人", "特定非営利活動法人"),
        ("LLP", "有限責任事業組合"),
        ("農協", "農業協同組合"),
        ("生協", "消費生活協同組合"),
        ("生活協同組合", "消費生活協同組合"),
    ],
)
def test_excluded_aliases(alias: str, canonical: str) -> None:
    assert canonical_legal_form(alias) == canonical
    (problem,) = eligibility_problems(facts(legal_form=alias))
    assert problem.startswith(canonical)


@pytest.mark.parametrize("form", [f for f in LEGAL_FORMS if f != "医療法人"])
def test_accepted_forms_small_firm(form: str) -> None:
    assert eligibility_problems(facts(legal_form=form)) == []


@pytest.mark.parametrize(
    ("text", "canonical"),
    [(" 株式会社 ", "株式会社"), ("特例有限会社", "有限会社"), ("個人", "個人事業主")],
)
def test_accepted_aliases_and_spacing(text: str, canonical: str) -> None:
    assert canonical_legal_form(text) == canonical
    assert eligibility_problems(facts(legal_form=text)) == []


@pytest.mark.parametrize(
    ("employees", "capital", "industry", "expected_problem"),
    [
        (300, None, "services", None),
        # The 医療法人 rule replaces the industry band: 200 > services' 100 but still eligible.
        (200, 10 * OKU, "services", None),
        (0, None, "services", None),
        (301, None, "services", "300人以下の場合に限り対象です（登録: 301人）"),
        (301, 1 * MAN, "services", "300人以下の場合に限り対象です（登録: 301人）"),
        (None, 1 * MAN, "services", "医療法人は常時使用する従業員数の登録が必要です"),
    ],
)
def test_medical_corporation(
    employees: int | None, capital: int | None, industry: str, expected_problem: str | None
) -> None:
    problems = eligibility_problems(facts(industry, capital, employees, "医療法人"))
    if expected_problem is None:
        assert problems == []
    else:
        (problem,) = problems
        assert expected_problem in problem


@pytest.mark.parametrize(
    ("industry", "capital", "employees", "expected_problem"),
    [
        ("retail", None, 50, None),
        ("retail", None, 51, "上限50人を超えています"),
        ("manufacturing", None, 300, None),
        # Capital is meaningless for a sole proprietor; a stray figure must not rescue or sink.
        ("retail", 1, 51, "上限50人を超えています"),
        ("retail", 10 * OKU, 5, None),
        ("services", None, None, "個人事業主は常時使用する従業員数の登録が必要です"),
    ],
)
def test_sole_proprietor(
    industry: str, capital: int | None, employees: int | None, expected_problem: str | None
) -> None:
    problems = eligibility_problems(facts(industry, capital, employees, "個人事業主"))
    if expected_problem is None:
        assert problems == []
    else:
        (problem,) = problems
        assert expected_problem in problem


@pytest.mark.parametrize(
    ("record", "fragments"),
    [
        (facts(industry="mining"), ["業種「mining」は登録されていません"]),
        (facts(legal_form="株式合社"), ["法人形態「株式合社」は登録されていません"]),
        (facts(legal_form=""), ["法人形態「（空欄）」は登録されていません"]),
        (facts(capital=-1), ["資本金が負の値です"]),
        (facts(employees=-3), ["常時使用する従業員数が負の値です"]),
        # Every failed condition is reported, not just the first.
        (
            facts("retail", 10 * OKU, 500, "一般社団法人"),
            ["一般社団法人は支援の対象外", "中小企業の規模要件を満たしません"],
        ),
        (
            facts("farming", None, None, "謎法人"),
            ["業種「farming」", "法人形態「謎法人」", "資本金または常時使用する従業員数が未登録"],
        ),
    ],
)
def test_problem_messages(record: CompanyFacts, fragments: list[str]) -> None:
    problems = eligibility_problems(record)
    assert len(problems) == len(fragments)
    for problem, fragment in zip(problems, fragments, strict=True):
        assert fragment in problem
        assert "\n" not in problem


def test_company_facts_is_frozen() -> None:
    record = facts()
    with pytest.raises(AttributeError):
        record.capital = 1  # type: ignore[misc]

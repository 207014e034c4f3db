"""Tests for states.money: 2/3 of the fee per category, bounded by estimate and cap (rules.md §3)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from states.money import (
    CategoryLine,
    MoneyError,
    category_subsidy,
    check_yen,
    parse_yen,
    split_plan_share,
    subsidy_lines,
)

# ---------------------------------------------------------------- category_subsidy


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        # (actual, estimate, cap) -> subsidy
        ((900_000, 1_200_000, 2_000_000), 600_000),  # fee below the estimate: the fee counts
        ((1_500_000, 1_200_000, 2_000_000), 800_000),  # fee above the estimate: the estimate
        ((4_500_000, 4_500_000, 2_000_000), 2_000_000),  # 2/3 above the cap: the cap
        ((3_000_000, 3_000_000, 2_000_000), 2_000_000),  # exactly the cap
        ((3_000_001, 3_000_001, 2_000_000), 2_000_000),
        ((2_999_999, 3_000_000, 2_000_000), 1_999_999),  # 1,999,999.33 floored
        ((None, 1_200_000, 2_000_000), 0),  # no fee recorded yet
        ((0, 1_200_000, 2_000_000), 0),
        ((1_200_000, 0, 2_000_000), 0),
        ((3, 3, 100), 2),  # exact thirds
        ((300_000, 300_000, 1_000_000), 200_000),
        ((1, 1, 100), 0),  # remainders are floored
        ((2, 2, 100), 1),
        ((4, 4, 100), 2),
        ((5, 5, 100), 3),
        ((100_001, 100_001, 1_000_000), 66_667),  # 66,667.33
        ((100_000, 100_000, 1_000_000), 66_666),  # 66,666.67 floored, not rounded
        ((225_000, 225_000, 150_000), 150_000),  # early plan cap
        ((224_999, 300_000, 150_000), 149_999),
        ((75_000, 75_000, 50_000), 50_000),  # early monitoring cap
        ((150_000, 150_000, 100_000), 100_000),  # bank negotiation cap
    ],
)
def test_category_subsidy(args: tuple[int | None, int, int], expect: int) -> None:
    assert category_subsidy(*args) == expect


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        ((900, 900, 10_000, (1, 2)), 450),
        ((901, 901, 10_000, (1, 2)), 450),
        ((900, 900, 10_000, (1, 1)), 900),
    ],
)
def test_category_subsidy_other_rate(
    args: tuple[int, int, int, tuple[int, int]], expect: int
) -> None:
    assert category_subsidy(*args) == expect


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((-1, 1_000, 1_000), "支払額"),
        ((1_000, -1, 1_000), "見積額"),
        ((1_000, 1_000, -1), "上限額"),
        ((1_000.0, 1_000, 1_000), "支払額"),
        ((1_000, "1000", 1_000), "見積額"),
        ((True, 1_000, 1_000), "支払額"),
        ((None, -1, 1_000), "見積額"),  # the estimate is checked even before a fee
    ],
)
def test_category_subsidy_refuses_bad_amounts(args: tuple[object, ...], message: str) -> None:
    with pytest.raises(MoneyError, match=message):
        category_subsidy(*args)  # type: ignore[arg-type]


# ---------------------------------------------------------------- split_plan_share


@pytest.mark.parametrize(
    ("share", "expect"),
    [
        (2_000_000, (1_000_000, 1_000_000)),
        (1_999_999, (999_999, 1_000_000)),  # the odd yen goes to the second half
        (150_000, (75_000, 75_000)),
        (1, (0, 1)),
        (0, (0, 0)),
        (3, (1, 2)),
    ],
)
def test_split_plan_share(share: int, expect: tuple[int, int]) -> None:
    assert split_plan_share(share) == expect


@pytest.mark.parametrize("share", [-1, 1.5, "100", True, None])
def test_split_plan_share_refuses(share: object) -> None:
    with pytest.raises(MoneyError):
        split_plan_share(share)  # type: ignore[arg-type]


# ---------------------------------------------------------------- parse_yen / check_yen


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("1500000", 1_500_000),
        ("1,500,000", 1_500_000),
        ("1500000円", 1_500_000),
        ("1,500,000円", 1_500_000),
        ("¥1,000", 1_000),
        ("￥1,000", 1_000),
        ("¥1000円", 1_000),
        (" 2000000 ", 2_000_000),
        ("0", 0),
        ("000150", 150),
    ],
)
def test_parse_yen_accepts(text: str, expect: int) -> None:
    assert parse_yen(text) == expect


@pytest.mark.parametrize(
    "text",
    [
        "１５０００００",  # full-width digits are refused, not guessed at
        "1\uff0c500\uff0c000円",  # full-width commas
        "1.5",
        "1500000.0",
        "-1",
        "+1000",
        "1万",
        "150万円",
        "一万",
        "",
        "   ",
        "円",
        "¥",
        ",",
        "abc",
        "1e6",
        "0x10",
        "1 000",
        "1_000",
        "²",
        "١٢٣",  # Arabic-Indic digits: isdigit() but not ASCII
    ],
)
def test_parse_yen_refuses(text: str) -> None:
    with pytest.raises(MoneyError, match="半角数字"):
        parse_yen(text)


def test_parse_yen_names_the_field() -> None:
    with pytest.raises(MoneyError, match=r"^支払額は.*'1万'"):
        parse_yen("1万", "支払額")


@pytest.mark.parametrize("text", ["1,50,000", "15,00", ",1000", "1000,"])
def test_parse_yen_refuses_misplaced_commas(text: str) -> None:
    with pytest.raises(MoneyError):
        parse_yen(text)


@pytest.mark.parametrize(("amount", "expect"), [(0, 0), (1, 1), (3_000_000, 3_000_000)])
def test_check_yen_accepts(amount: int, expect: int) -> None:
    assert check_yen(amount) == expect


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (-1, "0円以上"),
        (1.0, "整数"),
        (1.5, "整数"),
        (True, "整数"),
        (False, "整数"),
        ("100", "整数"),
        (None, "整数"),
    ],
)
def test_check_yen_refuses(amount: object, message: str) -> None:
    with pytest.raises(MoneyError, match=message):
        check_yen(amount)


# ---------------------------------------------------------------- subsidy_lines


def test_subsidy_lines() -> None:
    caps = {"dd_plan": 2_000_000, "monitoring": 1_000_000, "bank_negotiation": 100_000}
    lines = subsidy_lines(
        caps,
        estimates={"dd_plan": 3_600_000, "monitoring": 600_000},
        actuals={"dd_plan": 3_300_000, "bank_negotiation": 90_000},
    )
    assert lines == [
        CategoryLine("dd_plan", 3_600_000, 3_300_000, 2_000_000, 2_000_000),
        CategoryLine("monitoring", 600_000, None, 1_000_000, 0),
        # No estimate filed: the category pays nothing, whatever the fee.
        CategoryLine("bank_negotiation", None, 90_000, 100_000, 0),
    ]


def test_subsidy_lines_order_follows_categories() -> None:
    caps = {"plan": 150_000, "monitoring_year_end": 50_000}
    lines = subsidy_lines(
        caps,
        estimates={"plan": 150_000, "monitoring_year_end": 60_000},
        actuals={"plan": 150_000, "monitoring_year_end": 60_000},
        categories=["monitoring_year_end", "plan"],
    )
    assert [(x.category, x.subsidy) for x in lines] == [
        ("monitoring_year_end", 40_000),
        ("plan", 100_000),
    ]


# ---------------------------------------------------------------- properties

yen = st.integers(min_value=0, max_value=10**10)


@given(actual=yen, estimate=yen, cap=yen)
def test_subsidy_bounds(actual: int, estimate: int, cap: int) -> None:
    s = category_subsidy(actual, estimate, cap)
    assert 0 <= s <= cap
    assert s <= estimate * 2 // 3
    assert s <= actual * 2 // 3
    # Floor, not round: 3 × subsidy never exceeds 2 × the fee counted.
    assert 3 * s <= 2 * min(actual, estimate)


@given(a=yen, b=yen, estimate=yen, cap=yen)
def test_subsidy_monotone_in_actual(a: int, b: int, estimate: int, cap: int) -> None:
    lo, hi = sorted((a, b))
    assert category_subsidy(lo, estimate, cap) <= category_subsidy(hi, estimate, cap)
    assert category_subsidy(None, estimate, cap) <= category_subsidy(lo, estimate, cap)


@given(actual=yen, estimate=yen, cap=yen)
def test_subsidy_reaches_the_smaller_bound(actual: int, estimate: int, cap: int) -> None:
    assert category_subsidy(actual, estimate, cap) == min(min(actual, estimate) * 2 // 3, cap)


@given(share=yen)
def test_split_halves(share: int) -> None:
    first, second = split_plan_share(share)
    assert first + second == share
    assert 0 <= second - first <= 1
    assert first >= 0


@given(n=st.integers(min_value=0, max_value=10**12))
def test_parse_yen_round_trips(n: int) -> None:
    assert parse_yen(str(n)) == n
    assert parse_yen(f"{n:,}") == n
    assert parse_yen(f"¥{n:,}") == n
    assert parse_yen(f"{n}円") == n

"""The subsidy arithmetic: 2/3 of the fee per category, bounded by the estimate and the cap.

Money is integer yen throughout (design.md §5): `floor(x * 2 / 3)` is `x * 2 // 3`.
Source: rules.md §3 (中小企業庁 program pages); the floor to the yen is unverified there and
lives in the rule data as `money.rounding`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

_YEN = re.compile(r"[0-9]+|[0-9]{1,3}(?:,[0-9]{3})+")


# Far above any fee or capital a council records, and well inside a 64-bit column.
MAX_YEN = 999_999_999_999_999


class MoneyError(ValueError):
    """An amount that cannot be money here (negative, fractional, not a number)."""


def check_yen(amount: object, what: str = "金額") -> int:
    """Accept a whole, non-negative number of yen; refuse anything else in one line."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise MoneyError(f"{what}は円単位の整数で入力してください: {amount!r}")
    if amount < 0:
        raise MoneyError(f"{what}は0円以上で入力してください: {amount}")
    if amount > MAX_YEN:
        raise MoneyError(f"{what}が大きすぎます: {amount:,}円 (上限 {MAX_YEN:,}円)")
    return amount


def parse_yen(text: str, what: str = "金額") -> int:
    """Parse yen typed by a person: ASCII digits with optional commas, '円' or '¥'.

    Full-width digits are refused rather than guessed at, as are decimals and Kanji
    numerals (`1万`): a wrong amount in a public-money record is worse than a retry.
    """
    s = text.strip().removeprefix("¥").removeprefix("￥").removesuffix("円")
    # Commas only as thousands separators: '1,50,000' is a typo, not 150,000.
    if not _YEN.fullmatch(s):
        raise MoneyError(f"{what}は半角数字の円単位 (例: 1500000) で入力してください: '{text}'")
    return int(s.replace(",", ""))


def category_subsidy(
    actual: int | None, estimate: int, cap: int, rate: tuple[int, int] = (2, 3)
) -> int:
    """`min(floor(min(actual, estimate) × rate), cap)`; nothing is paid before a fee is recorded."""
    check_yen(estimate, "見積額")
    check_yen(cap, "上限額")
    if actual is None:
        return 0
    check_yen(actual, "支払額")
    num, den = rate
    return min(min(actual, estimate) * num // den, cap)


def split_plan_share(share: int) -> tuple[int, int]:
    """The plan-cost subsidy paid in two: half at the payment decision, the rest later.

    rules.md §3: applications from 2022-04-01 are paid half at `decide_payment` and half with
    the first monitoring payment. An odd yen goes to the second half (the first is floored),
    so the council never pays ahead of the rule.
    """
    check_yen(share, "補助額")
    first = share // 2
    return first, share - first


@dataclass(frozen=True)
class CategoryLine:
    category: str
    estimate: int | None
    actual: int | None
    cap: int
    subsidy: int


def subsidy_lines(
    caps: Mapping[str, int],
    estimates: Mapping[str, int],
    actuals: Mapping[str, int],
    rate: tuple[int, int] = (2, 3),
    categories: Iterable[str] | None = None,
) -> list[CategoryLine]:
    """One line per category, in the order given (the definition's order by default)."""
    lines = []
    for c in categories if categories is not None else caps:
        est = estimates.get(c)
        act = actuals.get(c)
        sub = category_subsidy(act, est, caps[c], rate) if est is not None else 0
        lines.append(CategoryLine(c, est, act, caps[c], sub))
    return lines

"""Tests for states.calendar (年度 and the business calendar; rules.md §5)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from states.calendar import BusinessCalendar, fiscal_year, fiscal_year_bounds

CAL = BusinessCalendar()

# 内閣府「国民の祝日について」(www8.cao.go.jp/chosei/shukujitsu/gaiyou.html), 令和8年・令和9年.
OFFICIAL_HOLIDAYS: dict[int, dict[date, str]] = {
    2026: {
        date(2026, 1, 1): "元日",
        date(2026, 1, 12): "成人の日",
        date(2026, 2, 11): "建国記念の日",
        date(2026, 2, 23): "天皇誕生日",
        date(2026, 3, 20): "春分の日",
        date(2026, 4, 29): "昭和の日",
        date(2026, 5, 3): "憲法記念日",
        date(2026, 5, 4): "みどりの日",
        date(2026, 5, 5): "こどもの日",
        date(2026, 5, 6): "振替休日",
        date(2026, 7, 20): "海の日",
        date(2026, 8, 11): "山の日",
        date(2026, 9, 21): "敬老の日",
        date(2026, 9, 22): "国民の休日",
        date(2026, 9, 23): "秋分の日",
        date(2026, 10, 12): "スポーツの日",
        date(2026, 11, 3): "文化の日",
        date(2026, 11, 23): "勤労感謝の日",
    },
    2027: {
        date(2027, 1, 1): "元日",
        date(2027, 1, 11): "成人の日",
        date(2027, 2, 11): "建国記念の日",
        date(2027, 2, 23): "天皇誕生日",
        date(2027, 3, 21): "春分の日",
        date(2027, 3, 22): "振替休日",
        date(2027, 4, 29): "昭和の日",
        date(2027, 5, 3): "憲法記念日",
        date(2027, 5, 4): "みどりの日",
        date(2027, 5, 5): "こどもの日",
        date(2027, 7, 19): "海の日",
        date(2027, 8, 11): "山の日",
        date(2027, 9, 20): "敬老の日",
        date(2027, 9, 23): "秋分の日",
        date(2027, 10, 11): "スポーツの日",
        date(2027, 11, 3): "文化の日",
        date(2027, 11, 23): "勤労感謝の日",
    },
}

# 行政機関の休日に関する法律 第1条第1項第3号: 12月29日から翌年の1月3日まで.
YEAR_END_DAYS = {(12, 29), (12, 30), (12, 31), (1, 1), (1, 2), (1, 3)}


def days_of(year: int) -> list[date]:
    first = date(year, 1, 1)
    return [first + timedelta(days=i) for i in range((date(year + 1, 1, 1) - first).days)]


def brute_business_days_between(cal: BusinessCalendar, start: date, end: date) -> int:
    if end < start:
        return -brute_business_days_between(cal, end, start)
    return sum(
        cal.is_business_day(start + timedelta(days=i)) for i in range(1, (end - start).days + 1)
    )


# --- 年度 -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "fy"),
    [
        (date(2027, 3, 31), 2026),
        (date(2027, 4, 1), 2027),
        (date(2026, 4, 1), 2026),
        (date(2026, 3, 31), 2025),
        (date(2026, 1, 1), 2025),
        (date(2026, 12, 31), 2026),
    ],
)
def test_fiscal_year(day: date, fy: int) -> None:
    assert fiscal_year(day) == fy


def test_fiscal_year_bounds() -> None:
    assert fiscal_year_bounds(2026) == (date(2026, 4, 1), date(2027, 3, 31))
    # 2028 is a leap year; the 年度 still ends on 31 March.
    assert fiscal_year_bounds(2027) == (date(2027, 4, 1), date(2028, 3, 31))


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31)))
def test_fiscal_year_bounds_contain_the_day(day: date) -> None:
    first, last = fiscal_year_bounds(fiscal_year(day))
    assert first <= day <= last
    assert fiscal_year(first) == fiscal_year(last) == fiscal_year(day)


# --- closed days ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "name"), [item for table in OFFICIAL_HOLIDAYS.values() for item in table.items()]
)
def test_official_holidays_are_closed_and_named(day: date, name: str) -> None:
    assert not CAL.is_business_day(day)
    assert CAL.closed_reason(day) == name


@pytest.mark.parametrize("year", sorted(OFFICIAL_HOLIDAYS))
def test_every_other_weekday_is_open(year: int) -> None:
    holidays_of_year = OFFICIAL_HOLIDAYS[year]
    for day in days_of(year):
        expected_open = (
            day.weekday() < 5
            and day not in holidays_of_year
            and (day.month, day.day) not in YEAR_END_DAYS
        )
        assert CAL.is_business_day(day) is expected_open, day
        assert (CAL.closed_reason(day) is None) is expected_open, day


@pytest.mark.parametrize(
    ("day", "reason"),
    [
        (date(2025, 12, 29), "年末年始"),  # Monday
        (date(2025, 12, 31), "年末年始"),
        (date(2026, 1, 2), "年末年始"),  # Friday
        (date(2026, 1, 3), "年末年始"),  # Saturday: the closure is the more telling reason
        (date(2026, 12, 29), "年末年始"),
        (date(2026, 12, 30), "年末年始"),
        (date(2026, 12, 31), "年末年始"),
        (date(2027, 1, 1), "元日"),  # holiday name wins over 年末年始
        (date(2027, 1, 2), "年末年始"),
        (date(2026, 6, 6), "土曜日"),
        (date(2026, 6, 7), "日曜日"),
        (date(2026, 5, 3), "憲法記念日"),  # Sunday, but named
        (date(2026, 6, 8), None),
        (date(2025, 12, 26), None),
        (date(2026, 12, 28), None),
        (date(2027, 1, 4), None),
    ],
)
def test_closed_reason(day: date, reason: str | None) -> None:
    assert CAL.closed_reason(day) == reason
    assert CAL.is_business_day(day) is (reason is None)


def test_extra_closed_days() -> None:
    obon = [date(2026, 8, 13), date(2026, 8, 14)]  # Thu, Fri
    cal = BusinessCalendar(extra_closed=[*obon, date(2026, 8, 15), date(2026, 8, 11)])
    assert cal.extra_closed == frozenset([*obon, date(2026, 8, 15), date(2026, 8, 11)])
    for day in obon:
        assert not cal.is_business_day(day)
        assert cal.closed_reason(day) == "協議会休業日"
        assert CAL.is_business_day(day), "another council's calendar must not be affected"
    assert cal.closed_reason(date(2026, 8, 15)) == "土曜日"
    assert cal.closed_reason(date(2026, 8, 11)) == "山の日"
    assert cal.next_business_day(date(2026, 8, 11)) == date(2026, 8, 12)
    assert cal.add_business_days(date(2026, 8, 12), 1) == date(2026, 8, 17)
    assert cal.business_days_between(date(2026, 8, 7), date(2026, 8, 17)) == 3
    assert CAL.business_days_between(date(2026, 8, 7), date(2026, 8, 17)) == 5


def test_extra_closed_accepts_generator() -> None:
    cal = BusinessCalendar(date(2026, 6, d) for d in (1, 2))
    assert not cal.is_business_day(date(2026, 6, 1))
    assert not cal.is_business_day(date(2026, 6, 2))
    assert cal.is_business_day(date(2026, 6, 3))


@pytest.mark.parametrize("day", [date(1948, 12, 31), date(2100, 1, 4)])
def test_years_without_holiday_data_are_refused(day: date) -> None:
    with pytest.raises(ValueError, match="祝日データの範囲外"):
        CAL.is_business_day(day)
    with pytest.raises(ValueError, match="祝日データの範囲外"):
        CAL.closed_reason(day)


def test_holidays_are_built_once_per_year(monkeypatch: pytest.MonkeyPatch) -> None:
    import holidays.countries.japan as japan_module

    built: list[int] = []
    real = japan_module.Japan

    def counting(*args: Any, **kwargs: Any) -> Any:
        built.append(kwargs["years"])
        return real(*args, **kwargs)

    # states.calendar imports Japan when a year is first needed, from this module.
    monkeypatch.setattr(japan_module, "Japan", counting)
    cal = BusinessCalendar()
    for day in days_of(2026) + days_of(2027):
        cal.is_business_day(day)
        cal.closed_reason(day)
    cal.business_days_between(date(2026, 1, 1), date(2027, 12, 31))
    assert built == [2026, 2027]


# --- rolling ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "forward", "back"),
    [
        (date(2026, 6, 1), date(2026, 6, 1), date(2026, 6, 1)),  # open: itself
        (date(2026, 4, 29), date(2026, 4, 30), date(2026, 4, 28)),
        # Golden Week 2026: 5/2 Sat – 5/6 振替休日.
        (date(2026, 5, 2), date(2026, 5, 7), date(2026, 5, 1)),
        (date(2026, 5, 3), date(2026, 5, 7), date(2026, 5, 1)),
        (date(2026, 5, 6), date(2026, 5, 7), date(2026, 5, 1)),
        # Silver Week 2026: 9/19 Sat – 9/23 秋分の日.
        (date(2026, 9, 19), date(2026, 9, 24), date(2026, 9, 18)),
        # New Year.
        (date(2025, 12, 27), date(2026, 1, 5), date(2025, 12, 26)),
        (date(2026, 12, 29), date(2027, 1, 4), date(2026, 12, 28)),
        (date(2027, 1, 3), date(2027, 1, 4), date(2026, 12, 28)),
        # 2027: 1/1 Fri – 1/3 Sun, and 1/11 成人の日.
        (date(2027, 1, 9), date(2027, 1, 12), date(2027, 1, 8)),
    ],
)
def test_roll_forward_and_back(day: date, forward: date, back: date) -> None:
    assert CAL.next_business_day(day) == forward
    assert CAL.previous_business_day(day) == back


@pytest.mark.parametrize(
    ("year", "month", "expected"),
    [
        (2026, 1, date(2026, 1, 30)),  # 1/31 Saturday
        (2026, 2, date(2026, 2, 27)),  # 2/28 Saturday
        (2026, 3, date(2026, 3, 31)),
        (2026, 4, date(2026, 4, 30)),
        (2026, 5, date(2026, 5, 29)),  # 5/31 Sunday
        (2026, 8, date(2026, 8, 31)),
        (2026, 10, date(2026, 10, 30)),  # 10/31 Saturday
        (2026, 12, date(2026, 12, 28)),  # 12/29–31 closure
        (2027, 1, date(2027, 1, 29)),  # 1/31 Sunday
        (2027, 2, date(2027, 2, 26)),  # 2/28 Sunday
        (2027, 12, date(2027, 12, 28)),
        (2028, 2, date(2028, 2, 29)),  # leap day, Tuesday
    ],
)
def test_last_business_day_of_month(year: int, month: int, expected: date) -> None:
    assert CAL.last_business_day_of_month(year, month) == expected


# --- counting ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "n", "expected"),
    [
        (date(2026, 6, 1), 0, date(2026, 6, 1)),
        (date(2026, 5, 2), 0, date(2026, 5, 7)),  # n = 0 rolls forward
        (date(2026, 6, 1), 1, date(2026, 6, 2)),
        (date(2026, 6, 1), 5, date(2026, 6, 8)),
        (date(2026, 6, 1), 10, date(2026, 6, 15)),
        (date(2026, 6, 8), -5, date(2026, 6, 1)),
        (date(2026, 5, 1), 1, date(2026, 5, 7)),
        (date(2026, 5, 2), 1, date(2026, 5, 7)),  # closed start is not counted
        (date(2026, 5, 2), -1, date(2026, 5, 1)),
        (date(2026, 5, 7), -1, date(2026, 5, 1)),
        (date(2026, 9, 18), 1, date(2026, 9, 24)),
        (date(2026, 12, 28), 1, date(2027, 1, 4)),
        (date(2027, 1, 4), -1, date(2026, 12, 28)),
        (date(2026, 12, 25), 3, date(2027, 1, 5)),
    ],
)
def test_add_business_days(day: date, n: int, expected: date) -> None:
    assert CAL.add_business_days(day, n) == expected


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (date(2026, 6, 1), date(2026, 6, 1), 0),
        (date(2026, 6, 1), date(2026, 6, 2), 1),
        (date(2026, 6, 2), date(2026, 6, 1), -1),
        (date(2026, 6, 1), date(2026, 6, 8), 5),
        (date(2026, 5, 1), date(2026, 5, 7), 1),
        (date(2026, 5, 7), date(2026, 5, 1), -1),
        (date(2026, 5, 2), date(2026, 5, 6), 0),
        (date(2026, 12, 28), date(2027, 1, 4), 1),
        (date(2026, 6, 5), date(2026, 6, 7), 0),  # Friday -> Sunday
        (date(2026, 6, 6), date(2026, 6, 8), 1),  # Saturday -> Monday
        # All of 2026: 261 weekdays − 17 weekday holidays − 4 weekday closure days.
        (date(2025, 12, 31), date(2026, 12, 31), 240),
        (date(2026, 12, 31), date(2025, 12, 31), -240),
    ],
)
def test_business_days_between(start: date, end: date, expected: int) -> None:
    assert CAL.business_days_between(start, end) == expected
    assert brute_business_days_between(CAL, start, end) == expected


supported_days = st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 31))


@given(supported_days, st.integers(min_value=-400, max_value=400))
def test_add_then_count_round_trips(day: date, n: int) -> None:
    assume(CAL.is_business_day(day))
    assert CAL.business_days_between(day, CAL.add_business_days(day, n)) == n


@given(supported_days, st.integers(min_value=1, max_value=400))
def test_add_forward_from_any_day(day: date, n: int) -> None:
    result = CAL.add_business_days(day, n)
    assert CAL.is_business_day(result)
    assert CAL.business_days_between(day, result) == n
    assert CAL.business_days_between(day, result - timedelta(days=1)) == n - 1


@given(supported_days, st.integers(min_value=-800, max_value=800))
def test_counting_matches_brute_force(start: date, span: int) -> None:
    end = start + timedelta(days=span)
    assert CAL.business_days_between(start, end) == brute_business_days_between(CAL, start, end)


def test_supported_years_match_the_holidays_package() -> None:
    from holidays.countries.japan import Japan

    from states.calendar import FIRST_SUPPORTED_YEAR, LAST_SUPPORTED_YEAR

    assert (Japan.start_year, Japan.end_year) == (FIRST_SUPPORTED_YEAR, LAST_SUPPORTED_YEAR)

"""Dates people give are held to the years the holiday data covers (with room for timelines)."""

from __future__ import annotations

from datetime import date

import pytest

from states.calendar import (
    FIRST_INPUT_YEAR,
    LAST_INPUT_YEAR,
    LAST_SUPPORTED_YEAR,
    BusinessCalendar,
    DateOutOfRange,
    check_input_date,
    check_input_fiscal_year,
)

TODAY = date(2026, 6, 1)  # 2026年度


@pytest.mark.parametrize(
    "d", [date(1, 1, 1), date(1900, 1, 1), date(1999, 12, 31), date(2090, 1, 1), date(9999, 12, 31)]
)
def test_dates_outside_the_range_are_refused_in_one_line(d: date) -> None:
    with pytest.raises(DateOutOfRange, match="範囲外") as e:
        check_input_date(d, "--on")
    assert str(e.value).startswith("--on ") and "\n" not in str(e.value)


@pytest.mark.parametrize("d", [date(2000, 1, 1), TODAY, date(2089, 12, 31)])
def test_dates_inside_are_kept(d: date) -> None:
    assert check_input_date(d) == d


def test_a_timeline_from_the_last_input_date_stays_inside_the_holiday_data() -> None:
    cal = BusinessCalendar()
    # five years of monthly deadlines from the last date a person may give
    assert cal.add_business_days(date(LAST_INPUT_YEAR, 12, 31), 5 * 250).year <= LAST_SUPPORTED_YEAR


@pytest.mark.parametrize(("fy", "ok"), [(0, False), (-1, False), (1999, False), (2000, True),
                                        (2026, True), (2027, True), (2028, False), (99999, False)])  # fmt: skip
def test_fiscal_years_are_plausible(fy: int, ok: bool) -> None:
    if ok:
        assert check_input_fiscal_year(fy, TODAY) == fy
    else:
        with pytest.raises(DateOutOfRange, match=f"{FIRST_INPUT_YEAR}〜2027"):
            check_input_fiscal_year(fy, TODAY)


def test_the_calendar_refuses_years_without_holiday_data_with_its_own_error() -> None:
    with pytest.raises(DateOutOfRange, match="祝日データの範囲外"):
        BusinessCalendar().is_business_day(date(LAST_SUPPORTED_YEAR + 1, 1, 5))

"""年度 (fiscal years) and the council business calendar: which days are open, and day arithmetic.

Dates are calendar dates in Asia/Tokyo (rules.md §5); converting instants is the caller's job.

Closed days, and their sources:
- Saturday and Sunday.
- 国民の祝日, 振替休日 and 国民の休日: 国民の祝日に関する法律 第2条・第3条, as published by 内閣府
  「国民の祝日について」; taken from the `holidays` package (holidays.Japan, public category).
- Government year-end closure 12/29–1/3: 行政機関の休日に関する法律 第1条第1項第3号.
- Days a council adds itself (協議会休業日).
"""

from __future__ import annotations

import bisect
import calendar as _stdlib_calendar
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Final

__all__ = [
    "BusinessCalendar",
    "DateOutOfRange",
    "check_input_date",
    "check_input_fiscal_year",
    "fiscal_year",
    "fiscal_year_bounds",
]

_ONE_DAY: Final = timedelta(days=1)

# Closed-day reasons shown to officers.
SATURDAY: Final = "土曜日"
SUNDAY: Final = "日曜日"
YEAR_END: Final = "年末年始"
COUNCIL_CLOSED: Final = "協議会休業日"

# Outside this range `holidays` silently returns no holidays; answering "open" for a
# real 元日 would be worse than refusing. (holidays.countries.japan.Japan.start_year/end_year;
# a test checks these match. The package is imported only when a year is first needed: it
# costs ~0.1 s, which a command that touches no date should not pay.)
FIRST_SUPPORTED_YEAR: Final[int] = 1949
LAST_SUPPORTED_YEAR: Final[int] = 2099

# Dates people give (facts, filters, previews, 年度) are held to a narrower range, so that
# everything computed from them stays inside the holiday data: a 405 case's timeline runs
# about four years past its first consultation and an extended validity a few more. Before
# 2000 neither program existed, so such a date is a typing mistake.
FIRST_INPUT_YEAR: Final[int] = 2000
LAST_INPUT_YEAR: Final[int] = LAST_SUPPORTED_YEAR - 10


class DateOutOfRange(ValueError):
    """A date outside the supported years; the message is one Japanese line for officers."""


def check_input_date(d: date, what: str = "日付") -> date:
    """`d` if a person may give it (FIRST_INPUT_YEAR–LAST_INPUT_YEAR), else `DateOutOfRange`."""
    if not FIRST_INPUT_YEAR <= d.year <= LAST_INPUT_YEAR:
        raise DateOutOfRange(
            f"{what} {d.isoformat()} は範囲外です"
            f" ({FIRST_INPUT_YEAR}-01-01〜{LAST_INPUT_YEAR}-12-31 の日付を指定してください)"
        )
    return d


def check_input_fiscal_year(fy: int, today: date, what: str = "年度") -> int:
    """A plausible 年度: from FIRST_INPUT_YEAR to the one after `today`'s, else `DateOutOfRange`."""
    last = fiscal_year(today) + 1
    if not FIRST_INPUT_YEAR <= fy <= last:
        raise DateOutOfRange(
            f"{what} {fy} は範囲外です ({FIRST_INPUT_YEAR}〜{last} の年度を指定してください)"
        )
    return fy


def fiscal_year(d: date) -> int:
    """年度 containing `d`: April–March, named by the year it starts in (2027-03-31 → 2026)."""
    return d.year if d.month >= 4 else d.year - 1


def fiscal_year_bounds(fy: int) -> tuple[date, date]:
    """First and last day (both inclusive) of 年度 `fy`: 1 April fy – 31 March fy+1."""
    return date(fy, 4, 1), date(fy + 1, 3, 31)


def _year_end_closure(year: int) -> list[date]:
    """The 12/29–1/3 days that fall in calendar year `year`."""
    return [date(year, 1, day) for day in (1, 2, 3)] + [date(year, 12, day) for day in (29, 30, 31)]


def _weekdays_through(d: date) -> int:
    """Mon–Fri days from 0001-01-01 through `d` inclusive (0001-01-01 is a Monday)."""
    weeks, rest = divmod(d.toordinal(), 7)
    return weeks * 5 + min(rest, 5)


class BusinessCalendar:
    """Open/closed days for one council: weekends, national holidays, 12/29–1/3, extra days.

    Each calendar year's closed weekdays are computed once, on first use, and kept; after that
    `is_business_day` is a weekday test plus a dict lookup. The cache is only ever filled with
    the same value for a year, so concurrent first use at worst repeats the work.
    """

    def __init__(self, extra_closed: Iterable[date] = ()) -> None:
        self._extra_closed: frozenset[date] = frozenset(extra_closed)
        # year -> {holiday or year-end day: reason}, weekend days included (for closed_reason).
        self._named_by_year: dict[int, dict[date, str]] = {}
        # year -> closed Mon–Fri days; weekends are decided arithmetically.
        self._closed_by_year: dict[int, frozenset[date]] = {}
        # year -> the same days sorted, for counting over long ranges with bisect.
        self._sorted_by_year: dict[int, list[date]] = {}

    @property
    def extra_closed(self) -> frozenset[date]:
        return self._extra_closed

    def _load_year(self, year: int) -> None:
        if not FIRST_SUPPORTED_YEAR <= year <= LAST_SUPPORTED_YEAR:
            raise DateOutOfRange(
                f"{year}年は祝日データの範囲外です（{FIRST_SUPPORTED_YEAR}〜{LAST_SUPPORTED_YEAR}年）"
                " [calendar.year_out_of_range]"
            )
        # Year-end first so that a holiday name wins on overlaps: 2027-01-01 is both 元日 and
        # 年末年始, and the name says more.
        named = dict.fromkeys(_year_end_closure(year), YEAR_END)
        from holidays.countries.japan import Japan

        national = Japan(years=year, language="ja", categories=("public",))
        named.update((day, str(name)) for day, name in national.items())
        extra = {day for day in self._extra_closed if day.year == year}
        closed = frozenset(day for day in named.keys() | extra if day.weekday() < 5)
        self._named_by_year[year] = named
        self._sorted_by_year[year] = sorted(closed)
        # Written last: its presence is what marks the year as loaded.
        self._closed_by_year[year] = closed

    def _closed_weekdays(self, year: int) -> frozenset[date]:
        closed = self._closed_by_year.get(year)
        if closed is None:
            self._load_year(year)
            closed = self._closed_by_year[year]
        return closed

    def is_business_day(self, d: date) -> bool:
        return d.weekday() < 5 and d not in self._closed_weekdays(d.year)

    def closed_reason(self, d: date) -> str | None:
        """Why `d` is closed, in Japanese, or None if it is a business day.

        Precedence: national holiday name (e.g. "振替休日") > 年末年始 > 土曜日/日曜日 >
        協議会休業日. Weekend holidays are reported by name, since the name is what officers
        recognise (2026-05-03 is 憲法記念日, not just a Sunday).
        """
        self._closed_weekdays(d.year)
        name = self._named_by_year[d.year].get(d)
        if name is not None:
            return name
        weekday = d.weekday()
        if weekday >= 5:
            return SATURDAY if weekday == 5 else SUNDAY
        if d in self._extra_closed:
            return COUNCIL_CLOSED
        return None

    def next_business_day(self, d: date) -> date:
        """`d` itself if it is open, else the first business day after it ("roll forward")."""
        while not self.is_business_day(d):
            d += _ONE_DAY
        return d

    def previous_business_day(self, d: date) -> date:
        """`d` itself if it is open, else the last business day before it ("roll back")."""
        while not self.is_business_day(d):
            d -= _ONE_DAY
        return d

    def last_business_day_of_month(self, year: int, month: int) -> date:
        """Due date of a milestone set by month (rules.md §5)."""
        last_day = _stdlib_calendar.monthrange(year, month)[1]
        return self.previous_business_day(date(year, month, last_day))

    def add_business_days(self, d: date, n: int) -> date:
        """The n-th business day after `d` (n > 0) or the |n|-th before it (n < 0).

        `d` itself is never counted, open or not: from Friday 2026-05-01, n=1 gives Thursday
        2026-05-07 (past Golden Week) and from Saturday 2026-05-02 too. n = 0 is the
        roll-forward of `d` (`next_business_day`), which is how a deadline counted in days
        that lands on a closed day moves (rules.md §5).
        """
        if n == 0:
            return self.next_business_day(d)
        step = _ONE_DAY if n > 0 else -_ONE_DAY
        remaining = abs(n)
        while remaining:
            d += step
            if self.is_business_day(d):
                remaining -= 1
        return d

    def business_days_between(self, start: date, end: date) -> int:
        """Business days d with start < d <= end; −(that count for (end, start]) if end < start.

        So a report due on business day D and filed on F is `business_days_between(D, F)` days
        late, and for business day d, `business_days_between(d, add_business_days(d, n)) == n`.
        """
        if end < start:
            return -self.business_days_between(end, start)
        weekdays = _weekdays_through(end) - _weekdays_through(start)
        closed = 0
        for year in range(start.year, end.year + 1):
            self._closed_weekdays(year)
            days = self._sorted_by_year[year]
            closed += bisect.bisect_right(days, end) - bisect.bisect_right(days, start)
        return weekdays - closed

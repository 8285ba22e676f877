"""Which dates are working days, and counting over them without walking day by day.

Each year is turned once into a sorted tuple of working-day ordinals; moving N working days or counting
the working days in a range is then a bisection per year crossed, which keeps ``due_at`` cheap enough to
call thousands of times a second.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

# Saturday and Sunday.
WEEKEND = frozenset({5, 6})


@dataclass(frozen=True, slots=True)
class PackageYear:
    """What the holidays source says about one year: days off, and weekend days made working days."""

    days_off: frozenset[date]
    makeup_working_days: frozenset[date]


HolidaySource = Callable[[int], PackageYear]

#: Days the government moved for the public sector that the ``holidays`` package does not know (its
#: 0.109 release): per year, the working days given off and the weekend days worked in exchange.
#: A province's own configuration still wins over these (``extra_working_days``, ``extra_days_off``).
ANNOUNCED_SWAPS: dict[int, PackageYear] = {
    # Tết Dương lịch 2026: Friday 2 January off, worked on Saturday 10 January (the Government's
    # agreement of 25 December 2025, announced by the Ministry of Home Affairs the same day).
    2026: PackageYear(days_off=frozenset({date(2026, 1, 2)}), makeup_working_days=frozenset({date(2026, 1, 10)})),
}


@lru_cache(maxsize=512)
def vietnam_public_holidays(year: int) -> PackageYear:
    """Vietnamese public holidays of ``year`` from the ``holidays`` package, cached per year.

    Building a ``holidays.Vietnam`` object is slow (it computes the lunar calendar), hence the cache.
    The package also knows the Saturdays worked in exchange for a moved day off (e.g. 26 Apr 2025 for
    2 May 2025); those are working days too. The swaps it does not know yet come from
    :data:`ANNOUNCED_SWAPS`. The package is imported here, not at module import time.
    """
    import holidays

    package = holidays.country_holidays("VN", years=year)
    announced = ANNOUNCED_SWAPS.get(year, PackageYear(frozenset(), frozenset()))
    return PackageYear(
        days_off=frozenset(d for d in package if d.year == year) | announced.days_off,
        makeup_working_days=frozenset(d for d in package.weekend_workdays if d.year == year)
        | announced.makeup_working_days,
    )


@dataclass(frozen=True, slots=True)
class _Year:
    ordinals: tuple[int, ...]
    working: frozenset[int]


class WorkingDays:
    """The working days of the calendar: the package's holidays plus the configured overrides.

    Precedence, strongest first: an extra day off; an extra working day; a package holiday; a package
    make-up working day; the weekend; otherwise a working day.
    """

    def __init__(
        self,
        extra_days_off: Iterable[date] = (),
        extra_working_days: Iterable[date] = (),
        source: HolidaySource = vietnam_public_holidays,
    ) -> None:
        self._extra_off = frozenset(extra_days_off)
        self._extra_working = frozenset(extra_working_days)
        self._source = source
        # Filled lazily; a race only computes the same value twice.
        self._years: dict[int, _Year] = {}

    def _year(self, year: int) -> _Year:
        cached = self._years.get(year)
        if cached is None:
            cached = self._years[year] = self._build(year)
        return cached

    def _build(self, year: int) -> _Year:
        package = self._source(year)
        first = date(year, 1, 1).toordinal()
        last = date(year, 12, 31).toordinal()
        ordinals = tuple(o for o in range(first, last + 1) if self._decide(date.fromordinal(o), package))
        return _Year(ordinals, frozenset(ordinals))

    def _decide(self, day: date, package: PackageYear) -> bool:
        if day in self._extra_off:
            return False
        if day in self._extra_working:
            return True
        if day in package.days_off:
            return False
        if day in package.makeup_working_days:
            return True
        return day.weekday() not in WEEKEND

    def is_working_day(self, day: date) -> bool:
        return day.toordinal() in self._year(day.year).working

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after ``day``."""
        year = day.year
        index = bisect_right(self._year(year).ordinals, day.toordinal())
        while index >= len(self._year(year).ordinals):
            year, index = year + 1, 0
        return date.fromordinal(self._year(year).ordinals[index])

    def add_working_days(self, day: date, n: int) -> date:
        """Roll ``day`` forward to a working day, then move ``n`` working days (back if negative).

        The numpy ``busday_offset(roll="forward")`` convention: Monday + 1 is Tuesday, Saturday + 0 is Monday.
        """
        year = day.year
        index = bisect_left(self._year(year).ordinals, day.toordinal()) + n
        while index >= len(self._year(year).ordinals):
            index -= len(self._year(year).ordinals)
            year += 1
        while index < 0:
            year -= 1
            index += len(self._year(year).ordinals)
        return date.fromordinal(self._year(year).ordinals[index])

    def count_working_days(self, start: date, end: date) -> int:
        """Working days in ``[start, end)``; negative when ``end`` is before ``start`` (numpy ``busday_count``)."""
        if end < start:
            return -self.count_working_days(end, start)
        if start.year == end.year:
            ordinals = self._year(start.year).ordinals
            return bisect_left(ordinals, end.toordinal()) - bisect_left(ordinals, start.toordinal())
        first = self._year(start.year).ordinals
        total = len(first) - bisect_left(first, start.toordinal())
        for year in range(start.year + 1, end.year):
            total += len(self._year(year).ordinals)
        return total + bisect_left(self._year(end.year).ordinals, end.toordinal())

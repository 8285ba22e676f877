"""Office-time arithmetic in Vietnam time: counting starts, due dates, elapsed and added working time.

Everything rests on one monotone clock, W(t) = (working days before t's date) x (office day length)
+ (office time already elapsed on t's date). Elapsed office time is W(b) - W(a); adding s seconds finds the
earliest instant u >= t with W(u) = W(t) + s. Because W is exact integer microseconds, the identities the
workflow relies on (pause, resume, shift the due date by the paused time) hold without drift.

Vietnam has kept UTC+7 without daylight saving since 1975, so wall-clock arithmetic is safe.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from workcal.config import US, CalendarConfig, clock_us
from workcal.days import HolidaySource, WorkingDays, vietnam_public_holidays
from workcal.durations import DurationUnit, StatutoryDuration

TIME_ZONE = "Asia/Ho_Chi_Minh"
#: The years of dates the services take from a request. Beyond them, date arithmetic fails (a day
#: after 9999-12-31, year 1's local mean time offset) or the database has no such instant: a 500, or a
#: 503 for ever where the driver's refusal reads as an outage.
SUPPORTED_YEARS = range(1900, 2200)


def supported_year(year: int) -> int:
    """``year``, or a ValueError fit for a 422 when it is outside :data:`SUPPORTED_YEARS`."""
    if year not in SUPPORTED_YEARS:
        raise ValueError(f"the year must be from {SUPPORTED_YEARS.start} to {SUPPORTED_YEARS.stop - 1}")
    return year


@cache
def vietnam_tz() -> ZoneInfo:
    """The Vietnam zone, loaded on first use rather than at import (it reads the tz database)."""
    return ZoneInfo(TIME_ZONE)


class WorkCalendar:
    """The working-day calendar of Vietnamese public offices. Build one per process, in ``bootstrap``.

    Every method taking a datetime requires it to be timezone-aware (ValueError otherwise) and returns
    aware datetimes in Vietnam time.
    """

    def __init__(self, config: CalendarConfig | None = None, *, holidays: HolidaySource | None = None) -> None:
        self.config = config or CalendarConfig()
        self._tz = vietnam_tz()
        self._days = WorkingDays(
            self.config.extra_days_off, self.config.extra_working_days, holidays or vietnam_public_holidays
        )
        self._periods = tuple((clock_us(p.start), clock_us(p.end)) for p in self.config.work_periods)
        self._day_us = sum(end - start for start, end in self._periods)
        self._opening_us = self._periods[0][0]
        self._closing_us = self._periods[-1][1]
        cutoff = self.config.intake_cutoff
        self._cutoff_us = self._closing_us if cutoff is None else min(clock_us(cutoff), self._closing_us)

    # -- dates -------------------------------------------------------------------------------------

    def is_working_day(self, day: date) -> bool:
        """Whether offices work on ``day`` (an aware datetime is first taken to its Vietnam date)."""
        return self._days.is_working_day(self._date(day))

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after ``day``."""
        return self._days.next_working_day(self._date(day))

    def add_working_days(self, day: date, n: int) -> date:
        """Roll ``day`` forward to a working day, then move ``n`` working days (numpy busday_offset)."""
        return self._days.add_working_days(self._date(day), n)

    def count_working_days(self, start: date, end: date) -> int:
        """Working days in ``[start, end)`` (numpy busday_count); negative if ``end < start``."""
        return self._days.count_working_days(self._date(start), self._date(end))

    # -- instants ----------------------------------------------------------------------------------

    def counting_start(self, received_at: datetime) -> datetime:
        """When the statutory clock starts for a dossier received at ``received_at``.

        Received on a working day no later than the cut-off (15:00): the first office instant at or after
        receipt (07:30 if before opening, 13:00 if over lunch). Otherwise, after the cut-off or on a day
        off: the opening of the next working day.
        """
        local = self._local(received_at)
        day, clock = local.date(), clock_us(local)
        if self._days.is_working_day(day) and clock <= self._cutoff_us:
            for start, end in self._periods:
                if clock < end:
                    return self._at(day, start) if clock < start else local
        return self._at(self._days.next_working_day(day), self._opening_us)

    def due_at(self, received_at: datetime, duration: StatutoryDuration) -> datetime:
        """The statutory deadline of a dossier received at ``received_at``.

        Working days: with the default ``start_day_counts``, the day counting starts is day 1 and the
        deadline is the close of office (17:00) of working day N; 0 ("same working day") also means the
        close of day 1. Working hours: that much office time added to the counting start.
        """
        start = self.counting_start(received_at)
        if duration.unit is DurationUnit.WORKING_HOURS:
            return self.add_working_seconds(start, duration.amount * 3600)
        offset = max(duration.amount - 1, 0) if self.config.start_day_counts else duration.amount
        due_day = self._days.add_working_days(start.date(), offset)
        return self.closing_time(due_day)

    def is_office_time(self, t: datetime) -> bool:
        """Whether offices are open at ``t``: a working day, within a work period (lunch excluded)."""
        local = self._local(t)
        clock = clock_us(local)
        return self._days.is_working_day(local.date()) and any(start <= clock <= end for start, end in self._periods)

    def closing_time(self, day: date) -> datetime:
        """The close of office on ``day`` (an aware datetime is first taken to its Vietnam date)."""
        return self._at(self._date(day), self._closing_us)

    def working_seconds_between(self, a: datetime, b: datetime) -> float:
        """Office time from ``a`` to ``b`` in seconds (negative if ``b`` is earlier), e.g. a supplement pause."""
        return self._working_us_between(self._local(a), self._local(b)) / US

    def working_days_between(self, a: datetime, b: datetime) -> float:
        """Office time from ``a`` to ``b`` in working days (one full office day = 1.0), for reporting."""
        return self._working_us_between(self._local(a), self._local(b)) / self._day_us

    def add_working_seconds(self, t: datetime, seconds: float) -> datetime:
        """The earliest instant at or after ``t`` when ``seconds`` of office time have elapsed since ``t``.

        "Earliest" puts a result that lands on a boundary at the close of a period (11:30, 17:00), not at
        the next opening, so a deadline moved by a whole working day stays at 17:00. ``seconds`` is rounded
        to microseconds and must not be negative.
        """
        if seconds < 0:
            raise ValueError(f"cannot add a negative amount of working time: {seconds}")
        local = self._local(t)
        amount = round(seconds * US)
        if amount == 0:
            return local
        day = local.date()
        used = self._elapsed_us(local) if self._days.is_working_day(day) else self._day_us
        if amount <= self._day_us - used:
            return self._instant_at_office_us(day, used + amount)
        amount -= self._day_us - used
        whole_days, rest = divmod(amount - 1, self._day_us)
        target = self._days.add_working_days(self._days.next_working_day(day), whole_days)
        return self._instant_at_office_us(target, rest + 1)

    # -- internals ---------------------------------------------------------------------------------

    def _local(self, t: datetime) -> datetime:
        if t.tzinfo is None or t.utcoffset() is None:
            raise ValueError(f"a timezone-aware datetime is required, got naive {t.isoformat()}")
        return t.astimezone(self._tz)

    def _date(self, day: date) -> date:
        return self._local(day).date() if isinstance(day, datetime) else day

    def _at(self, day: date, clock_us: int) -> datetime:
        return datetime.combine(day, time.min, self._tz) + timedelta(microseconds=clock_us)

    def _elapsed_us(self, local: datetime) -> int:
        clock = clock_us(local)
        return sum(min(max(clock - start, 0), end - start) for start, end in self._periods)

    def _instant_at_office_us(self, day: date, office_us: int) -> datetime:
        """The earliest instant of ``day`` with ``office_us`` (0 < office_us <= day length) of office time."""
        for start, end in self._periods:
            if office_us <= end - start:
                return self._at(day, start + office_us)
            office_us -= end - start
        raise AssertionError("office time beyond the length of the day")  # callers keep it within

    def _working_us_between(self, a: datetime, b: datetime) -> int:
        whole_days = self._days.count_working_days(a.date(), b.date())
        return whole_days * self._day_us + self._office_us_of(b) - self._office_us_of(a)

    def _office_us_of(self, local: datetime) -> int:
        return self._elapsed_us(local) if self._days.is_working_day(local.date()) else 0

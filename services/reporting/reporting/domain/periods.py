"""Reporting periods in Vietnam time: ``YYYY``, ``YYYY-MM``, ``YYYY-Qn`` and from/to bounds.

A period is half-open, [start, end). A bare date as ``to`` means "through that day" (so
``from=2024-01-01&to=2024-03-31`` is the first quarter); a date-time ``to`` is exclusive. A date-time
without an offset is Vietnam wall-clock time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from workcal import supported_year, vietnam_tz

PERIOD_PATTERN = r"^\d{4}(-(0[1-9]|1[0-2])|-Q[1-4])?$"
_PERIOD = re.compile(PERIOD_PATTERN)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: A date-time in ISO 8601's extended form (``2024-03-31T17:00``, seconds and offset optional). The
#: basic form Python also reads (``20240331``) would make a date end at its start, not through it.
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


@dataclass(frozen=True)
class Period:
    """A half-open interval of instants; either end may be open (None)."""

    start: datetime | None
    end: datetime | None
    label: str

    def __post_init__(self) -> None:
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError("the period ends before it starts")


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, vietnam_tz())


def parse_period(text: str) -> Period:
    """``2024`` → the year, ``2024-03`` → March, ``2024-Q2`` → April to June (Vietnam time)."""
    if not _PERIOD.match(text):
        raise ValueError("expected YYYY, YYYY-MM or YYYY-Qn")
    year = supported_year(int(text[:4]))
    if len(text) == 4:
        return Period(_midnight(date(year, 1, 1)), _midnight(date(year + 1, 1, 1)), text)
    if text[5] == "Q":
        first = 3 * (int(text[6]) - 1) + 1
        months = (first, first + 3)
    else:
        months = (int(text[5:7]), int(text[5:7]) + 1)
    start = date(year, months[0], 1)
    end = date(year + (months[1] - 1) // 12, (months[1] - 1) % 12 + 1, 1)
    return Period(_midnight(start), _midnight(end), text)


def parse_bound(text: str, *, is_end: bool) -> datetime:
    """One bound of a from/to query; raises ValueError with a message fit for a 422."""
    try:
        if _DATE.match(text):
            day = date.fromisoformat(text)
            supported_year(day.year)
            return _midnight(day + timedelta(days=1) if is_end else day)
        if not _DATE_TIME.match(text):
            raise ValueError
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(
            str(exc) or "expected a date (YYYY-MM-DD) or an ISO 8601 date-time (YYYY-MM-DDTHH:MM…)"
        ) from None
    supported_year(moment.year)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=vietnam_tz())


def recent_buckets_start(end: datetime | None, unit: str, count: int, now: datetime) -> datetime:
    """Where the ``count`` most recent day, week (Monday) or month buckets end at ``end`` (exclusive;
    else now) begin, in Vietnam time: a trend without a start reads those, not every year kept."""
    anchor = (end - timedelta(microseconds=1) if end is not None else now).astimezone(vietnam_tz()).date()
    if unit == "day":
        first = anchor - timedelta(days=count - 1)
    elif unit == "week":
        first = anchor - timedelta(days=anchor.weekday(), weeks=count - 1)
    elif unit == "month":
        months = anchor.year * 12 + anchor.month - 1 - (count - 1)
        first = date(months // 12, months % 12 + 1, 1)
    else:
        raise ValueError(f"unknown bucket {unit!r}")
    return _midnight(first)

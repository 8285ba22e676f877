"""Reporting periods in Vietnam time."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest

from reporting.domain.periods import Period, parse_bound, parse_period, recent_buckets_start

VN = timezone(timedelta(hours=7))


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2024", datetime(2024, 1, 1, tzinfo=VN), datetime(2025, 1, 1, tzinfo=VN)),
        ("2024-02", datetime(2024, 2, 1, tzinfo=VN), datetime(2024, 3, 1, tzinfo=VN)),
        ("2024-12", datetime(2024, 12, 1, tzinfo=VN), datetime(2025, 1, 1, tzinfo=VN)),
        ("2024-Q2", datetime(2024, 4, 1, tzinfo=VN), datetime(2024, 7, 1, tzinfo=VN)),
        ("2024-Q4", datetime(2024, 10, 1, tzinfo=VN), datetime(2025, 1, 1, tzinfo=VN)),
    ],
)
def test_named_periods(text: str, start: datetime, end: datetime) -> None:
    period = parse_period(text)
    assert (period.start, period.end, period.label) == (start, end, text)


@pytest.mark.parametrize("text", ["24", "2024-13", "2024-Q5", "2024-1", "2024-03-01", "last year"])
def test_malformed_periods_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="expected"):
        parse_period(text)


def test_a_date_to_bound_includes_its_day_and_naive_times_are_vietnam_time() -> None:
    assert parse_bound("2024-03-31", is_end=True) == datetime(2024, 4, 1, tzinfo=VN)
    assert parse_bound("2024-03-01", is_end=False) == datetime(2024, 3, 1, tzinfo=VN)
    assert parse_bound("2024-03-01T10:00", is_end=True) == datetime(2024, 3, 1, 10, tzinfo=VN)
    assert parse_bound("2024-03-01T10:00Z", is_end=False).utcoffset() == timedelta(0)
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_bound("yesterday", is_end=False)


def test_a_period_cannot_end_before_it_starts() -> None:
    with pytest.raises(ValueError, match="ends before"):
        Period(datetime(2024, 2, 1, tzinfo=VN), datetime(2024, 1, 1, tzinfo=VN), "x")


@pytest.mark.parametrize(
    ("end", "unit", "count", "first"),
    [
        ("2025-01-01T00:00:00+07:00", "month", 12, "2024-01-01"),  # the year 2024, end exclusive
        ("2025-03-15T10:00:00+07:00", "month", 3, "2025-01-01"),
        ("2025-02-01T00:00:00+07:00", "month", 14, "2023-12-01"),  # back over a year's turn
        ("2025-03-05T12:00:00+07:00", "week", 2, "2025-02-24"),  # a Wednesday: this week and the one before
        ("2025-03-05T12:00:00+07:00", "day", 1, "2025-03-05"),
        ("2025-03-04T18:30:00+00:00", "day", 2, "2025-03-04"),  # already the 5th in Vietnam
    ],
)
def test_the_most_recent_buckets_of_a_trend_start_at_a_vietnamese_bucket_boundary(
    end: str, unit: str, count: int, first: str
) -> None:
    start = recent_buckets_start(datetime.fromisoformat(end), unit, count, now=datetime(2030, 1, 1, tzinfo=UTC))
    assert start == datetime.combine(date.fromisoformat(first), time.min, VN)


def test_without_an_end_the_most_recent_buckets_end_now() -> None:
    now = datetime(2025, 3, 31, 17, 30, tzinfo=UTC)  # 00:30 on 1 April in Vietnam
    assert recent_buckets_start(None, "month", 1, now) == datetime(2025, 4, 1, tzinfo=VN)


@pytest.mark.parametrize(
    ("text", "is_end"),
    [
        ("9999-12-31", True),  # the day after it does not exist: a 500
        ("0001-01-01", False),  # a trend's buckets before it would be before year 1: a 500
        ("0001-01-01T00:00:00+05:00", False),
        ("2200-01-01T00:00", True),
        ("20240331", True),  # ISO's basic form, which Python reads as a date-time: the day would be left out
        ("2024-03-31T17", True),
    ],
)
def test_bounds_outside_the_years_reported_on_or_in_another_form_are_refused(text: str, is_end: bool) -> None:
    with pytest.raises(ValueError, match=r"year must be from 1900 to 2199|expected a date"):
        parse_bound(text, is_end=is_end)


@pytest.mark.parametrize("text", ["0001", "9999-12", "1899-Q4"])
def test_periods_outside_the_years_reported_on_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="year must be from 1900 to 2199"):
        parse_period(text)

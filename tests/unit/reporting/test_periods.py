"""Reporting periods in Vietnam time."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from reporting.domain.periods import Period, parse_bound, parse_period

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

"""Elapsed and added office time: supplement pauses and SLA timers."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from workcal import WorkCalendar, vietnam_tz

HOUR = 3600.0


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=vietnam_tz())


def test_a_full_office_day_is_eight_hours(cal: WorkCalendar) -> None:
    assert cal.working_seconds_between(at(2027, 3, 1, 7, 30), at(2027, 3, 1, 17)) == 8 * HOUR
    assert cal.working_seconds_between(at(2027, 3, 1), at(2027, 3, 2)) == 8 * HOUR
    assert cal.working_days_between(at(2027, 3, 1), at(2027, 3, 8)) == 5.0


def test_lunch_nights_weekends_and_holidays_do_not_count(cal: WorkCalendar) -> None:
    assert cal.working_seconds_between(at(2027, 3, 1, 11), at(2027, 3, 1, 13, 30)) == 1 * HOUR
    assert cal.working_seconds_between(at(2027, 3, 5, 16), at(2027, 3, 8, 8, 30)) == 2 * HOUR
    assert cal.working_seconds_between(at(2027, 2, 3, 16), at(2027, 2, 11, 8, 30)) == 2 * HOUR
    assert cal.working_seconds_between(at(2027, 3, 6, 9), at(2027, 3, 7, 9)) == 0.0


def test_elapsed_time_is_signed(cal: WorkCalendar) -> None:
    assert cal.working_seconds_between(at(2027, 3, 2, 9), at(2027, 3, 1, 9)) == -8 * HOUR
    # Mon 13:00-17:00 and Tue 07:30-09:00: 5.5 hours.
    assert cal.working_days_between(at(2027, 3, 2, 9), at(2027, 3, 1, 13)) == -0.6875


def test_across_years(cal: WorkCalendar) -> None:
    # Thu 31 Dec 2026 09:00 -> Mon 4 Jan 2027 09:00 (Fri 1 Jan is New Year's Day): one working day.
    assert cal.working_days_between(at(2026, 12, 31, 9), at(2027, 1, 4, 9)) == 1.0


def test_adding_lands_on_the_close_of_a_period_not_the_next_opening(cal: WorkCalendar) -> None:
    assert cal.add_working_seconds(at(2027, 3, 1, 7, 30), 4 * HOUR) == at(2027, 3, 1, 11, 30)
    assert cal.add_working_seconds(at(2027, 3, 1, 7, 30), 8 * HOUR) == at(2027, 3, 1, 17)
    assert cal.add_working_seconds(at(2027, 3, 1, 17), 8 * HOUR) == at(2027, 3, 2, 17)
    assert cal.add_working_seconds(at(2027, 3, 1, 17), 1) == at(2027, 3, 2, 7, 30) + timedelta(seconds=1)


def test_adding_nothing_returns_the_instant(cal: WorkCalendar) -> None:
    assert cal.add_working_seconds(at(2027, 3, 6, 9), 0) == at(2027, 3, 6, 9)


def test_adding_from_a_day_off_starts_at_the_next_opening(cal: WorkCalendar) -> None:
    assert cal.add_working_seconds(at(2027, 2, 6, 9), HOUR) == at(2027, 2, 11, 8, 30)


def test_a_supplement_pause_moves_the_due_date(cal: WorkCalendar) -> None:
    due = at(2027, 3, 5, 17)
    paused = cal.working_seconds_between(at(2027, 3, 2, 10), at(2027, 3, 3, 10))
    assert paused == 8 * HOUR
    assert cal.add_working_seconds(due, paused) == at(2027, 3, 8, 17)


def test_negative_amounts_and_naive_datetimes_are_rejected(cal: WorkCalendar) -> None:
    with pytest.raises(ValueError, match="negative"):
        cal.add_working_seconds(at(2027, 3, 1, 9), -1)
    naive = datetime(2027, 3, 1, 9)
    for call in (
        lambda: cal.add_working_seconds(naive, 1),
        lambda: cal.working_seconds_between(naive, at(2027, 3, 1, 9)),
        lambda: cal.working_seconds_between(at(2027, 3, 1, 9), naive),
        lambda: cal.working_days_between(naive, at(2027, 3, 1, 9)),
    ):
        with pytest.raises(ValueError, match="timezone-aware"):
            call()

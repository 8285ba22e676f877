"""due_at: the 15:00 rule, weekends, Tết, overrides, working hours, zero durations."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from workcal import CalendarConfig, StatutoryDuration, WorkCalendar, vietnam_tz

DAYS = StatutoryDuration.working_days
HOURS = StatutoryDuration.working_hours


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=vietnam_tz())


# March 2027 has no public holidays: Mon 1 ... Fri 5, Sat 6, Sun 7, Mon 8.


def test_receipt_day_is_working_day_one(cal: WorkCalendar) -> None:
    assert cal.due_at(at(2027, 3, 1, 9), DAYS(1)) == at(2027, 3, 1, 17)
    assert cal.due_at(at(2027, 3, 1, 9), DAYS(2)) == at(2027, 3, 2, 17)


def test_weekend_is_skipped(cal: WorkCalendar) -> None:
    assert cal.due_at(at(2027, 3, 5, 10), DAYS(2)) == at(2027, 3, 8, 17)
    assert cal.due_at(at(2027, 3, 5, 10), DAYS(7)) == at(2027, 3, 15, 17)


def test_tet_2027_is_skipped(cal: WorkCalendar) -> None:
    # Wed 3 Feb is day 1; Thu 4 - Wed 10 Feb are Tết holidays and a weekend; Thu 11 Feb is day 2.
    assert cal.due_at(at(2027, 2, 3, 10), DAYS(2)) == at(2027, 2, 11, 17)
    assert cal.due_at(at(2027, 2, 3, 10), DAYS(1)) == at(2027, 2, 3, 17)
    assert cal.due_at(at(2027, 2, 3, 16), DAYS(1)) == at(2027, 2, 11, 17)


@pytest.mark.parametrize(
    ("minute", "second", "due_day"),
    [(59, 0, 1), (0, 0, 1), (1, 0, 2)],
    ids=["14:59", "15:00 exactly", "15:01"],
)
def test_the_1500_rule(cal: WorkCalendar, minute: int, second: int, due_day: int) -> None:
    hour = 14 if minute == 59 else 15
    received = at(2027, 3, 1, hour, minute) + timedelta(seconds=second)
    assert cal.due_at(received, DAYS(1)) == at(2027, 3, due_day, 17)


def test_one_microsecond_after_the_cutoff_is_the_next_day(cal: WorkCalendar) -> None:
    assert cal.counting_start(at(2027, 3, 1, 15) + timedelta(microseconds=1)) == at(2027, 3, 2, 7, 30)


def test_counting_start(cal: WorkCalendar) -> None:
    assert cal.counting_start(at(2027, 3, 1, 6)) == at(2027, 3, 1, 7, 30)  # before opening: same day
    assert cal.counting_start(at(2027, 3, 1, 12)) == at(2027, 3, 1, 13)  # over lunch
    assert cal.counting_start(at(2027, 3, 1, 9, 15)) == at(2027, 3, 1, 9, 15)
    assert cal.counting_start(at(2027, 3, 1, 18)) == at(2027, 3, 2, 7, 30)


@pytest.mark.parametrize("day", [6, 7], ids=["Saturday", "Sunday"])
def test_receipt_on_a_weekend_counts_from_monday(cal: WorkCalendar, day: int) -> None:
    assert cal.counting_start(at(2027, 3, day, 9)) == at(2027, 3, 8, 7, 30)
    assert cal.due_at(at(2027, 3, day, 9), DAYS(1)) == at(2027, 3, 8, 17)
    assert cal.due_at(at(2027, 3, day, 9), DAYS(3)) == at(2027, 3, 10, 17)


def test_zero_days_means_the_same_working_day(cal: WorkCalendar) -> None:
    assert cal.due_at(at(2027, 3, 1, 9), DAYS(0)) == at(2027, 3, 1, 17)
    assert cal.due_at(at(2027, 3, 1, 15, 30), DAYS(0)) == at(2027, 3, 2, 17)  # death registration after 15:00


def test_an_extra_day_off_shifts_the_due_date() -> None:
    cal = WorkCalendar(CalendarConfig(extra_days_off=(date(2027, 3, 2),)))
    assert cal.due_at(at(2027, 3, 1, 10), DAYS(2)) == at(2027, 3, 3, 17)


def test_a_makeup_saturday_counts() -> None:
    cal = WorkCalendar(CalendarConfig(extra_working_days=(date(2027, 3, 6),)))
    assert cal.due_at(at(2027, 3, 5, 10), DAYS(2)) == at(2027, 3, 6, 17)
    assert cal.due_at(at(2027, 3, 6, 9), DAYS(1)) == at(2027, 3, 6, 17)  # received on it: it is day 1


def test_the_package_makeup_saturday_of_2025_counts(cal: WorkCalendar) -> None:
    # 2 May 2025 (Fri) was given off in exchange for working Sat 26 Apr 2025.
    assert cal.due_at(at(2025, 4, 25, 10), DAYS(2)) == at(2025, 4, 26, 17)
    assert cal.due_at(at(2025, 4, 29, 10), DAYS(2)) == at(2025, 5, 5, 17)


def test_working_hours_are_office_time_from_the_counting_start(cal: WorkCalendar) -> None:
    assert cal.due_at(at(2027, 3, 1, 9), HOURS(8)) == at(2027, 3, 2, 9)
    assert cal.due_at(at(2027, 3, 1, 10), HOURS(4)) == at(2027, 3, 1, 15, 30)  # lunch skipped
    assert cal.due_at(at(2027, 3, 5, 14), HOURS(8)) == at(2027, 3, 8, 14)  # weekend skipped
    assert cal.due_at(at(2027, 3, 5, 16), HOURS(8)) == at(2027, 3, 8, 17)  # after 15:00: from Monday 07:30


def test_eight_working_hours_make_one_working_day(cal: WorkCalendar) -> None:
    for received in (at(2027, 3, 5, 16), at(2027, 3, 6, 9), at(2027, 2, 3, 16)):
        assert cal.due_at(received, HOURS(8)) == cal.due_at(received, DAYS(1))
        assert cal.due_at(received, HOURS(24)) == cal.due_at(received, DAYS(3))


def test_civil_code_counting_is_configurable() -> None:
    cal = WorkCalendar(CalendarConfig(start_day_counts=False))
    assert cal.due_at(at(2027, 2, 3, 10), DAYS(2)) == at(2027, 2, 12, 17)
    assert cal.due_at(at(2027, 2, 3, 10), DAYS(0)) == at(2027, 2, 3, 17)


def test_other_time_zones_are_converted_and_results_are_in_vietnam_time(cal: WorkCalendar) -> None:
    received = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)  # 09:00 in Vietnam
    due = cal.due_at(received, DAYS(1))
    assert due == at(2027, 3, 1, 17)
    assert due.tzinfo == vietnam_tz()
    # 08:30 UTC is 15:30 in Vietnam: after the cut-off.
    assert cal.due_at(datetime(2027, 3, 1, 8, 30, tzinfo=UTC), DAYS(1)) == at(2027, 3, 2, 17)


def test_naive_datetimes_are_rejected(cal: WorkCalendar) -> None:
    naive = datetime(2027, 3, 1, 9)
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.due_at(naive, DAYS(1))
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.counting_start(naive)

"""Working days: holidays from the package, overrides, and the date helpers reporting uses."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from workcal import CalendarConfig, PackageYear, WorkCalendar


def test_weekends_and_holidays_are_not_working_days(cal: WorkCalendar) -> None:
    assert cal.is_working_day(date(2027, 3, 1))
    assert not cal.is_working_day(date(2027, 3, 6))
    assert not cal.is_working_day(date(2027, 3, 7))
    for day in range(4, 11):
        assert not cal.is_working_day(date(2027, 2, day)), f"Tết 2027: {day} Feb"
    for holiday in (date(2027, 1, 1), date(2027, 4, 16), date(2027, 4, 30), date(2027, 5, 3), date(2027, 9, 3)):
        assert not cal.is_working_day(holiday)


def test_an_aware_datetime_is_taken_to_its_vietnam_date(cal: WorkCalendar) -> None:
    # Fri 5 Mar 2027 20:00 UTC is Sat 6 Mar 03:00 in Vietnam.
    assert not cal.is_working_day(datetime(2027, 3, 5, 20, tzinfo=UTC))
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.is_working_day(datetime(2027, 3, 5, 20))


def test_next_working_day_is_strictly_after(cal: WorkCalendar) -> None:
    assert cal.next_working_day(date(2027, 3, 1)) == date(2027, 3, 2)
    assert cal.next_working_day(date(2027, 2, 3)) == date(2027, 2, 11)
    assert cal.next_working_day(date(2026, 12, 31)) == date(2027, 1, 4)


def test_add_working_days_rolls_forward_then_moves(cal: WorkCalendar) -> None:
    assert cal.add_working_days(date(2027, 3, 1), 1) == date(2027, 3, 2)
    assert cal.add_working_days(date(2027, 3, 6), 0) == date(2027, 3, 8)
    assert cal.add_working_days(date(2027, 2, 3), 1) == date(2027, 2, 11)
    assert cal.add_working_days(date(2027, 2, 11), -1) == date(2027, 2, 3)
    assert cal.add_working_days(date(2027, 1, 4), -1) == date(2026, 12, 31)


def test_count_working_days_is_half_open(cal: WorkCalendar) -> None:
    assert cal.count_working_days(date(2027, 3, 1), date(2027, 3, 8)) == 5
    assert cal.count_working_days(date(2027, 3, 8), date(2027, 3, 1)) == -5
    assert cal.count_working_days(date(2027, 2, 1), date(2027, 2, 15)) == 5  # 1-3, 11-12 Feb
    assert cal.count_working_days(date(2025, 1, 1), date(2028, 1, 1)) == sum(
        cal.count_working_days(date(y, 1, 1), date(y + 1, 1, 1)) for y in (2025, 2026, 2027)
    )


def test_the_2026_new_year_swap_the_package_lacks_is_known_and_still_overridable(cal: WorkCalendar) -> None:
    """Friday 2 January 2026 was given off, worked on Saturday 10 January: the package knew neither, so
    a two-day dossier received on 31 December was due on the closed Friday, and the Saturday's
    dossiers started counting on Monday."""
    assert not cal.is_working_day(date(2026, 1, 2)) and cal.is_working_day(date(2026, 1, 10))
    assert cal.add_working_days(date(2025, 12, 31), 2) == date(2026, 1, 6)  # 31 Dec → 5 Jan, 6 Jan
    own = WorkCalendar(CalendarConfig(extra_working_days=(date(2026, 1, 2),), extra_days_off=(date(2026, 1, 10),)))
    assert own.is_working_day(date(2026, 1, 2)) and not own.is_working_day(date(2026, 1, 10))


def test_an_extra_day_off_cancels_a_package_makeup_saturday() -> None:
    # A make-up Saturday from the package can still be cancelled by configuration.
    cal = WorkCalendar(CalendarConfig(extra_days_off=(date(2025, 4, 26),)))
    assert not cal.is_working_day(date(2025, 4, 26))
    assert WorkCalendar().is_working_day(date(2025, 4, 26))


def test_an_extra_working_day_wins_over_a_package_holiday() -> None:
    cal = WorkCalendar(CalendarConfig(extra_working_days=(date(2027, 2, 4),)))
    assert cal.is_working_day(date(2027, 2, 4))


def test_the_holiday_source_is_injectable() -> None:
    def only_new_year(year: int) -> PackageYear:
        return PackageYear(days_off=frozenset({date(year, 1, 1)}), makeup_working_days=frozenset())

    cal = WorkCalendar(holidays=only_new_year)
    assert cal.is_working_day(date(2027, 2, 4))
    assert not cal.is_working_day(date(2027, 1, 1))

"""Properties the intake and workflow services rely on, checked over 2024–2030 with the real holidays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from workcal import DurationUnit, StatutoryDuration, WorkCalendar, vietnam_tz

SECONDS_IN_60_WORKING_DAYS = 60 * 8 * 3600

zones = st.sampled_from([vietnam_tz(), UTC, timezone(timedelta(hours=-5))])
instants = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31), timezones=zones)
durations = st.builds(
    StatutoryDuration,
    amount=st.integers(min_value=0, max_value=60),
    unit=st.sampled_from(DurationUnit),
)
amounts = st.integers(min_value=0, max_value=SECONDS_IN_60_WORKING_DAYS)
micro_amounts = st.integers(min_value=0, max_value=SECONDS_IN_60_WORKING_DAYS * 10**6).map(lambda us: us / 10**6)

CAL = WorkCalendar()


def _office_instant(t: datetime) -> datetime:
    """An instant inside office hours, derived from any instant."""
    return CAL.add_working_seconds(CAL.counting_start(t), 1)


@given(instants, instants, durations)
def test_due_at_is_monotonic_in_received_at(a: datetime, b: datetime, duration: StatutoryDuration) -> None:
    early, late = sorted((a, b))
    assert CAL.due_at(early, duration) <= CAL.due_at(late, duration)


@given(instants, durations)
def test_due_at_lands_in_office_hours_of_a_working_day_after_receipt(
    received: datetime, duration: StatutoryDuration
) -> None:
    due = CAL.due_at(received, duration)
    assert due.tzinfo is vietnam_tz()
    assert CAL.is_working_day(due.date())
    assert any(p.start <= due.time() <= p.end for p in CAL.config.work_periods)
    assert due >= received


@given(instants, st.integers(min_value=1, max_value=60))
def test_days_and_eight_hour_blocks_agree_from_an_opening(received: datetime, n: int) -> None:
    opening = CAL.counting_start(received.astimezone(vietnam_tz()).replace(hour=16))
    days = CAL.due_at(opening, StatutoryDuration.working_days(n))
    assert days == CAL.due_at(opening, StatutoryDuration.working_hours(8 * n))


@given(instants, amounts)
def test_elapsed_after_adding_is_what_was_added(t: datetime, seconds: int) -> None:
    assert CAL.working_seconds_between(t, CAL.add_working_seconds(t, seconds)) == seconds


@given(instants, micro_amounts)
def test_elapsed_after_adding_is_exact_to_the_microsecond(t: datetime, seconds: float) -> None:
    start = _office_instant(t)
    assert CAL.working_seconds_between(start, CAL.add_working_seconds(start, seconds)) == seconds


@given(instants, amounts, amounts)
def test_adding_is_additive(t: datetime, a: int, b: int) -> None:
    assert CAL.add_working_seconds(t, a + b) == CAL.add_working_seconds(CAL.add_working_seconds(t, a), b)


@given(instants, instants)
def test_adding_the_elapsed_time_from_an_office_instant_reaches_the_same_office_time(a: datetime, b: datetime) -> None:
    early, late = sorted((_office_instant(a), b))
    moved = CAL.add_working_seconds(early, CAL.working_seconds_between(early, late))
    assert moved <= late
    assert CAL.working_seconds_between(moved, late) == 0


@given(instants, instants, instants)
def test_elapsed_time_is_antisymmetric_and_additive(a: datetime, b: datetime, c: datetime) -> None:
    def micros(x: datetime, y: datetime) -> int:
        return round(CAL.working_seconds_between(x, y) * 10**6)

    assert micros(a, b) == -micros(b, a)
    assert micros(a, b) + micros(b, c) == micros(a, c)


@settings(max_examples=50)
@given(instants, st.integers(min_value=-300, max_value=300))
def test_counting_working_days_inverts_adding_them(t: datetime, n: int) -> None:
    start = CAL.add_working_days(t.date(), 0)
    assert CAL.is_working_day(start)
    assert CAL.count_working_days(start, CAL.add_working_days(start, n)) == n


def test_office_time_and_the_close_of_a_day() -> None:
    calendar, tz = WorkCalendar(), vietnam_tz()
    assert calendar.is_office_time(datetime(2024, 6, 12, 10, 0, tzinfo=tz))
    assert not calendar.is_office_time(datetime(2024, 6, 12, 12, 0, tzinfo=tz))  # lunch
    assert not calendar.is_office_time(datetime(2024, 6, 12, 0, 0, tzinfo=tz))
    assert not calendar.is_office_time(datetime(2024, 6, 15, 10, 0, tzinfo=tz))  # a Saturday
    assert calendar.closing_time(datetime(2024, 6, 11, 20, 0, tzinfo=UTC)) == datetime(2024, 6, 12, 17, 0, tzinfo=tz)

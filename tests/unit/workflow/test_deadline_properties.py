"""Deadline arithmetic on the working-day calendar: supplement pauses, Tết, weekends, due-soon warnings,
the 766 rules — as properties over many instants, and through the aggregate."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.catalogue import ProcessingTime
from contracts.events import workflow as wf
from workcal import WorkCalendar, vietnam_tz
from workflow.domain import deadlines
from workflow.domain.dossier import Dossier
from workflow.domain.internal_events import DossierOpened
from workflow.domain.state import DossierState

TZ = vietnam_tz()
CALENDAR = WorkCalendar()
# Late 2024 to spring 2025: weekends, 1 January and the whole of Tết 2025 (25 Jan – 2 Feb).
INSTANTS = st.datetimes(min_value=datetime(2024, 12, 20), max_value=datetime(2025, 3, 15)).map(
    lambda t: t.replace(tzinfo=TZ, microsecond=0)
)


@settings(max_examples=200, deadline=None)
@given(
    INSTANTS,
    st.integers(min_value=0, max_value=15),
    st.integers(min_value=0, max_value=30 * 24 * 3600),
    st.integers(min_value=0, max_value=20 * 24 * 3600),
)
def test_a_supplement_pause_moves_the_appointment_by_exactly_the_office_time_waited(
    received: datetime, days: int, pause_after: int, waited: int
) -> None:
    due = deadlines.appointment(CALENDAR, received, ProcessingTime(amount=days, unit="working_days"))
    paused_since = received + timedelta(seconds=pause_after)
    resumed = paused_since + timedelta(seconds=waited)
    paused, new_due = deadlines.resume_after_pause(CALENDAR, due, paused_since, resumed)
    assert paused == CALENDAR.working_seconds_between(paused_since, resumed)
    assert CALENDAR.working_seconds_between(due, new_due) == paused
    assert new_due >= due


@settings(max_examples=200, deadline=None)
@given(INSTANTS, st.sampled_from([3600.0, 4 * 3600.0, 8 * 3600.0, 16 * 3600.0]))
def test_due_soon_is_the_lead_time_in_office_hours_before_the_appointment(received: datetime, lead: float) -> None:
    due = deadlines.appointment(CALENDAR, received, ProcessingTime(amount=5, unit="working_days"))
    warn = deadlines.due_soon_at(CALENDAR, due, lead)
    assert abs(CALENDAR.working_seconds_between(warn, due) - lead) <= 1
    assert CALENDAR.working_seconds_between(warn - timedelta(seconds=2), due) > lead - 1  # earliest such instant
    assert warn < due


@settings(max_examples=300, deadline=None)
@given(
    INSTANTS,
    st.sampled_from(
        [ProcessingTime(amount=n, unit="working_days") for n in (0, 1, 2)]
        + [ProcessingTime(amount=n, unit="working_hours") for n in (4, 8, 12)]
    ),
    st.sampled_from([4 * 3600.0, 5 * 3600.0, 8 * 3600.0]),
)
def test_a_due_soon_warning_comes_after_the_clock_starts_or_not_at_all(
    received: datetime, time: ProcessingTime, lead: float
) -> None:
    """The earliest instant with the lead ahead may lie before the clock starts: a same-day dossier
    received after the cut-off on a Friday was warned that evening, before its Monday; one with exactly
    the lead to run was warned at once or not at all, as its clock started inside an office period or
    at an opening."""
    due = deadlines.appointment(CALENDAR, received, time)
    start = CALENDAR.counting_start(received)
    warning = deadlines.due_soon_warning(CALENDAR, received, due, lead)
    assert (warning is None) == (CALENDAR.working_seconds_between(start, due) <= lead)
    if warning is not None:
        assert start < warning < due
        assert warning == deadlines.due_soon_at(CALENDAR, due, lead)


def test_tet_and_weekends_do_not_count() -> None:
    friday_before_tet = datetime(2025, 1, 24, 9, 0, tzinfo=TZ)
    three_days = ProcessingTime(amount=3, unit="working_days")
    # Day 1 is Friday 24 Jan; Tết (27–31 Jan) and two weekends are skipped: days 2 and 3 are 3 and 4 Feb.
    assert deadlines.appointment(CALENDAR, friday_before_tet, three_days) == datetime(2025, 2, 4, 17, 0, tzinfo=TZ)
    # After 15:00 counting starts the next working day: after Tết.
    assert deadlines.appointment(CALENDAR, friday_before_tet.replace(hour=16), three_days) == datetime(
        2025, 2, 5, 17, 0, tzinfo=TZ
    )
    # A supplement awaited over Tết costs the agency the office time of Friday afternoon only.
    paused, moved = deadlines.resume_after_pause(
        CALENDAR,
        datetime(2025, 2, 4, 17, 0, tzinfo=TZ),
        datetime(2025, 1, 24, 13, 0, tzinfo=TZ),
        datetime(2025, 2, 3, 7, 30, tzinfo=TZ),
    )
    assert paused == 4 * 3600
    assert moved == datetime(2025, 2, 5, 11, 30, tzinfo=TZ)
    # One working day before Monday 08:00 is Friday 08:00.
    assert deadlines.due_soon_at(CALENDAR, datetime(2024, 6, 10, 8, 0, tzinfo=TZ), 8 * 3600) == datetime(
        2024, 6, 7, 8, 0, tzinfo=TZ
    )
    # Due on the first day after Tết: warned at the close of the last day before it, not during it.
    warn = deadlines.due_soon_at(CALENDAR, datetime(2025, 2, 3, 17, 0, tzinfo=TZ), 8 * 3600)
    assert datetime(2025, 1, 24, 17, 0, tzinfo=TZ) <= warn <= datetime(2025, 1, 24, 17, 0, 1, tzinfo=TZ)


def test_a_supplement_asked_before_the_clock_started_pauses_it_only_from_its_start() -> None:
    """Received Monday 16:00 (after 15:00: counting starts Tuesday 07:30), asked for a supplement at
    16:05, brought back Tuesday 08:00: the agency's clock stood still for 30 minutes, not 85."""
    received = datetime(2024, 6, 3, 16, 0, tzinfo=TZ)
    due = deadlines.appointment(CALENDAR, received, ProcessingTime(amount=1, unit="working_days"))
    assert due == datetime(2024, 6, 4, 17, 0, tzinfo=TZ)
    dossier = _received_dossier(received, due)
    dossier.now = received + timedelta(minutes=5)
    dossier.request_supplement("thiếu bản sao", "cb")
    dossier.now = datetime(2024, 6, 4, 8, 0, tzinfo=TZ)
    dossier.receive_supplement(CALENDAR)
    resumed = dossier.pending[-1]
    assert isinstance(resumed, wf.SupplementReceived)
    assert resumed.paused_seconds == 30 * 60
    assert resumed.due_at == datetime(2024, 6, 5, 8, 0, tzinfo=TZ)  # 30 office minutes after Tuesday 17:00


def _received_dossier(now: datetime, due: datetime) -> Dossier:
    state = DossierState("d-1")
    dossier = Dossier(state, now)
    dossier.open(
        DossierOpened(
            dossier_id="d-1",
            code="C-1",
            procedure_code="2.001610",
            channel="counter",
            receiving_agency="A",
            competent_agency="B",
            submitted_at=now,
        )
    )
    dossier.receive(received_at=now, due_at=due)
    dossier.start_step("processing", "B", due)
    return dossier


@settings(max_examples=100, deadline=None)
@given(
    INSTANTS, st.integers(min_value=60, max_value=10 * 24 * 3600), st.integers(min_value=60, max_value=10 * 24 * 3600)
)
def test_the_aggregate_pauses_the_clock_and_a_second_request_is_overdue(
    received: datetime, first_wait: int, second_wait: int
) -> None:
    due = deadlines.appointment(CALENDAR, received, ProcessingTime(amount=5, unit="working_days"))
    dossier = _received_dossier(received, due)
    dossier.now = received + timedelta(hours=1)
    dossier.request_supplement("thiếu bản sao", "cb")
    asked = dossier.now
    dossier.now = asked + timedelta(seconds=first_wait)
    dossier.receive_supplement(CALENDAR)
    resumed = dossier.pending[-1]
    assert isinstance(resumed, wf.SupplementReceived)
    clock_started = max(asked, CALENDAR.counting_start(received))  # after 15:00: the next working day
    assert resumed.paused_seconds == max(CALENDAR.working_seconds_between(clock_started, dossier.now), 0)
    assert dossier.state.due_at == CALENDAR.add_working_seconds(due, resumed.paused_seconds)
    assert not dossier.state.overdue

    dossier.request_supplement("vẫn thiếu", "cb")
    assert isinstance(dossier.pending[-1], wf.DossierOverdue)
    assert dossier.pending[-1].reason == "second_supplement_request"
    dossier.now += timedelta(seconds=second_wait)
    dossier.receive_supplement(CALENDAR)
    dossier.issue_result("Giấy chứng nhận", {}, "C-1-KQ1", "cb")
    assert isinstance(dossier.pending[-1], wf.ResultIssued)
    assert dossier.pending[-1].on_time is False  # more than one supplement request counts as overdue


@settings(max_examples=100, deadline=None)
@given(INSTANTS, st.integers(min_value=0, max_value=4 * 24 * 3600), st.integers(min_value=60, max_value=30 * 24 * 3600))
def test_a_dossier_that_ends_while_waiting_for_the_citizen_is_judged_when_its_clock_stopped(
    received: datetime, asked_after: int, waited: int
) -> None:
    """Withdrawn or stopped during a supplement wait: the wait is the citizen's, so the dossier is on
    time if the request went out by the appointment, however long the citizen then took."""
    due = deadlines.appointment(CALENDAR, received, ProcessingTime(amount=2, unit="working_days"))
    for end in ("withdraw", "stop"):
        dossier = _received_dossier(received, due)
        dossier.now = received + timedelta(seconds=asked_after)
        dossier.request_supplement("thiếu bản sao", "cb")
        asked = dossier.now
        dossier.now = asked + timedelta(seconds=waited)
        if end == "withdraw":
            dossier.withdraw("đổi ý")
        else:
            dossier.stop("công dân không bổ sung", "cb")
        ended = dossier.pending[-1]
        assert isinstance(ended, wf.WithdrawalAccepted | wf.DossierStopped)
        assert ended.on_time is (asked <= due), (end, asked, due, dossier.now)


@given(INSTANTS, st.integers(min_value=-3 * 24 * 3600, max_value=3 * 24 * 3600), st.booleans(), st.booleans())
def test_on_time_means_ended_by_the_appointment_and_nothing_else_went_wrong(
    due: datetime, offset: int, overdue: bool, apologized: bool
) -> None:
    ended = due + timedelta(seconds=offset)
    assert deadlines.on_time(ended, due, overdue=overdue, apologized=apologized) == (
        offset <= 0 and not overdue and not apologized
    )
    assert deadlines.on_time(ended, None, overdue=overdue, apologized=apologized) is None

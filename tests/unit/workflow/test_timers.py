"""SLA timers over in-memory fakes: armed with the deadline, moved with it, fired once each."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from contracts.events import intake
from tests.unit.workflow.builders import BIRTH_FORM, Harness, submitted
from workcal import CalendarConfig, WorkCalendar, vietnam_tz
from workflow.domain import deadlines
from workflow.domain.errors import IllegalTransition, InvalidDecision
from workflow.domain.policies import Rules
from workflow.entrypoints.api import public_dossier
from workflow.service_layer import timers
from workflow.service_layer.context import WorkflowContext
from workflow.service_layer.ports import Timer, WorkflowUnitOfWork

TZ = vietnam_tz()


async def test_due_soon_then_overdue_fire_once_each(harness: Harness) -> None:
    event = submitted(at=harness.now)  # Monday 09:00, 3 working days: due Wednesday 17:00
    await harness.deliver(event)
    state = await harness.state(event.dossier_id)
    assert state.due_at == datetime(2024, 6, 5, 17, 0, tzinfo=TZ)
    assert harness.uow.timers.pending(event.dossier_id) == {
        "due_soon": datetime(2024, 6, 4, 17, 0, tzinfo=TZ),
        "overdue": state.due_at,
    }

    harness.clock.set(datetime(2024, 6, 4, 16, 59, tzinfo=TZ))
    assert await harness.fire_timers() == 0
    harness.clock.set(datetime(2024, 6, 4, 17, 0, tzinfo=TZ))
    assert await harness.fire_timers() == 1
    assert await harness.fire_timers() == 0
    harness.clock.set(datetime(2024, 6, 12, 9, 0, tzinfo=TZ))
    assert await harness.fire_timers() == 1
    assert await harness.fire_timers() == 0
    types = harness.published_types(event.dossier_id)
    assert types.count("DossierDueSoon") == 1 and types.count("DossierOverdue") == 1
    assert harness.uow.timers.pending(event.dossier_id) == {}
    state = await harness.decide(event.dossier_id, "approve")
    assert state.on_time is False


async def test_an_online_dossier_not_accepted_within_8_working_hours_is_flagged_once(harness: Harness) -> None:
    late = submitted(channel="online", at=harness.now)  # Monday 09:00: 8 working hours, to Tuesday 09:00
    on_time = submitted(channel="online", at=harness.now)
    for event in (late, on_time):
        await harness.deliver(event)
    deadline = datetime(2024, 6, 4, 9, 0, tzinfo=TZ)
    assert harness.uow.timers.pending(late.dossier_id) == {"acceptance_overdue": deadline}
    harness.advance(hours=7)  # 16:00
    await harness.decide(on_time.dossier_id, "accept")
    assert "acceptance_overdue" not in harness.uow.timers.pending(on_time.dossier_id)

    harness.clock.set(deadline)  # accepted at its limit, it would be in time: nothing yet
    await harness.fire_timers()
    assert "AcceptanceOverdue" not in harness.published_types(late.dossier_id)
    harness.advance(seconds=1)
    assert await harness.fire_timers() >= 1
    assert await harness.fire_timers() == 0
    assert harness.published_types(late.dossier_id).count("AcceptanceOverdue") == 1
    assert "AcceptanceOverdue" not in harness.published_types(on_time.dossier_id)
    [task] = [t for t in await harness.uow.tasks.for_agency("TTPVHCC-BINHAN", 10) if t.dossier_id == late.dossier_id]
    assert (task.waiting_for, task.overdue) == ("acceptance", True)
    # Still waiting for an official: accepting it later works, and its processing clock starts then.
    state = await harness.decide(late.dossier_id, "accept")
    assert state.received_at == deadline + timedelta(seconds=1) and not state.overdue
    # Form 06 gives each step's statutory end: reception's, for an online dossier, is its acceptance
    # limit (it was blank, and the sheet could not show that reception ran late).
    reception, *_ = public_dossier(state, harness.ctx).control_sheet
    assert (reception.step, reception.step_due_at, reception.ended_at) == ("reception", deadline, state.received_at)
    counter = submitted(at=harness.now)
    await harness.deliver(counter)
    reception, *_ = public_dossier(await harness.state(counter.dossier_id), harness.ctx).control_sheet
    assert (reception.step, reception.step_due_at) == ("reception", None)  # received as it was handed in


@pytest.mark.parametrize(
    ("submitted_at", "limit"),
    [
        (datetime(2024, 6, 3, 14, 59, tzinfo=TZ), datetime(2024, 6, 4, 14, 59, tzinfo=TZ)),
        # After 15:00 too, 8 working hours: 1 on Monday, 7 on Tuesday. The cut-off for a received
        # dossier's clock gave it the whole of Tuesday, 10 working hours.
        (datetime(2024, 6, 3, 16, 0, tzinfo=TZ), datetime(2024, 6, 4, 16, 0, tzinfo=TZ)),
        (datetime(2024, 6, 8, 10, 0, tzinfo=TZ), datetime(2024, 6, 10, 17, 0, tzinfo=TZ)),  # a Saturday
    ],
)
async def test_an_online_dossier_is_to_be_accepted_within_8_working_hours_of_its_submission(
    harness: Harness, submitted_at: datetime, limit: datetime
) -> None:
    harness.clock.set(submitted_at)
    event = submitted(channel="online", at=submitted_at)
    await harness.deliver(event)
    assert harness.uow.timers.pending(event.dossier_id) == {"acceptance_overdue": limit}


@pytest.mark.parametrize("first_missed", [False, True])
async def test_an_online_dossier_sent_back_before_acceptance_gets_a_fresh_window(
    harness: Harness, first_missed: bool
) -> None:
    """Also after a missed first window: the flag stayed set through the supplement, the new window
    had no timer, and the task list called the dossier overdue from its start."""
    event = submitted(channel="online", at=harness.now)  # Monday 09:00, to be accepted by Tuesday 09:00
    await harness.deliver(event)
    harness.clock.set(datetime(2024, 6, 4, 10, 0, tzinfo=TZ) if first_missed else harness.now + timedelta(hours=1))
    await harness.fire_timers()
    await harness.decide(event.dossier_id, "request_supplement", reason="thiếu bản sao điều lệ")
    assert harness.uow.timers.pending(event.dossier_id) == {}  # nobody has to accept it meanwhile
    harness.clock.set(datetime(2024, 6, 5, 14, 0, tzinfo=TZ))  # Wednesday 14:00
    await harness.deliver(intake.SupplementProvided(dossier_id=event.dossier_id, documents=[], provided_at=harness.now))
    fresh = datetime(2024, 6, 6, 14, 0, tzinfo=TZ)  # 8 working hours from its return, not from Monday
    [task] = await harness.uow.tasks.for_agency("TTPVHCC-BINHAN", 10)
    assert (task.waiting_for, task.due_at, task.overdue) == ("acceptance", fresh, False)
    assert harness.uow.timers.pending(event.dossier_id) == {"acceptance_overdue": fresh}
    harness.clock.set(fresh + timedelta(seconds=1))
    await harness.fire_timers()
    assert harness.published_types(event.dossier_id).count("AcceptanceOverdue") == 1 + first_missed


async def test_a_supplement_pauses_the_timers_and_the_answer_moves_them(harness: Harness) -> None:
    event = submitted(at=harness.now)
    await harness.deliver(event)
    harness.advance(hours=1)  # Monday 10:00
    await harness.decide(event.dossier_id, "request_supplement", reason="thiếu bản sao điều lệ")
    assert harness.uow.timers.pending(event.dossier_id) == {}
    harness.clock.set(datetime(2024, 6, 10, 10, 0, tzinfo=TZ))  # a week later: nothing fires meanwhile
    assert await harness.fire_timers() == 0
    await harness.deliver(intake.SupplementProvided(dossier_id=event.dossier_id, documents=[], provided_at=harness.now))
    state = await harness.state(event.dossier_id)
    assert state.paused_seconds == 5 * 8 * 3600  # five working days waited
    assert state.due_at == datetime(2024, 6, 12, 17, 0, tzinfo=TZ)
    assert harness.uow.timers.pending(event.dossier_id)["overdue"] == state.due_at
    # The step's statutory end moves too: the task list and the control sheet (form 06) counted the
    # citizen's week as the agency's.
    assert state.step_due_at == state.control_sheet[-1].step_due_at == datetime(2024, 6, 12, 17, 0, tzinfo=TZ)
    [task] = await harness.uow.tasks.for_agency(state.agency, 10)
    assert task.due_at == state.step_due_at


async def test_no_apology_letter_while_the_citizen_owes_a_supplement(harness: Harness) -> None:
    """The appointment moves by the wait when the supplement arrives: a letter's date given during the
    wait would be moved again (and past the unmoved date, the letter was refused as too late)."""
    event = submitted(at=harness.now)
    await harness.deliver(event)
    await harness.decide(event.dossier_id, "request_supplement", reason="thiếu bản sao điều lệ")
    later = datetime(2024, 6, 20, 17, 0, tzinfo=TZ)
    with pytest.raises(IllegalTransition, match="paused"):
        await harness.decide(event.dossier_id, "extend", reason="cần xác minh", new_due_at=later)
    await harness.deliver(intake.SupplementProvided(dossier_id=event.dossier_id, documents=[], provided_at=harness.now))
    state = await harness.decide(event.dossier_id, "extend", reason="cần xác minh", new_due_at=later)
    assert state.due_at == later and state.apologized


async def test_finishing_disarms_the_timers(harness: Harness) -> None:
    event = submitted(at=harness.now)
    await harness.deliver(event)
    await harness.decide(event.dossier_id, "approve")
    assert harness.uow.timers.pending(event.dossier_id) == {}
    harness.advance(days=30)
    assert await harness.fire_timers() == 0


async def test_an_apology_letter_gives_a_new_date_before_the_appointment_only(harness: Harness) -> None:
    event = submitted(at=harness.now)
    await harness.deliver(event)
    new_date = datetime(2024, 6, 14, 17, 0, tzinfo=TZ)
    saturday = datetime(2024, 6, 15, 10, 0, tzinfo=TZ)
    with pytest.raises(InvalidDecision, match="working day"):  # the citizen would find the office closed
        await harness.decide(event.dossier_id, "extend", reason="cần xác minh thêm", new_due_at=saturday)
    appointment = datetime(2024, 6, 5, 17, 0, tzinfo=TZ)
    for earlier in (appointment, appointment - timedelta(days=1)):  # a letter never brings the date forward
        with pytest.raises(InvalidDecision, match="must be after the current appointment date") as caught:
            await harness.decide(event.dossier_id, "extend", reason="cần xác minh thêm", new_due_at=earlier)
        assert caught.value.field == "new_due_at"
    state = await harness.decide(event.dossier_id, "extend", reason="cần xác minh thêm", new_due_at=new_date)
    assert state.due_at == new_date and state.apologized
    letter = harness.published()[-1].parse_payload()
    assert letter.previous_due_at == appointment  # type: ignore[union-attr]
    assert harness.uow.timers.pending(event.dossier_id) == {
        "due_soon": deadlines.due_soon_at(harness.ctx.rules.calendar, new_date, 8 * 3600),
        "overdue": new_date,
    }
    harness.clock.set(new_date + timedelta(minutes=1))
    with pytest.raises(IllegalTransition):
        await harness.decide(event.dossier_id, "extend", reason="lại trễ", new_due_at=new_date + timedelta(days=7))


async def test_an_apology_letter_s_date_given_as_midnight_is_due_at_the_close_of_that_day(harness: Harness) -> None:
    """Form 04 states a date: at 00:00 on it the dossier had been overdue before the office opened."""
    event = submitted(at=harness.now)
    await harness.deliver(event)
    midnight = datetime(2024, 6, 12, 0, 0, tzinfo=TZ)
    state = await harness.decide(event.dossier_id, "extend", reason="cần xác minh", new_due_at=midnight)
    assert state.due_at == datetime(2024, 6, 12, 17, 0, tzinfo=TZ)
    in_office_hours = datetime(2024, 6, 19, 10, 0, tzinfo=TZ)
    assert (await harness.decide(event.dossier_id, "extend", reason="lại trễ", new_due_at=in_office_hours)).due_at == (
        in_office_hours
    )  # a time the office is open is kept
    with pytest.raises(InvalidDecision, match="at most a year"):
        await harness.decide(event.dossier_id, "extend", reason="x", new_due_at=datetime(2099, 12, 31, 9, tzinfo=TZ))


async def test_an_apology_letter_s_new_date_is_a_later_day_not_a_later_hour_of_the_same_day(harness: Harness) -> None:
    """An hour's supplement wait moved the appointment to 6 June 08:30; a letter for 6 June (midnight, so
    due at 17:00) was accepted as later: form 04 gave the citizen, as the new return date, the date they
    already had, and the dossier was marked apologized, so counted late."""
    event = submitted(at=harness.now)  # Monday 09:00, due Wednesday 5 June 17:00
    await harness.deliver(event)
    harness.clock.set(datetime(2024, 6, 4, 9, 0, tzinfo=TZ))
    await harness.decide(event.dossier_id, "request_supplement", reason="ký thiếu")
    harness.advance(hours=1)
    await harness.deliver(intake.SupplementProvided(dossier_id=event.dossier_id, documents=[], provided_at=harness.now))
    assert (await harness.state(event.dossier_id)).due_at == datetime(2024, 6, 6, 8, 30, tzinfo=TZ)
    for same_day in (datetime(2024, 6, 6, 0, 0, tzinfo=TZ), datetime(2024, 6, 6, 16, 0, tzinfo=TZ)):
        with pytest.raises(InvalidDecision, match=r"after the current appointment date \(2024-06-06\)") as refused:
            await harness.decide(event.dossier_id, "extend", reason="cần xác minh", new_due_at=same_day)
        assert refused.value.field == "new_due_at"
    assert not (await harness.state(event.dossier_id)).apologized
    next_day = datetime(2024, 6, 6, 20, 0, tzinfo=UTC)  # 03:00 on 7 June in Vietnam: the next day
    state = await harness.decide(event.dossier_id, "extend", reason="cần xác minh", new_due_at=next_day)
    assert state.due_at == datetime(2024, 6, 7, 17, 0, tzinfo=TZ) and state.apologized


async def test_a_timer_that_fails_to_fire_is_put_back_and_the_others_fire(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Claimed first (soonest due) and failing every poll, one timer held up every timer due after it."""
    poisoned, healthy = submitted(at=harness.now), submitted(at=harness.now + timedelta(minutes=5))
    await harness.deliver(poisoned)
    await harness.deliver(healthy)
    real_fire = timers.fire

    async def fire_failing_for_one(timer: Timer, uow: WorkflowUnitOfWork, ctx: WorkflowContext) -> None:
        if timer.dossier_id == poisoned.dossier_id:
            raise ValueError("this dossier's history does not load")
        await real_fire(timer, uow, ctx)

    monkeypatch.setattr(timers, "fire", fire_failing_for_one)
    harness.clock.set(datetime(2024, 6, 4, 17, 0, tzinfo=TZ))  # both due soon
    assert await harness.fire_timers() == 1
    assert harness.published_types(healthy.dossier_id).count("DossierDueSoon") == 1
    retry = harness.clock.now() + timers.FAILED_TIMER_RETRY
    assert harness.uow.timers.pending(poisoned.dossier_id)["due_soon"] == retry
    assert await harness.fire_timers() == 0  # not before its retry

    monkeypatch.setattr(timers, "fire", real_fire)  # the cause mended
    harness.clock.set(retry)
    assert await harness.fire_timers() == 1
    assert harness.published_types(poisoned.dossier_id).count("DossierDueSoon") == 1


def marriage_registration(at: datetime) -> intake.DossierSubmitted:
    """A procedure due the same working day, five with verification."""
    return submitted(
        procedure_code="1.000894", receiving_agency="UBND-X-YENHOA", competent_agency="UBND-X-YENHOA", fee=0, at=at
    )


async def test_a_case_that_needs_verification_is_due_at_the_law_s_longer_limit_and_not_late(
    harness: Harness,
) -> None:
    """Marriage registration: the same working day, five with verification (DOMAIN). The only way to a
    later date had been an apology letter, which counts the dossier late."""
    event = marriage_registration(harness.now)  # Monday 3 June, 09:00
    await harness.deliver(event)
    assert (await harness.state(event.dossier_id)).due_at == datetime(2024, 6, 3, 17, 0, tzinfo=TZ)
    with pytest.raises(InvalidDecision, match="reason"):
        await harness.decide(event.dossier_id, "verify")
    state = await harness.decide(event.dossier_id, "verify", reason="cần xác minh tình trạng hôn nhân")
    five_days = datetime(2024, 6, 7, 17, 0, tzinfo=TZ)  # day 1 is the day of receipt
    assert state.due_at == five_days and state.verified and not state.apologized
    assert state.control_sheet[-1].step == "verification" and state.control_sheet[-1].step_due_at == five_days
    assert harness.uow.timers.pending(event.dossier_id)["overdue"] == five_days
    with pytest.raises(IllegalTransition, match="already decided"):
        await harness.decide(event.dossier_id, "verify", reason="lại")

    harness.clock.set(datetime(2024, 6, 6, 17, 0, tzinfo=TZ))  # past the first date, within the longer one
    assert await harness.fire_timers() == 1  # due soon (a working day before), not overdue
    assert (await harness.decide(event.dossier_id, "approve")).on_time is True

    line = (await harness.state(event.dossier_id)).control_sheet
    assert [(entry.step, entry.reason) for entry in line if entry.step == "verification"] == [
        ("verification", "cần xác minh tình trạng hôn nhân")
    ]  # kept, for the control sheet and the citizen's timeline

    no_extension = submitted(at=harness.now)  # 2.001610: the law allows it no longer limit
    await harness.deliver(no_extension)
    with pytest.raises(InvalidDecision, match="no longer limit"):
        await harness.decide(no_extension.dossier_id, "verify", reason="x")


async def test_verification_is_decided_by_the_appointment_and_gets_its_own_due_soon_warning(harness: Harness) -> None:
    """Decided after the date (the overdue timer not yet fired) it turned a late dossier into an on-time
    one; decided after the due-soon warning, the later date had none."""
    late = marriage_registration(harness.now)  # due Monday 17:00
    await harness.deliver(late)
    harness.clock.set(datetime(2024, 6, 4, 10, 0, tzinfo=TZ))
    with pytest.raises(IllegalTransition, match="already late"):
        await harness.decide(late.dossier_id, "verify", reason="cần xác minh")

    warned = submitted(
        procedure_code="9.000005", receiving_agency="STP-BINHAN", competent_agency="STP-BINHAN", fee=0, at=harness.now
    )  # fmt: skip  (ten working days)
    await harness.deliver(warned)
    first_due = (await harness.state(warned.dossier_id)).due_at
    assert first_due is not None
    harness.clock.set(deadlines.due_soon_at(harness.ctx.rules.calendar, first_due, 8 * 3600))
    await harness.fire_timers()
    assert (await harness.state(warned.dossier_id)).due_soon_notified
    state = await harness.decide(warned.dossier_id, "verify", reason="cần xác minh nhân thân")
    assert state.due_at is not None and state.due_at > first_due and not state.due_soon_notified
    assert set(harness.uow.timers.pending(warned.dossier_id)) == {"due_soon", "overdue"}


async def test_verification_s_longer_limit_is_moved_by_the_citizen_s_wait_for_a_supplement(harness: Harness) -> None:
    """The citizen's wait moved the same-day date to Tuesday 10:00; verification then gave the longer
    limit counted from reception alone, Friday 17:00, as if the citizen's wait were the agency's time."""
    event = marriage_registration(harness.now)  # Monday 3 June, 09:00
    await harness.deliver(event)
    await harness.decide(event.dossier_id, "request_supplement", reason="thiếu giấy")
    harness.clock.set(datetime(2024, 6, 3, 13, 0, tzinfo=TZ))  # back after the lunch break
    await harness.deliver(intake.SupplementProvided(dossier_id=event.dossier_id, documents=[], provided_at=harness.now))
    state = await harness.state(event.dossier_id)
    assert (state.paused_seconds, state.due_at) == (2.5 * 3600, datetime(2024, 6, 4, 10, 0, tzinfo=TZ))
    state = await harness.decide(event.dossier_id, "verify", reason="cần xác minh tình trạng hôn nhân")
    assert state.due_at == datetime(2024, 6, 10, 10, 0, tzinfo=TZ)  # Friday 17:00 plus the wait's office hours
    assert harness.uow.timers.pending(event.dossier_id)["overdue"] == state.due_at


async def test_verification_is_refused_after_an_apology_letter(harness: Harness) -> None:
    """A letter admits the dossier late; verification decided after it, within the letter's new date,
    turned the dossier back into an on-time one."""
    event = marriage_registration(harness.now)  # due Monday 3 June 17:00
    await harness.deliver(event)
    letter_date = datetime(2024, 6, 4, 17, 0, tzinfo=TZ)
    state = await harness.decide(event.dossier_id, "extend", reason="chậm", new_due_at=letter_date)
    assert state.apologized and not state.overdue and state.due_at == letter_date  # not late by the date
    with pytest.raises(IllegalTransition, match="already late"):
        await harness.decide(event.dossier_id, "verify", reason="cần xác minh")
    state = await harness.state(event.dossier_id)
    assert state.due_at == letter_date and not state.verified


async def test_a_failed_timer_put_back_does_not_undo_a_date_a_decision_moved_meanwhile(harness: Harness) -> None:
    event = submitted(at=harness.now)
    await harness.deliver(event)
    claimed = Timer(event.dossier_id, "overdue", datetime(2024, 6, 5, 17, 0, tzinfo=TZ))
    moved = datetime(2024, 6, 14, 17, 0, tzinfo=TZ)
    await harness.uow.timers.arm(Timer(event.dossier_id, "overdue", moved))  # an apology letter, say
    await harness.uow.timers.postpone(claimed, harness.now + timers.FAILED_TIMER_RETRY)
    assert harness.uow.timers.pending(event.dossier_id)["overdue"] == moved


async def test_a_supplement_that_moves_the_date_later_gets_its_own_warning(harness: Harness) -> None:
    event = submitted(at=harness.now)  # due Wednesday 17:00, warned Tuesday 17:00
    await harness.deliver(event)
    harness.clock.set(datetime(2024, 6, 4, 17, 0, tzinfo=TZ))
    assert await harness.fire_timers() == 1
    await harness.decide(event.dossier_id, "request_supplement", reason="thiếu giấy tờ")
    harness.clock.set(datetime(2024, 6, 11, 9, 0, tzinfo=TZ))  # back a week later
    await harness.deliver(intake.SupplementProvided(dossier_id=event.dossier_id, documents=[], provided_at=harness.now))
    state = await harness.state(event.dossier_id)
    assert not state.due_soon_notified
    assert set(harness.uow.timers.pending(event.dossier_id)) == {"due_soon", "overdue"}


async def test_an_acceptance_limit_moved_by_a_calendar_change_is_waited_for_not_lost(harness: Harness) -> None:
    """Submitted Wednesday 31 December 2025, to be accepted by Monday 5 January 10:00; then 5 January
    was made a day off. The timer fired on the old date, found the limit not passed, and was marked
    fired: the dossier was never flagged."""
    harness.clock.set(datetime(2025, 12, 31, 10, 0, tzinfo=TZ))
    event = submitted(channel="online", at=harness.now)
    await harness.deliver(event)
    assert harness.uow.timers.pending(event.dossier_id) == {"acceptance_overdue": datetime(2026, 1, 5, 10, tzinfo=TZ)}
    later = Rules(catalogue=harness.ctx.rules.catalogue, calendar=WorkCalendar(CalendarConfig(
        extra_days_off=(date(2026, 1, 5),))))  # fmt: skip
    harness.ctx = WorkflowContext(rules=later, clock=harness.clock)
    harness.clock.set(datetime(2026, 1, 5, 16, 0, tzinfo=TZ))
    assert await harness.fire_timers() == 1
    assert "AcceptanceOverdue" not in harness.published_types(event.dossier_id)
    assert harness.uow.timers.pending(event.dossier_id) == {
        "acceptance_overdue": datetime(2026, 1, 6, 10, tzinfo=TZ) + timers.JUST_AFTER
    }
    harness.clock.set(datetime(2026, 1, 6, 10, 1, tzinfo=TZ))
    await harness.fire_timers()
    assert harness.published_types(event.dossier_id).count("AcceptanceOverdue") == 1


async def test_a_dossier_decided_at_its_limit_is_on_time_and_never_overdue(harness: Harness) -> None:
    """The timer fired at the limit itself (now >= due) while an ending at it counts as on time
    (ended_at <= due): one dossier was both."""
    event = submitted(at=harness.now)  # due Wednesday 17:00
    await harness.deliver(event)
    state = await harness.state(event.dossier_id)
    assert state.due_at is not None
    harness.clock.set(state.due_at)
    await harness.fire_timers()
    await harness.decide(event.dossier_id, "approve")
    state = await harness.state(event.dossier_id)
    assert not state.overdue and "DossierOverdue" not in harness.published_types(event.dossier_id)


async def test_a_short_pause_after_the_warning_brings_no_second_warning(harness: Harness) -> None:
    event = submitted(at=harness.now)  # due Wednesday 17:00, warned Tuesday 17:00
    await harness.deliver(event)
    harness.clock.set(datetime(2024, 6, 4, 17, 0, tzinfo=TZ))
    await harness.fire_timers()
    harness.clock.set(datetime(2024, 6, 5, 9, 0, tzinfo=TZ))
    await harness.decide(event.dossier_id, "request_supplement", reason="ký thiếu")
    harness.advance(minutes=10)
    await harness.deliver(intake.SupplementProvided(dossier_id=event.dossier_id, documents=[], provided_at=harness.now))
    assert "due_soon" not in harness.uow.timers.pending(event.dossier_id)
    await harness.fire_timers()
    assert harness.published_types(event.dossier_id).count("DossierDueSoon") == 1


def birth_registration(at: datetime) -> intake.DossierSubmitted:
    """A procedure due the same working day (1.001193)."""
    return submitted(procedure_code="1.001193", receiving_agency="UBND-P-PHUCLOI", competent_agency="UBND-P-PHUCLOI",
                     fee=0, form=BIRTH_FORM, at=at)  # fmt: skip


@pytest.mark.parametrize(
    "received_at",
    [
        datetime(2024, 6, 7, 16, 0, tzinfo=TZ),  # Friday, after the 15:00 cut-off
        datetime(2024, 6, 7, 17, 30, tzinfo=TZ),  # Friday, after the close
        datetime(2024, 6, 8, 10, 0, tzinfo=TZ),  # Saturday
        datetime(2024, 6, 10, 7, 0, tzinfo=TZ),  # Monday, before the opening: all 8 office hours
        datetime(2024, 6, 10, 10, 0, tzinfo=TZ),  # Monday
    ],
)
async def test_a_same_day_dossier_is_not_warned_whenever_it_was_received(
    harness: Harness, received_at: datetime
) -> None:
    """Received Friday 16:00, after the cut-off, its clock starts Monday 07:30 and it is due Monday 17:00:
    it was warned on Friday at 17:00 (the earliest instant with 8 office hours ahead), three days early
    and before its clock had started; received at 17:30, on Saturday or on Monday, it was not."""
    harness.clock.set(received_at)
    event = birth_registration(received_at)
    await harness.deliver(event)
    assert harness.uow.timers.pending(event.dossier_id) == {"overdue": datetime(2024, 6, 10, 17, 0, tzinfo=TZ)}
    harness.clock.set(datetime(2024, 6, 10, 17, 0, tzinfo=TZ))
    await harness.fire_timers()
    assert "DossierDueSoon" not in harness.published_types(event.dossier_id)


async def test_a_same_day_dossier_s_warning_an_earlier_build_armed_does_not_fire(harness: Harness) -> None:
    """The rule is asked again when the timer fires: a same-day dossier received on the Friday evening
    before the upgrade kept the due-soon timer the earlier build had armed for 17:00, and was warned."""
    received_at = datetime(2024, 6, 7, 16, 0, tzinfo=TZ)  # Friday, after the cut-off; due Monday 17:00
    harness.clock.set(received_at)
    event = birth_registration(received_at)
    await harness.deliver(event)
    await harness.uow.timers.arm(Timer(event.dossier_id, "due_soon", datetime(2024, 6, 7, 17, 0, tzinfo=TZ)))
    harness.clock.set(datetime(2024, 6, 7, 17, 1, tzinfo=TZ))
    await harness.fire_timers()
    assert "DossierDueSoon" not in harness.published_types(event.dossier_id)
    assert "due_soon" not in harness.uow.timers.pending(event.dossier_id)  # fired with nothing to say


@pytest.mark.parametrize(
    ("lead_hours", "received_at", "a_minute_more"),
    [
        (5, datetime(2024, 6, 3, 10, 30, tzinfo=TZ), datetime(2024, 6, 3, 10, 29, tzinfo=TZ)),
        (4, datetime(2024, 6, 3, 13, 0, tzinfo=TZ), datetime(2024, 6, 3, 11, 29, tzinfo=TZ)),
    ],
)
async def test_a_dossier_whose_whole_time_equals_the_lead_is_not_warned(
    harness: Harness, lead_hours: int, received_at: datetime, a_minute_more: datetime
) -> None:
    """Exactly the lead from its clock's start to its appointment (17:00 the same day), a dossier was
    warned at once if its clock started inside an office period (10:30, five hours ahead), and not at
    all if it started at an opening (13:00, four hours ahead): the warning instant is the earliest with
    the lead ahead, 10:30 itself in the morning but 11:30, before the lunch break, in the afternoon."""
    rules = Rules(catalogue=harness.ctx.rules.catalogue, calendar=harness.ctx.rules.calendar,
                  due_soon_lead_seconds=lead_hours * 3600)  # fmt: skip
    harness.ctx = WorkflowContext(rules=rules, clock=harness.clock)
    harness.clock.set(received_at)
    exact = birth_registration(received_at)
    await harness.deliver(exact)
    assert set(harness.uow.timers.pending(exact.dossier_id)) == {"overdue"}
    harness.clock.set(a_minute_more)
    longer = birth_registration(a_minute_more)
    await harness.deliver(longer)
    warning = harness.uow.timers.pending(longer.dossier_id)["due_soon"]
    assert a_minute_more < warning < received_at + timedelta(seconds=1)  # the lead ahead, to the second

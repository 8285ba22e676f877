"""Deadline arithmetic on the shared working-day calendar.

The clock of a dossier runs in office time from its counting start; waiting for the citizen's
supplement does not count, so the appointment moves by exactly the office time the dossier waited
(workcal's W(t) is exact, so pause/resume never drifts). 766 decides on-time when the dossier ends.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from contracts.catalogue import ProcessingTime
from workcal import DurationUnit, StatutoryDuration, WorkCalendar

#: Online dossiers must be accepted or sent back for supplement within 8 working hours.
ACCEPTANCE_SECONDS = 8 * 3600


def statutory_duration(time: ProcessingTime, *, verification: bool = False) -> StatutoryDuration:
    amount, unit = time.limit(verification=verification)
    return StatutoryDuration(amount, DurationUnit(unit))


def appointment(
    calendar: WorkCalendar, received_at: datetime, time: ProcessingTime, *, verification: bool = False
) -> datetime:
    """The statutory end for a dossier (or step) whose clock starts at ``received_at``; with
    ``verification``, the law's longer limit for a case that needs it."""
    return calendar.due_at(received_at, statutory_duration(time, verification=verification))


def acceptance_deadline(calendar: WorkCalendar, submitted_at: datetime) -> datetime:
    """When an online dossier must have been accepted or sent back: 8 working hours from its
    submission. The 15:00 cut-off is no part of it: that rule starts the clock of a dossier received
    late in the day, and one waiting for acceptance is not received yet. Applied, a dossier submitted
    at 15:00:01 had 10 working hours."""
    return calendar.add_working_seconds(submitted_at, ACCEPTANCE_SECONDS)


def resume_after_pause(
    calendar: WorkCalendar, due_at: datetime, paused_since: datetime, resumed_at: datetime
) -> tuple[float, datetime]:
    """(office seconds the clock was paused, the appointment moved by them)."""
    paused = max(calendar.working_seconds_between(paused_since, resumed_at), 0.0)
    return paused, calendar.add_working_seconds(due_at, paused)


def subtract_working_seconds(calendar: WorkCalendar, t: datetime, seconds: float) -> datetime:
    """The earliest instant ``u`` with ``seconds`` of office time between ``u`` and ``t``.

    workcal only adds office time; the working clock is monotone, so bisection over real time finds
    the inverse. The window grows until it holds more office time than ``seconds``: holding exactly
    that much, its start may lie inside a holiday, after the earliest such instant (a warning due
    before Tết would fire during it).
    """
    if seconds <= 0:
        return t
    span = timedelta(days=max(7, int(seconds // 3600)))
    for _ in range(12):
        if calendar.working_seconds_between(t - span, t) > seconds:
            break
        span *= 2
    low, high = t - span, t
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if calendar.working_seconds_between(middle, t) > seconds:
            low = middle
        else:
            high = middle
    return high


def due_soon_at(calendar: WorkCalendar, due_at: datetime, lead_seconds: float) -> datetime:
    """When the due-soon warning fires: ``lead_seconds`` of office time before the appointment."""
    return subtract_working_seconds(calendar, due_at, lead_seconds)


def due_soon_warning(
    calendar: WorkCalendar, received_at: datetime | None, due_at: datetime, lead_seconds: float
) -> datetime | None:
    """When the due-soon warning fires (:func:`due_soon_at`), or None for a dossier whose whole time
    (office time from its counting start to the appointment) is no longer than the lead: a same-day
    procedure, with the default 8 hours. Its warning would come as its clock starts or before (the
    earliest instant with the lead ahead can be the previous working day's close): received Friday
    16:00, after the cut-off, due Monday 17:00, one was warned on Friday at 17:00; received at 17:30
    or on Monday, it was not. Equal to the lead counts as shorter: the warning would come as the
    official first has the dossier, and tell them nothing."""
    if received_at is not None:
        whole = calendar.working_seconds_between(calendar.counting_start(received_at), due_at)
        if whole <= lead_seconds:
            return None
    return due_soon_at(calendar, due_at, lead_seconds)


def on_time(ended_at: datetime, due_at: datetime | None, *, overdue: bool, apologized: bool) -> bool | None:
    """766: on time if it ended by its appointment (pauses already excluded by moving the date),
    never after a second supplement request or a missed deadline, nor when an apology letter admitted
    the appointment would be missed. None when no appointment was ever set (refused before reception)."""
    if due_at is None:
        return None
    return not overdue and not apologized and ended_at <= due_at

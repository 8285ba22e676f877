"""Loading and saving dossiers, and keeping the read models that follow them (tasks, timers) in step,
all in the caller's unit of work."""

from __future__ import annotations

from datetime import datetime

from contracts.envelope import Envelope
from contracts.events.common import DossierStatus
from workflow.domain import deadlines, policies
from workflow.domain.dossier import Dossier
from workflow.domain.errors import DossierNotFound
from workflow.domain.lifecycle import FINISHED
from workflow.domain.state import DossierState, fold
from workflow.service_layer.context import Cause, WorkflowContext
from workflow.service_layer.ports import Task, Timer, WorkflowUnitOfWork


async def load(uow: WorkflowUnitOfWork, dossier_id: str, *, until: datetime | None = None) -> DossierState:
    """The dossier's state (as of ``until``); version 0 if it has no events."""
    stream = await uow.events.load(dossier_id, until=until)
    return fold(dossier_id, stream.envelopes)


async def load_existing(uow: WorkflowUnitOfWork, dossier_id: str, *, until: datetime | None = None) -> DossierState:
    state = await load(uow, dossier_id, until=until)
    if not state.exists:
        raise DossierNotFound(dossier_id)
    return state


async def save(uow: WorkflowUnitOfWork, dossier: Dossier, ctx: WorkflowContext, cause: Cause) -> list[Envelope]:
    """Append the decided events (ConcurrencyConflict if someone else did first), queue the public ones,
    update the task list and the timers. Returns the envelopes written."""
    if not dossier.pending:
        return []
    state = dossier.state
    if cause.correlation_id is None:  # join the dossier's own chain (timers, officials' requests)
        cause = Cause(state.correlation_id, cause.causation_id)
    envelopes = [ctx.wrap(e, key=state.dossier_id, cause=cause, at=dossier.now) for e in dossier.pending]
    await uow.lock_dossier(state.dossier_id)
    # One statement: each public event queued for its topic, the internal ones only stored.
    topics = [ctx.topic_of(event) for event in dossier.pending]
    await uow.record(state.dossier_id, dossier.expected_version, envelopes, topics)
    dossier.expected_version += len(envelopes)
    state.version = dossier.expected_version
    dossier.pending = []
    await project(uow, state, ctx, before=dossier.loaded)
    return envelopes


def task_of(state: DossierState, ctx: WorkflowContext) -> Task | None:
    """The task an official has on this dossier, if it waits for one."""
    if state.held or state.status is None:
        return None
    delivery = None
    if state.status is DossierStatus.REGISTERED:
        waiting, due = "acceptance", acceptance_due(state, ctx)
    elif state.status is DossierStatus.PROCESSING and not state.waiting_for_registry:
        waiting, due = "decision", state.step_due_at or state.due_at or ctx.now()
    elif state.status is DossierStatus.PROCESSED:
        # The result is ready to hand over from the appointment date the receipt gave.
        waiting, due = "result_return", state.due_at or ctx.now()
        delivery = state.delivery.method  # an online result was sent as it was issued: never here
    else:
        return None
    agency = policies.responsible_agency(state)
    since = state.history[-1][1] if state.history else ctx.now()
    return Task(
        dossier_id=state.dossier_id,
        agency=agency,
        code=state.code,
        procedure_code=state.procedure_code,
        status=state.status.value,
        status_code=state.status.code,
        waiting_for=waiting,
        due_at=due,
        appointment_at=state.due_at,
        since=since,
        bundle_id=state.bundle_id,
        overdue=state.acceptance_overdue if waiting == "acceptance" else state.overdue,
        delivery=delivery,
    )


async def project(
    uow: WorkflowUnitOfWork, state: DossierState, ctx: WorkflowContext, *, before: DossierState | None = None
) -> None:
    """Bring the dossier's task and timers in line with ``state``. Every change of a dossier is saved and
    projected, so the rows already match ``before`` (the state it was loaded in, if given): a row that
    neither state has is not deleted again (one statement saved on most changes)."""
    task = task_of(state, ctx)
    if task is not None:
        await uow.tasks.put(task)
    elif before is None or task_of(before, ctx) is not None:
        await uow.tasks.remove(state.dossier_id)
    await _schedule_timers(uow, state, ctx, before)


def acceptance_due(state: DossierState, ctx: WorkflowContext) -> datetime:
    """When a registered dossier must be accepted or sent back: 8 working hours from its submission,
    or from the supplement that answered a request made before acceptance."""
    if state.acceptance_due_at is not None:
        return state.acceptance_due_at
    assert state.submitted_at is not None
    return deadlines.acceptance_deadline(ctx.rules.calendar, state.submitted_at)


def awaits_acceptance(state: DossierState) -> bool:
    """An online dossier (or a bundle's released first step) an official has yet to accept in time."""
    return state.status is DossierStatus.REGISTERED and not state.held and not state.acceptance_overdue


def _clock_stopped(state: DossierState) -> bool:
    """No SLA timer runs: the dossier has ended, waits for the citizen, has no appointment, or is a
    bundle step held until the earlier steps finish (its agency cannot act on it yet)."""
    return state.status in FINISHED or state.clock_paused or state.due_at is None or state.status is None or state.held


async def _schedule_timers(
    uow: WorkflowUnitOfWork, state: DossierState, ctx: WorkflowContext, before: DossierState | None
) -> None:
    """Timers run while the statutory clock runs: armed at reception, moved with the appointment,
    dropped while a supplement is awaited and once processing is over. The acceptance timer runs while
    an online dossier waits to be accepted, and is dropped once it no longer does."""
    if before is not None and awaits_acceptance(before) and not awaits_acceptance(state):
        await uow.timers.disarm(state.dossier_id, "acceptance_overdue")
    due_at = state.due_at
    if _clock_stopped(state) or due_at is None:
        if before is None or not _clock_stopped(before):
            await uow.timers.disarm(state.dossier_id)
        if awaits_acceptance(state):
            await uow.timers.arm(Timer(state.dossier_id, "acceptance_overdue", acceptance_due(state, ctx)))
        return
    armed: list[Timer] = []
    if not state.due_soon_notified:
        lead = ctx.rules.due_soon_lead_seconds
        fire = deadlines.due_soon_warning(ctx.rules.calendar, state.received_at, due_at, lead)
        # A dossier whose whole time is no longer than the lead (same-day procedures) is not warned
        # (fire is None). One warned already is warned again for a later date only once its new
        # warning time falls after the date it was warned for: a short supplement pause had moved both
        # a little and brought a second warning at once.
        covered = fire is not None and state.warned_due_at is not None and fire <= state.warned_due_at
        if fire is not None and not covered:
            armed.append(Timer(state.dossier_id, "due_soon", fire))
        else:
            await uow.timers.disarm(state.dossier_id, "due_soon")
    if not state.overdue:
        armed.append(Timer(state.dossier_id, "overdue", due_at))
    await uow.timers.arm(*armed)

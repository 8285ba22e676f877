"""Linked-procedure sagas: start each bundle step with the data earlier steps produced, end the bundle
when every step has its result or when one fails. Runs inside the unit of work that changed the step's
dossier, with the bundle's row locked, so a step result is processed once and a step starts once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from contracts.catalogue import InputUnavailable
from contracts.envelope import EventPayload
from contracts.events import workflow as wf
from contracts.events.common import DossierStatus
from eventkit.backoff import stop_if_cancelled
from eventkit.db import is_contention, is_unavailable
from eventkit.eventstore import ConcurrencyConflict
from eventkit.logging import get_logger
from workflow.domain import deadlines, policies
from workflow.domain.commands import OpenDossier, StartBundle
from workflow.domain.dossier import Dossier
from workflow.domain.errors import IllegalTransition
from workflow.domain.internal_events import DossierOpened
from workflow.domain.lifecycle import FINISHED
from workflow.domain.saga import BundleSaga, StepRef
from workflow.domain.state import DossierState
from workflow.service_layer.context import Cause, WorkflowContext
from workflow.service_layer.dossiers import load, save
from workflow.service_layer.ports import UnitOfWorkFactory, WorkflowUnitOfWork

log = get_logger(__name__)
_ENDINGS = (wf.DossierRefused, wf.DossierStopped, wf.WithdrawalAccepted)
#: The sweep's warning names the first bundles it stopped steps in: enough to look into, a line of bounded length.
LOGGED_BUNDLE_IDS = 10


async def start_bundle(command: StartBundle, uow: WorkflowUnitOfWork, ctx: WorkflowContext, cause: Cause) -> None:
    """A submitted bundle: keep its saga and start its first step (once, however often it is delivered)."""
    if not await uow.bundles.add(command.saga):
        log.info("bundle already started", bundle_id=command.saga.bundle_id)
        return
    saga = await uow.bundles.lock(command.saga.bundle_id)
    assert saga is not None
    ctx.rules.catalogue.bundle(saga.bundle_type)  # an unknown type fails here, before anything is written
    events = await _advance(saga, uow, ctx, cause)
    await _record(saga, events, uow, ctx, cause)


async def after_dossier_opened(
    saga: BundleSaga, state: DossierState, uow: WorkflowUnitOfWork, ctx: WorkflowContext, cause: Cause
) -> None:
    """A step's dossier arrived after a step of its bundle failed, which it will never reach: it cannot run."""
    cause = _joined(saga, cause)
    step = saga.step_of(state.dossier_id)
    if step is None or step.step_id in saga.started or (saga.running and saga.before_failure(step.step_id)):
        return
    await _stop(step, _why_stopped(saga, ctx), uow, ctx, cause)


async def mend_ended_bundles(uow_factory: UnitOfWorkFactory, ctx: WorkflowContext, *, since: datetime | None) -> int:
    """Mend the bundles that ended partially since ``since`` (None: ever) leaving a step open that
    never started; returns how many steps were started or stopped.

    This release ends a bundle only once every step before its failure ran, and stops the steps after
    it. An older release still running during a rolling deploy ended a bundle at once when the step at
    work finished after a later step was withdrawn: the step between them, which the citizen chose
    and this release had left to run (the deceased's residence deregistration, the funeral allowance
    withdrawn), stayed held, open for ever. The bundle runs again to start it
    (:meth:`BundleSaga.stranded_step`), and ends again once it has run. A step after the failure left
    open is stopped with the bundle's reason. One transaction per bundle, its row locked as every
    writer of its steps locks it first."""
    async with uow_factory() as uow:
        ended = await uow.bundles.ended_since(since)
    mended_steps = 0
    mended: list[str] = []
    for bundle_id in ended:
        try:
            async with uow_factory() as uow:
                saga = await uow.bundles.lock(bundle_id)
                if saga is None or saga.running:
                    continue
                here = await _mend(saga, uow, ctx)
        except Exception as exc:
            stop_if_cancelled(exc)
            if is_unavailable(exc) or is_contention(exc) or isinstance(exc, ConcurrencyConflict):
                raise  # the round stops; the next one, from the same mark, tries this bundle again
            # Its own trouble (a bundle type this catalogue edition lacks, a history that does not
            # load): the others are mended, and the mark moves on. Failing the round, it stopped every
            # round after it at the same bundle, each looking at more bundles than the last.
            log.exception("an ended bundle could not be mended; left as it is", bundle_id=bundle_id)
            continue
        if here:  # committed
            mended_steps += here
            mended.append(bundle_id)
    if mended_steps:
        # The bundles it mended, not every partially completed one it looked at (most of them ended as
        # they should). What an operator makes of it: services/workflow/README.md, "Sagas".
        log.warning(
            "mended steps an ended bundle left open",
            steps=mended_steps,
            bundles=len(mended),
            bundle_ids=mended[:LOGGED_BUNDLE_IDS],
        )
    return mended_steps


async def _mend(saga: BundleSaga, uow: WorkflowUnitOfWork, ctx: WorkflowContext) -> int:
    cause = Cause(saga.correlation_id, None)
    stranded = saga.stranded_step()
    if stranded is not None:
        state = await load(uow, stranded.dossier_id)
        # Open, held for its turn. One an older release stopped with the bundle, or never opened here,
        # is left as it is: nothing of it is open (the bundle is not run again for it).
        if state.exists and state.status not in FINISHED:
            saga.reopen()
            events = await _advance(saga, uow, ctx, cause)
            await _record(saga, events, uow, ctx, cause)
            return 1
    first = saga.first_failure()
    if first is None:
        return 0
    if first.step_id == saga.failed_step:
        reason = _why_stopped(saga, ctx)
    else:  # an older release kept a later failure as the bundle's: this one's own reason is not kept
        reason = _ended_at(first, "bước này đã kết thúc mà không có kết quả", ctx)
    stopped = 0
    for step in saga.steps[saga.index_of(first.step_id) + 1 :]:
        # Not a step that failed itself (a withdrawal takes its own course), nor one that started.
        failed = step.step_id == saga.failed_step or step.step_id in saga.ended
        never_started = step.step_id not in saga.started and step.step_id not in saga.results
        if never_started and not failed and await _stop(step, reason, uow, ctx, cause):
            stopped += 1
    return stopped


def _why_stopped(saga: BundleSaga, ctx: WorkflowContext) -> str:
    failed = next((s for s in saga.steps if s.step_id == saga.failed_step), None)
    return _ended_at(failed, saga.reason or "", ctx) if failed else "hồ sơ liên thông đã dừng"


async def after_step_change(
    saga: BundleSaga,
    state: DossierState,
    decided: list[EventPayload],
    uow: WorkflowUnitOfWork,
    ctx: WorkflowContext,
    cause: Cause,
) -> None:
    """React to what a step's dossier just decided: a result moves the bundle on, an ending ends it."""
    cause = _joined(saga, cause)
    step = saga.step_of(state.dossier_id)
    if step is None:
        return
    events: list[EventPayload] = []
    for event in decided:
        if isinstance(event, wf.ResultIssued):
            events += saga.record_result(step.step_id, event.data, ctx.now())
            events += await _advance(saga, uow, ctx, cause)
        elif isinstance(event, _ENDINGS):
            events += await _fail(saga, step, event.reason, uow, ctx, cause)
    await _record(saga, events, uow, ctx, cause)


def _joined(saga: BundleSaga, cause: Cause) -> Cause:
    """What the saga writes joins the bundle's chain when the cause has none of its own (an official's
    decision): the bundle's events and a step dossier it opens each started a chain of their own, and a
    bundle could not be followed by correlation id across the services."""
    return cause if cause.correlation_id else Cause(saga.correlation_id, cause.causation_id)


async def _advance(saga: BundleSaga, uow: WorkflowUnitOfWork, ctx: WorkflowContext, cause: Cause) -> list[EventPayload]:
    """Start the next step, resolving its inputs from the bundle form and earlier results."""
    step = saga.next_step()
    if step is None:
        return []
    definition = ctx.rules.catalogue.bundle(saga.bundle_type).step(step.step_id)
    try:
        inputs = definition.resolve_inputs(saga.form, saga.results)
    except InputUnavailable as exc:
        log.warning("bundle step cannot start", bundle_id=saga.bundle_id, step_id=step.step_id, reason=str(exc))
        reason = "các bước trước không cung cấp đủ dữ liệu cần cho bước này"
        events = await _fail(saga, step, reason, uow, ctx, cause)
        # The step's own dossier too (it never started): left open, no agency could act on it and no
        # timer watched it, shown received or registered for ever.
        await _stop(step, _ended_at(step, reason, ctx), uow, ctx, cause)
        return events
    state = await load(uow, step.dossier_id)
    if state.status in FINISHED:
        if saga.failed_step is not None:
            # Stopped with the bundle at a later step's failure by the release before this one, which
            # stopped every step not started: the bundle ends at that failure, with its reason, as it
            # would have then (ended here, it was blamed on this step, "ended before its turn").
            return saga.skip(step.step_id, ctx.now()) + await _advance(saga, uow, ctx, cause)
        # Its dossier ended before its turn (the citizen withdrew it while the bundle's own event was
        # still on its way): the step cannot run, and the bundle ends here rather than wait for it.
        return await _fail(saga, step, "hồ sơ của bước đã kết thúc trước khi đến lượt", uow, ctx, cause)
    events = saga.start(step, inputs, ctx.now())
    await _release(saga, step, state, inputs, uow, ctx, cause)
    return events


async def _release(
    saga: BundleSaga,
    step: StepRef,
    state: DossierState,
    inputs: dict[str, Any],
    uow: WorkflowUnitOfWork,
    ctx: WorkflowContext,
    cause: Cause,
) -> None:
    dossier = Dossier(state, ctx.now())
    first = saga.index_of(step.step_id) == 0
    # A later step not yet received takes the bundle's date from here. One intake received at the
    # counter carries the date it announced, which moves only if earlier steps waited for the citizen.
    receives_here = not first and (not state.exists or state.status is DossierStatus.REGISTERED)
    received_held = not first and state.status is DossierStatus.RECEIVED
    earlier = [await load(uow, s.dossier_id) for s in saga.steps[: saga.index_of(step.step_id)]]
    bundle_due = _bundle_appointment(saga, earlier, ctx) if receives_here or received_held else None
    if not state.exists:  # intake listed it in the bundle only: open it from the bundle's data
        opened = _opened(saga, step, inputs, ctx, due_at=bundle_due)
        # An online bundle's steps are received as they are released (the first on its acceptance);
        # one received at the counter or by post was received with the bundle.
        received_at = None if saga.channel == "online" else saga.submitted_at
        policies.take_charge(dossier, OpenDossier(opened, received_at), ctx.rules)
    time = ctx.rules.catalogue.step_processing_time(saga.bundle_type, step.step_id)
    policies.release_step(
        dossier,
        ctx.rules,
        bundle_id=saga.bundle_id,
        step_id=step.step_id,
        inputs=inputs,
        step_time=time,
        first=first,
        bundle_due_at=bundle_due,
        earlier_late=any(s.ended_late for s in earlier),
    )
    await save(uow, dossier, ctx, cause)


def _bundle_appointment(saga: BundleSaga, earlier: list[DossierState], ctx: WorkflowContext) -> datetime | None:
    """The bundle's statutory limit counted from its first step's reception, moved by the office time
    its earlier steps waited for the citizen's supplements: the date the citizen is promised for every
    step. Intake announces it for a bundle received at the counter; an online bundle is received when
    an official accepts its first step, so only workflow knows it (later steps otherwise took their
    own procedure's time: seven working days where the bundle allows three)."""
    if not earlier or earlier[0].received_at is None:
        return None
    limit = ctx.rules.catalogue.bundle(saga.bundle_type).statutory_limit
    due = deadlines.appointment(ctx.rules.calendar, earlier[0].received_at, limit)
    waited = sum(state.paused_seconds for state in earlier)  # the citizen's time, not the agencies'
    return ctx.rules.calendar.add_working_seconds(due, waited) if waited else due


def _opened(
    saga: BundleSaga, step: StepRef, inputs: dict[str, Any], ctx: WorkflowContext, *, due_at: datetime | None
) -> DossierOpened:
    procedure = ctx.rules.procedure(step.procedure_code)
    return DossierOpened(
        dossier_id=step.dossier_id,
        code=step.code,
        procedure_code=step.procedure_code,
        channel=saga.channel,
        receiving_agency=saga.receiving_agency,
        competent_agency=ctx.rules.route(step.procedure_code, saga.receiving_agency, inputs, None),
        fee=procedure.fee if procedure else 0,
        form=inputs,
        submitted_at=saga.submitted_at,
        bundle_id=saga.bundle_id,
        bundle_step=step.step_id,
        applicant_id_number=saga.applicant_id_number,
        documents=step.documents,
        delivery=saga.delivery,
        due_at=due_at,
    )


async def _fail(
    saga: BundleSaga, step: StepRef, reason: str, uow: WorkflowUnitOfWork, ctx: WorkflowContext, cause: Cause
) -> list[EventPayload]:
    """End the bundle at ``step``: the dossiers of the steps after it that never started stop with the
    reason; the steps before it (an earlier one at work or still to come, when the citizen withdrew a
    later step) run to their own end, and the bundle ends then (:meth:`BundleSaga.fail`)."""
    events = saga.fail(step.step_id, reason, ctx.now())
    if saga.failed_step == step.step_id:
        for other in saga.steps[saga.index_of(step.step_id) + 1 :]:
            if other.step_id not in saga.started:
                await _stop(other, _ended_at(step, reason, ctx), uow, ctx, cause)
    return events


def _ended_at(failed: StepRef, reason: str, ctx: WorkflowContext) -> str:
    """Citizens read this on each stopped dossier's timeline: the failed step by its procedure's name."""
    procedure = ctx.rules.procedure(failed.procedure_code)
    name = f"«{procedure.name_vi}»" if procedure else failed.step_id
    return f"hồ sơ liên thông dừng ở bước {name}: {reason}"


async def _stop(step: StepRef, reason: str, uow: WorkflowUnitOfWork, ctx: WorkflowContext, cause: Cause) -> bool:
    """End a step's dossier that never started, if it is open; returns whether it did."""
    state = await load(uow, step.dossier_id)
    if not state.exists or state.status in FINISHED:
        return False
    dossier = Dossier(state, ctx.now())
    try:
        # Never started: not the agency's to be judged on, nor anyone's resolved dossier.
        if state.status is DossierStatus.REGISTERED:
            dossier.refuse(reason, official_id=None, judged=False)
        else:
            dossier.stop(reason, judged=False)
    except IllegalTransition:
        log.warning("bundle dossier cannot be stopped", dossier_id=step.dossier_id, status=state.status)
        return False
    await save(uow, dossier, ctx, cause)
    return True


async def _record(
    saga: BundleSaga, events: list[EventPayload], uow: WorkflowUnitOfWork, ctx: WorkflowContext, cause: Cause
) -> None:
    """Append the bundle's events to its own stream, publish them, and keep the saga row."""
    if events:
        now = ctx.now()
        envelopes = [ctx.wrap(e, key=saga.bundle_id, cause=cause, at=now) for e in events]
        await uow.record(saga.bundle_id, saga.version, envelopes, ctx.topics.workflow_events)
        saga.version += len(envelopes)
    await uow.bundles.save(saga)

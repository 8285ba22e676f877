"""SLA timers: fire the due ones, each exactly once, however many replicas poll.

A timer is claimed with ``FOR UPDATE SKIP LOCKED`` in the same transaction that appends its event and
marks it fired: a second replica skips a claimed row and, once that commits, finds it fired.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from eventkit.backoff import stop_if_cancelled
from eventkit.db import is_contention, is_unavailable
from eventkit.eventstore import ConcurrencyConflict
from eventkit.logging import get_logger
from workflow.domain import deadlines
from workflow.domain.dossier import Dossier
from workflow.domain.lifecycle import TRANSITIONS, Action
from workflow.service_layer.context import Cause, WorkflowContext
from workflow.service_layer.dossiers import acceptance_due, awaits_acceptance, load, save
from workflow.service_layer.ports import Timer, UnitOfWorkFactory, WorkflowUnitOfWork

log = get_logger(__name__)


class DossierBusy(Exception):
    """Another transaction is changing the timer's dossier; the timer waits for the next poll."""


#: How much later a timer that failed to fire is tried again.
FAILED_TIMER_RETRY = timedelta(minutes=10)
#: The first instant past a limit (the database keeps microseconds).
JUST_AFTER = timedelta(microseconds=1)


async def fire_due_timers(uow_factory: UnitOfWorkFactory, ctx: WorkflowContext, *, limit: int = 100) -> int:
    """Fire up to ``limit`` due timers, one transaction each; returns how many were claimed.

    A timer that fails for a reason of its own (its dossier's history does not load, a bug) is put
    back by :data:`FAILED_TIMER_RETRY` and the next one fires: claimed first, soonest due, it had
    failed every poll and held up every timer due after it. An unavailable database stops the round
    (the poller waits it out)."""
    claimed = 0
    skip: set[tuple[str, str]] = set()
    for _ in range(limit):
        timer: Timer | None = None
        try:
            async with uow_factory() as uow:
                timer = await uow.timers.claim_next(ctx.now(), frozenset(skip))
                if timer is None:
                    break
                await fire(timer, uow, ctx)
        except Exception as exc:
            stop_if_cancelled(exc)
            if timer is None or is_unavailable(exc):
                raise  # the database, not this timer: the poller waits before the next round
            skip.add((timer.dossier_id, timer.kind))
            if isinstance(exc, ConcurrencyConflict | DossierBusy) or is_contention(exc):
                # A decision on the same dossier is under way or won, or holds a lock it needs: the
                # timer stays due for the next poll.
                continue
            log.exception("SLA timer failed to fire; tried again later", dossier_id=timer.dossier_id, kind=timer.kind)
            try:
                async with uow_factory() as uow:  # unless a decision moved it meanwhile
                    await uow.timers.postpone(timer, ctx.now() + FAILED_TIMER_RETRY)
            except Exception as postponing:
                stop_if_cancelled(postponing)  # a stop that landed here is a stop, not a database error
                raise
            continue
        claimed += 1
    return claimed


async def fire(timer: Timer, uow: WorkflowUnitOfWork, ctx: WorkflowContext) -> None:
    """Decide the timer's event if it still applies (the dossier may have moved on), then mark it fired."""
    now = ctx.now()
    # Never wait while holding the timer's row: a writer of the dossier may need that row next.
    if not await uow.lock_dossier(timer.dossier_id, wait=False):
        raise DossierBusy(timer.dossier_id)
    state = await load(uow, timer.dossier_id)
    if state.held:
        # Held for an earlier bundle step: no agency can act on it yet. A timer armed before held steps
        # stopped arming them is dropped, not marked fired: its release arms it afresh, and a row
        # marked fired at the same instant would not fire again.
        await uow.timers.disarm(timer.dossier_id, timer.kind)
        return
    dossier = Dossier(state, now)
    running = not state.clock_paused and state.due_at is not None
    # Late only once the limit has passed: a dossier ended at its limit is on time (ended_at <= due_at).
    # A timer that comes at or before its limit, or before a limit that moved later, waits for it;
    # marked fired, it was lost. Only the acceptance limit is computed again here (with the calendar
    # as it is now: a day off announced late moves it); the appointment is the one recorded at
    # reception, and a day off announced after it does not move it.
    limit: datetime | None = None
    if timer.kind == "acceptance_overdue":
        # Accepted or sent back meanwhile, or already flagged: nothing to say.
        if awaits_acceptance(state):
            limit = acceptance_due(state, ctx)
            if now > limit:
                dossier.mark_acceptance_overdue(limit)
    elif timer.kind == "due_soon":
        # Asked again of the rule that arms the warning: a timer an earlier build armed (for a same-day
        # dossier received after the cut-off, a Friday evening's) warned before the clock started.
        warned = state.due_at is not None and deadlines.due_soon_warning(
            ctx.rules.calendar, state.received_at, state.due_at, ctx.rules.due_soon_lead_seconds
        )
        if running and warned and not state.due_soon_notified and state.status in TRANSITIONS[Action.MARK_DUE_SOON]:
            dossier.mark_due_soon()
    elif running and not state.overdue and state.due_at is not None:
        if state.status in TRANSITIONS[Action.MARK_OVERDUE]:
            limit = state.due_at
            if now > limit:
                dossier.mark_overdue("deadline_passed")
    if limit is not None and now <= limit:
        await uow.timers.postpone(timer, limit + JUST_AFTER)
        return
    await uow.timers.mark_fired(timer, now)
    if dossier.pending:
        log.info("SLA timer fired", dossier_id=timer.dossier_id, kind=timer.kind)
        await save(uow, dossier, ctx, Cause(correlation_id=None, causation_id=f"timer:{timer.kind}"))

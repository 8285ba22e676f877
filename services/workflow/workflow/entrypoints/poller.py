"""Workflow's background jobs, run by the runtime in every replica: the SLA timer poller (timers still
fire once) and the sweep of ended bundles' stranded steps."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

from eventkit.backoff import backoff_delay, stop_if_cancelled
from eventkit.logging import get_logger
from workflow.service_layer.context import WorkflowContext
from workflow.service_layer.ports import UnitOfWorkFactory
from workflow.service_layer.sagas import stop_stranded_steps
from workflow.service_layer.timers import fire_due_timers

log = get_logger(__name__)


def timer_poller(
    uow_factory: UnitOfWorkFactory, ctx: WorkflowContext, *, interval: float, batch: int
) -> Callable[[], Awaitable[None]]:
    """The background job: poll, fire what is due, sleep when there was less than a batch."""

    async def run_timer_poller() -> None:
        failures = 0
        while True:
            try:
                fired = await fire_due_timers(uow_factory, ctx, limit=batch)
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database may be away: wait it out, never crash the job
                stop_if_cancelled(exc)  # but a stop the driver turned into its own error is a stop
                failures += 1
                log.warning("timer poll failed", error=repr(exc), failures=failures)
                await asyncio.sleep(backoff_delay(failures, base=interval, cap=30.0))
                continue
            if fired < batch:
                await asyncio.sleep(interval)

    return run_timer_poller


#: How far back a replica's first sweep looks: a rolling deploy is over well within it.
FIRST_SWEEP_LOOKBACK = timedelta(days=1)


def ended_bundle_sweeper(
    uow_factory: UnitOfWorkFactory, ctx: WorkflowContext, *, interval: float
) -> Callable[[], Awaitable[None]]:
    """The background job: every ``interval`` seconds, stop the steps the bundles that ended since the
    last round left open (:func:`~workflow.service_layer.sagas.stop_stranded_steps`). Each round looks
    back to an interval before the last one began, so a bundle ended by a transaction still open then
    is not missed; a replica's first round looks back :data:`FIRST_SWEEP_LOOKBACK`."""

    async def run_ended_bundle_sweeper() -> None:
        since = ctx.now() - FIRST_SWEEP_LOOKBACK
        while True:
            began = ctx.now()
            try:
                await stop_stranded_steps(uow_factory, ctx, since=since)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database may be away: never crash the job
                stop_if_cancelled(exc)
                log.warning("ended bundle sweep failed; the next round covers its bundles", error=repr(exc))
            else:
                since = began - timedelta(seconds=interval)
            await asyncio.sleep(interval)

    return run_ended_bundle_sweeper

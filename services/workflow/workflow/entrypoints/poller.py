"""Workflow's background jobs, run by the runtime in every replica: the SLA timer poller (timers still
fire once) and the sweep that mends ended bundles' stranded steps."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

from eventkit.backoff import backoff_delay, stop_if_cancelled
from eventkit.logging import get_logger
from workflow.service_layer.context import WorkflowContext
from workflow.service_layer.ports import UnitOfWorkFactory
from workflow.service_layer.sagas import mend_ended_bundles
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


def ended_bundle_sweeper(
    uow_factory: UnitOfWorkFactory, ctx: WorkflowContext, *, interval: float
) -> Callable[[], Awaitable[None]]:
    """The background job: every ``interval`` seconds, mend the bundles that ended since the last
    round (:func:`~workflow.service_layer.sagas.mend_ended_bundles`). The rounds of every replica share
    one mark (``bundle_sweeps``), an interval before the last good round began, so a bundle ended by a
    transaction still open then is not missed; before the first round of all, every bundle ended
    partially is looked at (an older release stranded steps before this one ever ran)."""

    async def run_ended_bundle_sweeper() -> None:
        while True:
            began = ctx.now()
            try:
                async with uow_factory() as uow:
                    since = await uow.bundles.swept_until()
                await mend_ended_bundles(uow_factory, ctx, since=since)
                async with uow_factory() as uow:
                    await uow.bundles.mark_swept(began - timedelta(seconds=interval))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database may be away: never crash the job
                stop_if_cancelled(exc)
                log.warning("ended bundle sweep failed; the next round covers its bundles", error=repr(exc))
            await asyncio.sleep(interval)

    return run_ended_bundle_sweeper

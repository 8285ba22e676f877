"""The SLA timer poller, run as a runtime background job in every replica (timers still fire once)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from eventkit.backoff import backoff_delay, stop_if_cancelled
from eventkit.logging import get_logger
from workflow.service_layer.context import WorkflowContext
from workflow.service_layer.ports import UnitOfWorkFactory
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

"""Keeping the lease of claimed work while its call runs.

A claim reserves an item for a short lease; while the call to the external system is still running
the worker renews it every third of the lease. A worker that dies stops renewing, so its items are
claimed again a lease later (seconds), while a slow call that is alive is never overtaken by a
second one. A lease's end is the holder's token (see ``adapters.leases``): the renewal that finds
it changed has lost the item, and stops."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from eventkit.backoff import stop_if_cancelled
from eventkit.logging import get_logger
from registry_sync.domain.outcomes import CallOutcome, Rejected, Succeeded

log = get_logger(__name__)


@asynccontextmanager
async def lease_kept(renew: Callable[[], Awaitable[bool]], *, every: float, what: str) -> AsyncIterator[None]:
    """Run the body while ``renew()`` is called every ``every`` seconds (it answers whether the lease
    was still held). When the body ends, a renewal under way is finished, not cancelled, so that
    the holder knows its lease before it records the outcome."""
    stop = asyncio.Event()

    async def keep() -> None:
        while True:
            try:
                await asyncio.wait_for(stop.wait(), every)
                return
            except TimeoutError:
                pass
            try:
                if not await renew():
                    log.warning("lease lost while the call ran; another worker may take it over", item=what)
                    return
            except Exception as exc:
                stop_if_cancelled(exc)
                log.warning("cannot renew a lease; trying again", item=what, error=repr(exc))

    keeper = asyncio.create_task(keep(), name=f"lease:{what}")
    try:
        yield
    finally:
        stop.set()
        try:
            await keeper
        except asyncio.CancelledError:
            keeper.cancel()
            raise


def left_to_holder(current_lease: datetime, held_lease: datetime, outcome: CallOutcome | None) -> bool:
    """Whether an answer is dropped because the item changed hands while its call ran: the lease it
    was made under (``held_lease``) is no longer the row's. A success or a refusal is recorded
    whoever holds the item (the holder finds it done); a "try later", or no attempt at all, is the
    holder's to decide, else the item would be rescheduled under a call still running."""
    return current_lease != held_lease and not isinstance(outcome, Succeeded | Rejected)

"""The live feed's event log keeps a bounded history: events older than the retention are deleted.

``rm_event_log`` serves operators (the recent events, a stream resumed by Last-Event-ID, one
dossier's events by ``?dossier=``); no metric reads it. Every event adds a row, some ten per
dossier, so a province's log would grow by millions of rows a year for ever. A dossier's whole
history stays where it is kept: workflow's event store (the processing control sheet) and intake's
citizen view. A rebuild logs every event again; the next purge trims what is too old once the live
consumer has applied it (the log is also how a projection knows an event was applied).

The deletion goes in batches, each a short transaction of its own behind the shared side of the swap
lock (as every use of the live tables), so neither the projection nor a rebuild's swap waits long.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from eventkit.logging import get_logger
from reporting.adapters.pg_store import LIVE, SWAP_LOCK_SHARED

log = get_logger(__name__)

# The oldest rows first, by the occurred_at index; the primary key finds them again to delete. Only
# events the live consumer has in its inbox: the log is also how a projection knows an event was
# applied, and a rebuild logs events the live consumer has not reached yet (skipped when it does).
# Purged before it got there, an event older than the retention was applied a second time: a
# deployment filled by a rebuild over more than the retention's history doubled its old periods'
# syncs and supplement pauses.
_PURGE = f"""
DELETE FROM {LIVE.event_log} WHERE event_id IN (
    SELECT l.event_id FROM {LIVE.event_log} l
     WHERE l.occurred_at < :cutoff
       AND EXISTS (SELECT 1 FROM inbox i WHERE i.consumer = :consumer AND i.event_id = l.event_id)
     ORDER BY l.occurred_at LIMIT :n
)
"""


async def purge_event_log(
    engine: AsyncEngine,
    cutoff: datetime,
    *,
    consumer: str,
    batch_size: int = 10_000,
    progress_seconds: float = 10.0,
) -> int:
    """Delete the logged events that occurred before ``cutoff`` and that the live ``consumer`` has
    applied (recorded in its inbox); how many were deleted."""
    deleted = 0
    started = last_report = time.monotonic()
    while True:
        async with engine.begin() as conn:
            await conn.execute(text(SWAP_LOCK_SHARED))
            params = {"cutoff": cutoff, "consumer": consumer, "n": batch_size}
            batch = (await conn.execute(text(_PURGE), params)).rowcount
        deleted += batch
        if batch < batch_size:
            break
        if time.monotonic() - last_report >= progress_seconds:
            last_report = time.monotonic()
            log.info("purging the event log", deleted=deleted, before=cutoff.isoformat())
        await asyncio.sleep(0)  # one batch at a time: let the requests and the projection in between
    if deleted:
        log.info(
            "event log purged", deleted=deleted, before=cutoff.isoformat(), seconds=round(time.monotonic() - started, 1)
        )
    return deleted


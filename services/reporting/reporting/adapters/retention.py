"""The live feed's event log keeps a bounded history: events older than the retention are deleted.

``rm_event_log`` serves operators (the recent events, a stream resumed by Last-Event-ID, one
dossier's events by ``?dossier=``); no metric reads it. Every event adds a row, some ten per
dossier, so a province's log would grow by millions of rows a year for ever. A dossier's whole
history stays where it is kept: workflow's event store (the processing control sheet) and intake's
citizen view. A rebuild logs every event again; the next purge trims what is too old.

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

# The oldest rows first, by the occurred_at index; the primary key finds them again to delete.
_PURGE = f"""
DELETE FROM {LIVE.event_log} WHERE event_id IN (
    SELECT event_id FROM {LIVE.event_log} WHERE occurred_at < :cutoff ORDER BY occurred_at LIMIT :n
)
"""


async def purge_event_log(
    engine: AsyncEngine, cutoff: datetime, *, batch_size: int = 10_000, progress_seconds: float = 10.0
) -> int:
    """Delete the logged events that occurred before ``cutoff``; how many were deleted."""
    deleted = 0
    started = last_report = time.monotonic()
    while True:
        async with engine.begin() as conn:
            await conn.execute(text(SWAP_LOCK_SHARED))
            batch = (await conn.execute(text(_PURGE), {"cutoff": cutoff, "n": batch_size})).rowcount
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


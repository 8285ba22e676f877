"""Running a few coroutines at once, each failure stopping the others."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any


async def run_together(*work: Awaitable[Any]) -> list[Any]:
    """Run ``work`` concurrently and return their results in order; the first to fail cancels the
    others, is waited for with them, and is raised as it came (not in an ExceptionGroup).

    Instead of :class:`asyncio.TaskGroup`: on Python 3.11, a child failing once the group's body had
    finished left the calling task marked as being cancelled (``cancelling()`` stayed 1), and every
    later ``stop_if_cancelled`` took the failure for a stop. A rebuild the broker's outage failed was
    reported as "cancelled: the service stopped", and its tables were left behind."""
    tasks = [asyncio.ensure_future(each) for each in work]
    try:
        return list(await asyncio.gather(*tasks))
    finally:
        unfinished = [task for task in tasks if not task.done()]
        for task in unfinished:
            task.cancel()
        if unfinished:
            await asyncio.gather(*unfinished, return_exceptions=True)

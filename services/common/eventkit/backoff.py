"""Exponential backoff with full jitter, for loops that wait out a broken dependency, and the
check that keeps such a loop from mistaking its own cancellation for a broken dependency."""

from __future__ import annotations

import asyncio
import random


def backoff_delay(attempt: int, *, base: float, cap: float) -> float:
    """Delay before retry number ``attempt`` (1-based): uniform in [0, min(cap, base * 2**(attempt-1))]."""
    return random.uniform(0, min(cap, base * 2 ** max(attempt - 1, 0)))


def stop_if_cancelled(exc: BaseException) -> None:
    """Re-raise as CancelledError if the current task is being cancelled.

    A cancellation that lands inside a database or HTTP call can surface as the driver's own error
    (an interrupted query, a connection closed mid-operation). A retrying loop that caught it would
    log it, back off and carry on, and a service would never finish stopping."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError from exc

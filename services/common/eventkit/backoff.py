"""Exponential backoff with full jitter, for loops that wait out a broken dependency, and the
check that keeps such a loop from mistaking its own cancellation for a broken dependency."""

from __future__ import annotations

import asyncio
import random

#: Past this many doublings any base step is beyond any sensible cap. More overflowed the float the
#: step is computed in, at attempt 1,025: a loop waiting out a broker or database outage of about 43
#: minutes raised, and the service stopped.
MAX_DOUBLINGS = 60


def doubling(attempt: int, *, base: float, cap: float) -> float:
    """``base`` doubled for each attempt after the first (``attempt`` is 1-based), at most ``cap``."""
    return float(min(cap, base * 2 ** min(max(attempt - 1, 0), MAX_DOUBLINGS)))


def backoff_delay(attempt: int, *, base: float, cap: float) -> float:
    """Delay before retry number ``attempt`` (1-based): uniform in [0, :func:`doubling`]."""
    return random.uniform(0, doubling(attempt, base=base, cap=cap))


def stop_if_cancelled(exc: BaseException) -> None:
    """Re-raise as CancelledError if the current task is being cancelled.

    A cancellation that lands inside a database or HTTP call can surface as the driver's own error
    (an interrupted query, a connection closed mid-operation). A retrying loop that caught it would
    log it, back off and carry on, and a service would never finish stopping."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError from exc

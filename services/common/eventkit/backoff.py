"""Exponential backoff with full jitter, for loops that wait out a broken dependency."""

from __future__ import annotations

import random


def backoff_delay(attempt: int, *, base: float, cap: float) -> float:
    """Delay before retry number ``attempt`` (1-based): uniform in [0, min(cap, base * 2**(attempt-1))]."""
    return random.uniform(0, min(cap, base * 2 ** max(attempt - 1, 0)))

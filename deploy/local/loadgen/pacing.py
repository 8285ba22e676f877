"""Open-loop pacing: the i-th request is due at ``start + i / rate`` whatever happened to the
earlier ones, so a slow server shows up as schedule lag and latency, not as a quietly lower
offered rate (coordinated omission). Without a rate every request is due at once and only the
concurrency bound holds the load back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Pacer:
    """Hands out request slots until ``count`` slots or ``duration`` seconds are used up."""

    rate: float | None  # requests per second; None: as fast as possible
    count: int
    duration: float
    clock: Callable[[], float] = time.monotonic
    start: float = field(default=0.0)
    issued: int = 0

    def __post_init__(self) -> None:
        if self.rate is not None and self.rate <= 0:
            raise ValueError("rate must be positive (or None for as fast as possible)")
        if self.count < 1 or self.duration <= 0:
            raise ValueError("count and duration must both bound the run")
        self.start = self.start or self.clock()

    @property
    def deadline(self) -> float:
        return self.start + self.duration

    def due(self, index: int) -> float:
        """When slot ``index`` is due."""
        return self.start if self.rate is None else self.start + index / self.rate

    def take(self) -> tuple[int, float] | None:
        """The next slot and when it is due, or None when the run is over (count reached, or the
        slot would fall after the deadline)."""
        if self.issued >= self.count:
            return None
        due = max(self.due(self.issued), self.start)
        if due >= self.deadline or self.clock() >= self.deadline:
            return None
        index = self.issued
        self.issued += 1
        return index, due

    async def wait(self) -> tuple[int, float] | None:
        """Take a slot and sleep until it is due."""
        slot = self.take()
        if slot is not None:
            delay = slot[1] - self.clock()
            if delay > 0:
                await asyncio.sleep(delay)
        return slot

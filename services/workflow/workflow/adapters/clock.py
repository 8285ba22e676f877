"""Clocks: the real one, and one tests set by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class SettableClock:
    """A clock that stands still until told to move; for firing timers without waiting days."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("a timezone-aware start is required")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when

    def advance(self, delta: timedelta) -> None:
        self._now += delta

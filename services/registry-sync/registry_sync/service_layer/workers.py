"""Background loops: one per external system, each claiming due work from the database as its
guard allows (nothing while the breaker is open, one probe when half-open, up to the system's
concurrency otherwise) and running it concurrently. A crash of one item is logged and its
lease runs out, so it is picked up again; the loop itself never dies of it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from eventkit.backoff import backoff_delay, stop_if_cancelled
from eventkit.db import is_contention, is_unavailable
from eventkit.logging import get_logger
from registry_sync.service_layer.guard import SystemGuard

log = get_logger(__name__)

T = TypeVar("T")


class WorkLoop(Generic[T]):
    def __init__(
        self,
        name: str,
        guard: SystemGuard,
        claim: Callable[[int], Awaitable[list[T]]],
        execute: Callable[[T], Awaitable[None]],
        *,
        poll_seconds: float,
    ) -> None:
        self.name = name
        self.guard = guard
        self._claim = claim
        self._execute = execute
        self._poll = poll_seconds
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self.executed = 0

    def wake(self) -> None:
        """Look for work now rather than at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        claim_failures = 0
        try:
            while True:
                capacity = self.guard.capacity(len(self._tasks))
                claimed: list[T] = []
                if capacity:
                    try:
                        claimed = await self._claim(capacity)
                        claim_failures = 0
                    except asyncio.CancelledError:
                        raise
                    except Exception as exc:
                        stop_if_cancelled(exc)
                        claim_failures += 1
                        log.warning("cannot claim work; retrying", worker=self.name, error=repr(exc))
                        await asyncio.sleep(backoff_delay(claim_failures, base=0.2, cap=5.0))
                        continue
                for item in claimed:
                    task = asyncio.create_task(self._guarded(item), name=f"{self.name}:item")
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                # A full claim suggests more is due: look again as soon as a slot frees up.
                full = bool(claimed) and len(claimed) == capacity
                await self._wait(self._poll if full else self._idle_seconds())
        finally:
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _idle_seconds(self) -> float:
        probe_in = self.guard.breaker.seconds_until_probe()
        return min(self._poll, probe_in) if probe_in > 0 else self._poll

    async def _wait(self, seconds: float) -> None:
        """Until a slot frees up, someone wakes us, or ``seconds`` pass."""
        woken = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({woken, *self._tasks}, timeout=max(seconds, 0.001), return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()
            self._wake.clear()

    async def _guarded(self, item: T) -> None:
        try:
            await self._execute(item)
            self.executed += 1
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            stop_if_cancelled(exc)
            if is_unavailable(exc) or is_contention(exc):  # an outage or a concurrent writer, not a bug
                log.warning("the database did not take the work; it is retried when its lease ends",
                            worker=self.name, error=repr(exc))  # fmt: skip
                return
            log.exception("work item failed; it will be retried when its lease ends", worker=self.name)


class Wakeups:
    """Which loops to wake once the transaction that gave them work has committed.

    A consumer handler notes the loop of each command it records; the consumer calls the object
    after its commit, and only those loops look for work at once (the others keep their poll).
    """

    def __init__(self) -> None:
        self._loops: dict[str, WorkLoop[Any]] = {}
        self._noted: set[str] = set()

    def register(self, loop: WorkLoop[Any]) -> None:
        self._loops[loop.name] = loop

    def note(self, name: str) -> None:
        self._noted.add(name)

    def __call__(self) -> None:
        noted, self._noted = self._noted, set()
        for name in noted:
            if (loop := self._loops.get(name)) is not None:
                loop.wake()


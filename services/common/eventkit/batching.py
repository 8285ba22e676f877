"""Group writes: items that arrive while a batch is being written wait and go together in the next.

Under load, the fixed cost of a transaction (BEGIN, COMMIT and its WAL flush, a pooled connection,
a round trip per statement) dominates small writes that many concurrent tasks make one each. Here
a task hands its item over and waits; a writer task (at most ``writers``, started when something
waits and gone when nothing does) takes everything queued, up to ``max_batch``, and writes it in
one go. Nothing waits for a batch to fill: an item arriving while no writer is busy is written at
once, alone.

:class:`WriterPool` is the queue and its writers, for a subclass that says how a batch is written
and answers each item (intake's group commit of submissions); :class:`GroupWriter` is the common
case of a write function that is all or nothing: when writing a batch of several raises, each of its
items is written again by itself, so one bad item does not fail the others (unless the database was
unavailable: then every item fails with the batch, and its caller decides whether to try again).
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from eventkit.backoff import stop_if_cancelled
from eventkit.db import is_slow_or_blocked, is_unavailable
from eventkit.logging import get_logger

log = get_logger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class WriterStopped(RuntimeError):
    """The service stopped before this item was written."""


@dataclass
class Waiting(Generic[T, R]):
    """An item and the future its caller awaits."""

    item: T
    future: asyncio.Future[R] = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    def settle(self, result: R) -> None:
        if not self.future.done():  # its caller may have been cancelled meanwhile
            self.future.set_result(result)

    def fail(self, error: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(error)


class WriterPool(ABC, Generic[T, R]):
    """The queue and up to ``writers`` writer tasks; a subclass writes a batch and settles each item."""

    def __init__(self, *, name: str, max_batch: int, writers: int) -> None:
        if max_batch < 1 or writers < 1:
            raise ValueError("max_batch and writers must be at least 1")
        self._name = name
        self._max_batch = max_batch
        self._writers = writers
        self._queue: list[Waiting[T, R]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def _put(self, item: T) -> R:
        waiting: Waiting[T, R] = Waiting(item)
        self._queue.append(waiting)
        if len(self._tasks) < self._writers:
            task = asyncio.create_task(self._drain(), name=self._name)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)  # also for a task cancelled before it ran
        return await waiting.future

    async def stop(self) -> None:
        """Cancel the writers and wait for them: the service is stopping, and the engine they write on
        is disposed next. Every item not written fails with :class:`WriterStopped`."""
        writers = list(self._tasks)
        for task in writers:
            task.cancel()
        await asyncio.gather(*writers, return_exceptions=True)
        # A writer cancelled before it ran failed nothing: its callers would wait for ever.
        stopped = WriterStopped(f"{self._name}: the service is stopping; try again")
        for waiting in self._queue:
            waiting.fail(stopped)
        self._queue.clear()

    @abstractmethod
    async def _write(self, batch: list[Waiting[T, R]]) -> None:
        """Write ``batch`` and settle or fail every item of it (an exception fails those left)."""

    async def _drain(self) -> None:
        batch: list[Waiting[T, R]] = []
        try:
            while self._queue:
                batch = [w for w in self._queue[: self._max_batch] if not w.future.done()]
                del self._queue[: self._max_batch]
                if batch:
                    try:
                        await self._write(batch)
                    except Exception as exc:  # the writer lives on; the batch's callers hear of it
                        stop_if_cancelled(exc)  # unless it is a stop the driver turned into its own error
                        for waiting in batch:
                            waiting.fail(exc)
        except asyncio.CancelledError:  # only when the service stops: nobody is left to write the rest
            stopped = WriterStopped(f"{self._name}: the service is stopping; try again")
            for waiting in batch + self._queue:
                waiting.fail(stopped)
            self._queue.clear()
            raise
        finally:
            # Leave the writers in the same step as the last look at the queue. The done-callback
            # runs a step later; an item queued in between would count this writer as busy, start
            # none, and wait until something else came.
            self._tasks.discard(asyncio.current_task())  # type: ignore[arg-type]


@dataclass
class GroupStats:
    """What the writers did, for tests and logs."""

    batches: int = 0  # calls of ``write`` with more than one item
    batched: int = 0  # items written in those
    alone: int = 0  # items written by themselves (alone in the queue, or after a failed batch)
    failed_batches: int = 0  # batches that raised, written again item by item


class GroupWriter(WriterPool[T, None]):
    """Writes items with ``write(batch)``, several per call when they arrive together."""

    def __init__(
        self, write: Callable[[list[T]], Awaitable[None]], *, name: str, max_batch: int = 64, writers: int = 1
    ) -> None:
        super().__init__(name=name, max_batch=max_batch, writers=writers)
        self._write_items = write
        self.stats = GroupStats()

    async def put(self, item: T) -> None:
        """Return once ``item`` is written (with others or alone); raise what writing it alone raised."""
        await self._put(item)

    async def _write(self, batch: list[Waiting[T, None]]) -> None:
        if len(batch) == 1:
            await self._alone(batch[0])
            return
        try:
            await self._write_items([w.item for w in batch])
        except Exception as exc:
            stop_if_cancelled(exc)  # a stop is no bad item: nothing is written one by one after it
            self.stats.failed_batches += 1
            if is_unavailable(exc) or is_slow_or_blocked(exc):
                # No item is at fault: alone, each would meet the same outage, slowness or lock, one
                # after another (up to the time limit each) on a server already struggling. (A
                # deadlock is not among them: alone, each item can go through.)
                for waiting in batch:
                    waiting.fail(exc)
                return
            log.info("batch failed; writing its items one by one", writer=self._name, size=len(batch), error=repr(exc))
            for waiting in batch:
                await self._alone(waiting)
            return
        self.stats.batches += 1
        self.stats.batched += len(batch)
        for waiting in batch:
            waiting.settle(None)

    async def _alone(self, waiting: Waiting[T, None]) -> None:
        try:
            await self._write_items([waiting.item])
        except Exception as exc:
            stop_if_cancelled(exc)  # a stop is not this item's refusal: its callers hear that the service stops
            waiting.fail(exc)
            return
        self.stats.alone += 1
        waiting.settle(None)

"""Group writes: items that arrive while a batch is being written wait and go together in the next.

Under load, the fixed cost of a transaction (BEGIN, COMMIT and its WAL flush, a pooled connection,
a round trip per statement) dominates small writes that many concurrent tasks make one each. Here
a task hands its item to :meth:`GroupWriter.put` and waits; a writer task (at most ``writers``,
started when something waits and gone when nothing does) takes everything queued, up to
``max_batch``, and writes it with one call of ``write``. Nothing waits for a batch to fill: an item
arriving while no writer is busy is written at once, alone.

A batch is all or nothing, so one bad item must not fail the others: when writing a batch of
several raises, each of its items is written again by itself and its caller gets its own result.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from eventkit.logging import get_logger

log = get_logger(__name__)

T = TypeVar("T")


class WriterStopped(RuntimeError):
    """The service stopped before this item was written."""


@dataclass
class GroupStats:
    """What the writers did, for tests and logs."""

    batches: int = 0  # calls of ``write`` with more than one item
    batched: int = 0  # items written in those
    alone: int = 0  # items written by themselves (alone in the queue, or after a failed batch)
    failed_batches: int = 0  # batches that raised, written again item by item


@dataclass
class _Waiting(Generic[T]):
    item: T
    future: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class GroupWriter(Generic[T]):
    """Writes items with ``write(batch)``, several per call when they arrive together."""

    def __init__(
        self, write: Callable[[list[T]], Awaitable[None]], *, name: str, max_batch: int = 64, writers: int = 1
    ) -> None:
        if max_batch < 1 or writers < 1:
            raise ValueError("max_batch and writers must be at least 1")
        self._write = write
        self._name = name
        self._max_batch = max_batch
        self._writers = writers
        self._queue: list[_Waiting[T]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.stats = GroupStats()

    async def put(self, item: T) -> None:
        """Return once ``item`` is written (with others or alone); raise what writing it alone raised."""
        waiting = _Waiting(item)
        self._queue.append(waiting)
        if len(self._tasks) < self._writers:
            task = asyncio.create_task(self._drain(), name=self._name)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)  # also for a task cancelled before it ran
        await waiting.future

    async def _drain(self) -> None:
        batch: list[_Waiting[T]] = []
        try:
            while self._queue:
                batch = [w for w in self._queue[: self._max_batch] if not w.future.done()]
                del self._queue[: self._max_batch]
                if len(batch) > 1:
                    await self._together(batch)
                elif batch:
                    await self._alone(batch[0])
        except asyncio.CancelledError:  # only when the service stops: nobody is left to write the rest
            stopped = WriterStopped(f"{self._name}: the service is stopping")
            for waiting in batch + self._queue:
                _settle(waiting, stopped)
            self._queue.clear()
            raise
        finally:
            # Leave the writers in the same step as the last look at the queue. The done-callback
            # runs a step later; an item queued in between would count this writer as busy, start
            # none, and wait until something else came.
            self._tasks.discard(asyncio.current_task())  # type: ignore[arg-type]

    async def _together(self, batch: list[_Waiting[T]]) -> None:
        try:
            await self._write([w.item for w in batch])
        except Exception as exc:
            self.stats.failed_batches += 1
            log.info("batch failed; writing its items one by one", writer=self._name, size=len(batch), error=repr(exc))
            for waiting in batch:
                await self._alone(waiting)
            return
        self.stats.batches += 1
        self.stats.batched += len(batch)
        for waiting in batch:
            _settle(waiting, None)

    async def _alone(self, waiting: _Waiting[T]) -> None:
        try:
            await self._write([waiting.item])
        except Exception as exc:
            _settle(waiting, exc)
            return
        self.stats.alone += 1
        _settle(waiting, None)


def _settle(waiting: _Waiting[T], error: BaseException | None) -> None:
    if waiting.future.done():  # its caller was cancelled meanwhile
        return
    if error is None:
        waiting.future.set_result(None)
    else:
        waiting.future.set_exception(error)

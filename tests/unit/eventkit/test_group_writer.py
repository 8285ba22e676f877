"""The group writer: together what arrives together, alone what arrives alone, and a failed batch
item by item so that only its bad item fails."""

from __future__ import annotations

import asyncio

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
import pytest
from sqlalchemy.exc import DBAPIError

from eventkit.batching import GroupWriter, WriterStopped


class Store:
    """A write function that records its calls; it can be held (to let items queue up) and can
    refuse an item."""

    def __init__(self, *, refuse: object = None, down: bool = False, slow: Exception | None = None) -> None:
        self.calls: list[list[object]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.refuse = refuse
        self.down = down
        self.slow = slow
        self.attempts = 0

    async def write(self, batch: list[object]) -> None:
        await self.gate.wait()
        self.attempts += 1
        if self.down:
            raise ConnectionRefusedError(111, "Connection refused")
        if self.slow is not None and len(batch) > 1:  # the server's answer to the batch's statement
            raise DBAPIError("INSERT", {}, self.slow)
        if self.refuse in batch:
            raise ValueError(f"refused {self.refuse}")
        self.calls.append(batch)


async def within(awaitable, seconds: float = 2.0):  # type: ignore[no-untyped-def]
    async with asyncio.timeout(seconds):
        return await awaitable


async def put_together(writer: GroupWriter[object], store: Store, items: list[object]) -> list[object]:
    """Put ``items`` while the store is held, so that the writer takes them as one batch; what each
    put returned or raised."""
    store.gate.clear()
    puts = [asyncio.create_task(writer.put(item)) for item in items]
    await asyncio.sleep(0)
    store.gate.set()
    return list(await within(asyncio.gather(*puts, return_exceptions=True)))


async def test_an_item_put_right_after_the_last_one_is_written_is_written_too() -> None:
    # The caller resumes before the writer task's done-callback runs; it used to count that
    # writer as busy, start none, and wait for ever.
    store = Store()
    writer = GroupWriter(store.write, name="test")
    for item in range(5):
        await within(writer.put(item))
    assert store.calls == [[0], [1], [2], [3], [4]]
    assert writer.stats.alone == 5


async def test_items_arriving_while_a_batch_is_written_go_together_in_the_next() -> None:
    store = Store()
    writer = GroupWriter(store.write, name="test", max_batch=3)
    store.gate.clear()
    puts = [asyncio.create_task(writer.put(item)) for item in range(7)]
    await asyncio.sleep(0)  # the writer takes what is queued: all seven, at most three a call
    store.gate.set()
    await within(asyncio.gather(*puts))
    assert store.calls == [[0, 1, 2], [3, 4, 5], [6]]
    assert (writer.stats.batches, writer.stats.batched, writer.stats.alone) == (2, 6, 1)


async def test_a_failed_batch_is_written_item_by_item_and_only_the_bad_item_fails() -> None:
    store = Store(refuse="bad")
    writer = GroupWriter(store.write, name="test")
    results = await put_together(writer, store, ["a", "bad", "c"])
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], ValueError)
    assert store.calls == [["a"], ["c"]]
    assert writer.stats.failed_batches == 1


async def test_two_writers_write_two_batches_at_once() -> None:
    store = Store()
    writer = GroupWriter(store.write, name="test", writers=2)
    store.gate.clear()
    first = asyncio.create_task(writer.put("first"))
    await asyncio.sleep(0)  # writer 1 holds "first"
    rest = [asyncio.create_task(writer.put(item)) for item in ("x", "y")]
    await asyncio.sleep(0)  # writer 2 takes both
    store.gate.set()
    await within(asyncio.gather(first, *rest))
    assert sorted(map(tuple, store.calls)) == [("first",), ("x", "y")]


async def test_items_still_queued_when_the_writer_is_cancelled_are_told_so() -> None:
    store = Store()
    writer = GroupWriter(store.write, name="test")
    store.gate.clear()
    puts = [asyncio.create_task(writer.put(0))]
    for _ in range(2):
        await asyncio.sleep(0)  # the writer starts and holds item 0
    puts += [asyncio.create_task(writer.put(item)) for item in (1, 2)]
    await asyncio.sleep(0)  # 1 and 2 wait in the queue
    for task in list(writer._tasks):
        task.cancel()
    results = await within(asyncio.gather(*puts, return_exceptions=True))
    assert all(isinstance(r, WriterStopped) for r in results)
    assert store.calls == []


def test_sizes_must_be_positive() -> None:
    with pytest.raises(ValueError):
        GroupWriter(Store().write, name="test", max_batch=0)


async def test_a_batch_that_met_an_outage_is_not_written_item_by_item() -> None:
    store = Store(down=True)
    writer = GroupWriter(store.write, name="test")
    results = await put_together(writer, store, list(range(4)))
    assert all(isinstance(r, ConnectionRefusedError) for r in results)
    assert store.attempts == 1  # the four together, none again alone (five attempts before)
    assert (writer.stats.failed_batches, writer.stats.alone) == (1, 0)


@pytest.mark.parametrize(
    ("error", "alone"),
    [
        # Cancelled at statement_timeout, or a lock not granted in time: alone, each would wait as long.
        (asyncpg.exceptions.QueryCanceledError("canceling statement due to statement timeout"), 0),
        (asyncpg.exceptions.LockNotAvailableError("canceling statement due to lock timeout"), 0),
        # A deadlock PostgreSQL broke by failing this side: alone, each goes through.
        (asyncpg.exceptions.DeadlockDetectedError("deadlock detected"), 4),
    ],
)
async def test_a_batch_the_server_cancelled_as_too_slow_is_not_written_item_by_item(
    error: Exception, alone: int
) -> None:
    """One by one, each item would have waited up to the time limit again, on a server already slow."""
    store = Store(slow=error)
    writer = GroupWriter(store.write, name="test")
    results = await put_together(writer, store, list(range(4)))
    assert sum(isinstance(r, DBAPIError) for r in results) == 4 - alone
    assert writer.stats.alone == alone

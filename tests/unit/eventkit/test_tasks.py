"""Coroutines run together: the first failure stops the others and comes out as it was raised, and
the caller is not left marked as being cancelled (asyncio.TaskGroup's way on Python 3.11)."""

from __future__ import annotations

import asyncio

import pytest

from eventkit.backoff import stop_if_cancelled
from eventkit.tasks import run_together


async def test_the_results_come_in_the_order_of_the_work() -> None:
    async def late(value: int) -> int:
        await asyncio.sleep(0.01 * value)
        return value

    assert await run_together(late(3), late(1), late(2)) == [3, 1, 2]


async def test_a_failure_after_the_others_finished_is_a_failure_not_a_stop() -> None:
    """A rebuild whose broker was unreachable read "cancelled: the service stopped": the group had
    marked the rebuild's task as being cancelled, and stop_if_cancelled took the error for a stop."""

    async def quick() -> None:
        await asyncio.sleep(0.01)

    async def unreachable() -> None:
        await asyncio.sleep(0.05)
        raise ConnectionError("the broker is unreachable")

    with pytest.raises(ConnectionError) as failed:
        await run_together(quick(), unreachable())
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]
    stop_if_cancelled(failed.value)  # raises nothing: not a stop


async def test_the_first_failure_cancels_the_work_still_running_and_waits_for_it() -> None:
    ended: list[str] = []

    async def endless() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            ended.append("endless")

    async def failing() -> None:
        await asyncio.sleep(0.01)
        raise ValueError("bad record")

    with pytest.raises(ValueError):
        await asyncio.wait_for(run_together(endless(), failing()), 5)
    assert ended == ["endless"]


async def test_cancelling_the_caller_cancels_every_piece_of_work() -> None:
    started, ended = asyncio.Event(), []

    async def endless(name: str) -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        finally:
            ended.append(name)

    caller = asyncio.create_task(run_together(endless("a"), endless("b")))
    await asyncio.wait_for(started.wait(), 5)
    caller.cancel()
    await asyncio.gather(caller, return_exceptions=True)
    assert caller.cancelled() and sorted(ended) == ["a", "b"]

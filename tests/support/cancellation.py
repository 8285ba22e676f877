"""Stopping in the middle of a call: a call the stop interrupts, and checks that what made it stops.

A cancellation that lands inside a driver's call can come out of it as the driver's own error (asyncpg,
SQLAlchemy, aiokafka and httpx have each done so); code that takes it for a failure retries instead of
stopping, and a service's stop waits its time out for it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from eventkit.runtime import ServiceRuntime


class InterruptedCall:
    """A call that never answers: it waits until it is cancelled, and reports the first cancellation as
    ``error`` when one is given, as a driver does whose operation the cancellation broke off.

    ``entered`` is set once the call is under way. Only the first cancellation is turned into the error,
    so that a test of code that takes it for a failure and calls again still ends."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error
        self.entered = asyncio.Event()
        self.turned = False

    async def __call__(self, *_args: Any, **_kwargs: Any) -> None:
        self.entered.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            if self.error is None or self.turned:
                raise
            self.turned = True
            raise self.error from None


async def stopped_when_cancelled(
    task: asyncio.Task[Any], entered: asyncio.Event, *, entering: float = 5, within: float = 2
) -> bool:
    """Whether ``task``, cancelled once it is in the interrupted call, ends as cancelled ``within`` seconds.

    ``entering`` bounds the wait for the call to be reached. A task still running is cancelled again and
    waited for, so that a failing test leaves nothing behind."""
    await asyncio.wait_for(entered.wait(), timeout=entering)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=within)
    if task not in done:
        task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return task in done and task.cancelled()


async def running_at_each_dispose(
    runtime: ServiceRuntime, task: asyncio.Task[Any], monkeypatch: pytest.MonkeyPatch
) -> list[bool]:
    """Stop ``runtime`` (2 s for its work to end) and say, for each engine it disposed of, whether
    ``task`` was still running then: work left running met a disposed pool."""
    running: list[bool] = []

    async def dispose(_engine: AsyncEngine, close: bool = True) -> None:
        running.append(not task.done())

    monkeypatch.setattr(AsyncEngine, "dispose", dispose)
    await asyncio.wait_for(runtime.stop(within=2), timeout=5)
    return running

"""Intake's group commit stops with the service: a stop is not a refused submission, and the service's
stop ends its writers before it disposes of their engine. (What it writes: tests/integration/intake.)"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.exc import PendingRollbackError
from sqlalchemy.ext.asyncio import AsyncEngine

from eventkit.batching import WriterStopped
from intake.adapters import group_commit as group_commit_module
from intake.adapters.group_commit import GroupCommit
from intake.bootstrap import create_app
from intake.settings import IntakeSettings
from tests.support.cancellation import InterruptedCall, running_at_each_dispose, stopped_when_cancelled

NOWHERE = "postgresql+asyncpg://u@127.0.0.1:1/x"  # never started: nothing connects


@dataclass(frozen=True)
class Submission:
    """Stands in for a NewSubmission: the group commit reads only its topic; the writes are fakes."""

    number: int
    topic: str = "intake.events"


class InterruptedWrites:
    """The statements: the first reports its cancellation as the driver's own error; those after it go
    through, and are recorded."""

    def __init__(self) -> None:
        self.first = InterruptedCall(PendingRollbackError("interrupted in the middle of the operation"))
        self.written: list[list[int]] = []

    async def together(self, _conn: Any, subs: list[Submission]) -> list[list[str]]:
        if not self.first.turned:
            await self.first()
        self.written.append([s.number for s in subs])
        return [[f"code-{s.number}"] for s in subs]

    async def alone(self, conn: Any, sub: Submission) -> list[str]:
        [codes] = await self.together(conn, [sub])
        return codes


@asynccontextmanager
async def no_connection(_engine: AsyncEngine) -> AsyncIterator[None]:
    yield


BATCHES = {
    "a batch": ([Submission(n) for n in range(3)], 2),
    "a batch of several topics": ([Submission(n, topic=f"t{n}") for n in range(3)], 3),
    "a submission alone": ([Submission(n) for n in range(3)], 1),
}


@pytest.mark.parametrize(("submissions", "max_batch"), BATCHES.values(), ids=BATCHES.keys())
async def test_the_group_commit_stops_when_its_cancellation_surfaces_as_a_database_error(
    submissions: list[Submission], max_batch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer took the stop for a refused batch or submission: it wrote the submissions again one
    by one (or went on to the next) after the stop, and their callers heard the driver's error instead
    of the service stopping."""
    writes = InterruptedWrites()
    monkeypatch.setattr(group_commit_module, "pooled_driver_connection", no_connection)
    monkeypatch.setattr(group_commit_module, "write_submissions", writes.together)
    monkeypatch.setattr(group_commit_module, "write_submission", writes.alone)
    group_commit = GroupCommit(None, max_batch=max_batch, writers=1)  # type: ignore[arg-type]
    submits = [asyncio.create_task(group_commit.submit(s)) for s in submissions]  # type: ignore[arg-type]
    await asyncio.wait_for(writes.first.entered.wait(), timeout=5)
    (writer,) = group_commit._tasks
    assert await stopped_when_cancelled(writer, writes.first.entered)
    results = await asyncio.gather(*submits, return_exceptions=True)
    assert all(isinstance(r, WriterStopped) for r in results), results
    assert writes.written == []


async def test_intake_s_stop_ends_the_group_commit_before_it_disposes_of_the_engine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The group commit's writers were none of the runtime's tasks: a write the stop found under way
    went on, on an engine the stop then disposed of, until the event loop itself ended it."""
    app = create_app(IntakeSettings(database_url=NOWHERE, kafka_bootstrap_servers="127.0.0.1:1"))
    group_commit: GroupCommit = app.state.group_commit
    write = InterruptedCall()
    monkeypatch.setattr(group_commit, "_write", write)
    submit = asyncio.create_task(group_commit.submit(Submission(1)))  # type: ignore[arg-type]
    await asyncio.wait_for(write.entered.wait(), timeout=5)
    (writer,) = group_commit._tasks
    assert await running_at_each_dispose(app.state.runtime, writer, monkeypatch) == [False, False]
    with pytest.raises(WriterStopped):
        await submit

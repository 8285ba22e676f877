"""Group commit: submissions that arrive while others are being written go together, as one statement
and one commit.

Every submission is its own statement and commit when they come one at a time. Under load, each
costs a round trip, a statement's execution, a commit (a WAL flush) and a pooled connection, in
intake and in PostgreSQL alike: at a few hundred per second those, not intake's own work, are most of
the cost. Here a submission joins a queue (:class:`eventkit.batching.WriterPool`); a writer task (at
most ``writers`` of them, started when something waits and gone when the queue is empty) takes
everything queued, up to ``max_batch``, and writes it with :func:`write_submissions`. Nothing waits
for a batch to fill: a submission arriving on an idle service is written at once, alone, with the
one-submission statement.

A batch is all or nothing. When PostgreSQL refuses it (a unique index: a duplicate open dossier, a
reused Idempotency-Key; a deadlock; a value it cannot store), nothing was written and no number
taken, and the writer writes those submissions one by one, so that each gets its own answer (its
codes, the stored reply, its refusal) exactly as if it had come alone: one bad submission costs its
neighbours nothing. Only a broken connection is every one's failure: whether the commit happened is
unknown, as for a single statement.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
from sqlalchemy.ext.asyncio import AsyncEngine

from eventkit.backoff import stop_if_cancelled
from eventkit.batching import Waiting, WriterPool
from eventkit.db import is_slow_or_blocked
from eventkit.logging import get_logger
from intake.adapters.submissions import connection_broke, pooled_driver_connection, write_submission, write_submissions
from intake.service_layer.ports import NewSubmission, StoredReply

log = get_logger(__name__)

Outcome = list[str] | StoredReply


@dataclass
class BatchStats:
    """What the writers did, for tests and metrics."""

    batches: int = 0  # statements that wrote more than one submission
    batched: int = 0  # submissions written in those
    alone: int = 0  # submissions written by themselves (alone in the queue, or after a refused batch)
    refused: int = 0  # batches PostgreSQL refused, written again one by one


class GroupCommit(WriterPool[NewSubmission, Outcome]):
    """Writes submissions on ``engine``'s pooled driver connections, several per statement under load."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        max_batch: int = 64,
        writers: int = 2,
        on_written: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(name="intake-group-commit", max_batch=max_batch, writers=writers)
        self._engine = engine
        self._on_written = on_written
        self.stats = BatchStats()

    async def submit(self, submission: NewSubmission) -> Outcome:
        """Write ``submission`` (alone or with others) once it is committed: its codes, or the reply
        stored under its Idempotency-Key; the driver's error or DuplicateDossier as for a lone write;
        eventkit's WriterStopped if the service stopped first."""
        return await self._put(submission)

    async def _write(self, batch: list[Waiting[NewSubmission, Outcome]]) -> None:
        # No connection, or it broke: the pool fails every waiter left, and its writer lives on.
        async with pooled_driver_connection(self._engine) as conn:
            if len(batch) > 1 and len({w.item.topic for w in batch}) == 1:
                await self._together(conn, batch)
            else:
                for waiting in batch:
                    await self._alone(conn, waiting)

    async def _together(self, conn: asyncpg.Connection, batch: list[Waiting[NewSubmission, Outcome]]) -> None:
        try:
            outcomes = await write_submissions(conn, [w.item for w in batch])
        except Exception as exc:
            stop_if_cancelled(exc)  # a stop is no refused batch: nothing is written one by one after it
            if connection_broke(exc):  # every one's failure: none goes on this connection
                raise
            if is_slow_or_blocked(exc):
                # No submission is at fault: one by one, each would wait as long again, on a server
                # already slow. Each is answered 503 (timeout, busy) to send again. (A deadlock is not
                # among them: alone, each goes through, as the docstring above says.)
                for waiting in batch:
                    waiting.fail(exc)
                return
            self.stats.refused += 1
            log.info("a batch of submissions was refused; writing them one by one", size=len(batch), error=str(exc))
            for waiting in batch:
                await self._alone(conn, waiting)
            return
        self.stats.batches += 1
        self.stats.batched += len(batch)
        self._written()
        for waiting, codes in zip(batch, outcomes, strict=True):
            waiting.settle(codes)

    async def _alone(self, conn: asyncpg.Connection, waiting: Waiting[NewSubmission, Outcome]) -> None:
        try:
            outcome = await write_submission(conn, waiting.item)
        except Exception as exc:
            stop_if_cancelled(exc)  # a stop is not this submission's refusal, and the next is not written
            if connection_broke(exc):  # every one's failure: none goes on this connection
                raise
            waiting.fail(exc)  # its own refusal (DuplicateDossier, a retryable conflict)
            return
        self.stats.alone += 1
        if isinstance(outcome, list):
            self._written()
        waiting.settle(outcome)

    def _written(self) -> None:
        if self._on_written is not None:
            self._on_written()  # committed with outbox rows: wake the relay

"""Unit of work: one database transaction holding a handler's event appends, outbox messages,
inbox record and read-model writes, committed together or not at all."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Protocol, Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.envelope import Envelope
from eventkit.eventstore import EventStore, InMemoryEventStore, PostgresEventStore, append_and_queue, topics_of
from eventkit.outbox import InMemoryOutbox, OnQueued, Outbox, PostgresOutbox, take_queued


class UnitOfWork(Protocol):
    """The port handlers receive."""

    events: EventStore
    outbox: Outbox

    async def record(
        self, stream_id: str, expected_version: int, envelopes: Sequence[Envelope], topic: str | Sequence[str | None]
    ) -> int:
        """Append to a stream and queue the same events for ``topic`` (or each for its own, None: stored only);
        returns the new version."""
        ...


class _Recording:
    """``record``, written once for the real and the fake unit of work."""

    events: EventStore
    outbox: Outbox

    async def record(
        self, stream_id: str, expected_version: int, envelopes: Sequence[Envelope], topic: str | Sequence[str | None]
    ) -> int:
        topics = topics_of(envelopes, topic)
        version = await self.events.append(stream_id, expected_version, envelopes)
        for envelope, name in zip(envelopes, topics, strict=True):  # in stream order, as the SQL outbox has them
            if name is not None:
                await self.outbox.add(name, [envelope])
        return version


class SqlUnitOfWork(_Recording):
    """A transaction on the service's database. Commits on a clean exit, rolls back otherwise.

    ``on_queued`` is called after a commit whose transaction queued outbox messages (the runtime
    passes the relay's wake-up, so they go out at once instead of at the relay's next poll).

    ``single_statement``: the work is one statement (a claim by ``UPDATE … RETURNING``, a read), which
    PostgreSQL makes atomic by itself, so it runs in autocommit without the BEGIN and COMMIT round
    trips. Never for several statements that must commit together.
    """

    def __init__(
        self, engine: AsyncEngine, *, on_queued: OnQueued | None = None, single_statement: bool = False
    ) -> None:
        self._engine = engine
        self._on_queued = on_queued
        self._single = single_statement
        self._conn: AsyncConnection | None = None

    @property
    def conn(self) -> AsyncConnection:
        """The transaction's connection, for the service's own read-model SQL."""
        if self._conn is None:
            raise RuntimeError("unit of work used outside 'async with'")
        return self._conn

    async def record(
        self, stream_id: str, expected_version: int, envelopes: Sequence[Envelope], topic: str | Sequence[str | None]
    ) -> int:
        """Append and queue in one statement (one round trip, each envelope serialised once)."""
        if envelopes:
            await append_and_queue(self.conn, stream_id, expected_version, envelopes, topic)
        return expected_version + len(envelopes)

    async def __aenter__(self) -> Self:
        # No BEGIN is sent here: the driver opens the transaction with the first statement.
        self._conn = await self._engine.connect()
        if self._single:
            self._conn = await self._conn.execution_options(isolation_level="AUTOCOMMIT")
        else:
            await self._conn.begin()
        self.events = PostgresEventStore(self._conn)
        self.outbox = PostgresOutbox(self._conn)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        conn, self._conn = self.conn, None
        committed = False
        try:
            if exc_type is None:
                await conn.commit()
                committed = True
            else:
                await conn.rollback()
        finally:
            try:
                queued = take_queued(conn)
            finally:
                await conn.close()  # back to the pool whatever happened, or the pool runs dry
        if committed and queued and self._on_queued is not None:
            self._on_queued()


class InMemoryUnitOfWork(_Recording):
    """Unit-of-work fake: shares one store and outbox across uses; rolls back queued messages.

    One transaction at a time. With one shared store there is nothing to keep two open transactions
    apart: each sees the other's uncommitted writes, and a rollback puts back the store as it was at
    entry, wiping out whatever the other committed meanwhile. A second ``async with`` while one is
    open is therefore refused, so that a test interleaving transactions fails instead of passing on
    false results; concurrency is tested against ``SqlUnitOfWork``. The services' fakes build on this
    one and snapshot their own tables the same way, so the refusal guards them too.
    """

    def __init__(self) -> None:
        self.events: InMemoryEventStore = InMemoryEventStore()
        self.outbox: InMemoryOutbox = InMemoryOutbox()
        self.committed = 0
        self._open = False

    async def __aenter__(self) -> Self:
        if self._open:
            raise RuntimeError(
                "the in-memory unit of work runs one transaction at a time: it cannot isolate overlapping"
                " transactions on its one shared store; test concurrency against SqlUnitOfWork"
            )
        self._open = True
        self._mark = len(self.outbox.messages)
        self._snapshot = {k: list(v) for k, v in self.events.streams.items()}
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._open = False
        if exc_type is None:
            self.committed += 1
            return
        del self.outbox.messages[self._mark :]
        self.events.streams = self._snapshot

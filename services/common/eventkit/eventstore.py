"""Append-only event streams with per-stream optimistic concurrency.

A stream is the history of one aggregate (e.g. one dossier). Appending with an expected
version succeeds only if nobody appended since that version was read; otherwise the writer
gets :class:`ConcurrencyConflict` and must reload and decide again. There is no global lock:
writers to different streams never wait for each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import orjson
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.envelope import Envelope


class ConcurrencyConflict(Exception):
    """Another writer appended to the stream after the caller read it."""

    def __init__(self, stream_id: str, expected: int, actual: int | None = None) -> None:
        detail = f", actual {actual}" if actual is not None else ""
        super().__init__(f"stream {stream_id!r}: expected version {expected}{detail}")
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


@dataclass(frozen=True)
class StoredEvent:
    """An envelope with its place in the stream and in the store."""

    stream_id: str
    stream_version: int
    position: int
    envelope: Envelope


@dataclass(frozen=True)
class Stream:
    """Every event of one stream, oldest first; ``version`` is 0 for a stream with no events."""

    stream_id: str
    events: list[StoredEvent] = field(default_factory=list)

    @property
    def version(self) -> int:
        return self.events[-1].stream_version if self.events else 0

    @property
    def envelopes(self) -> list[Envelope]:
        return [e.envelope for e in self.events]


class EventStore(Protocol):
    """The port: what handlers need from an event store."""

    async def load(self, stream_id: str, *, until: datetime | None = None) -> Stream:
        """The stream's events (those that occurred at or before ``until``, if given)."""
        ...

    async def append(self, stream_id: str, expected_version: int, events: Sequence[Envelope]) -> int:
        """Append after ``expected_version``; returns the new version or raises ConcurrencyConflict."""
        ...


class PostgresEventStore:
    """The event store on the service's ``events`` table, inside the caller's transaction."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def load(self, stream_id: str, *, until: datetime | None = None) -> Stream:
        query = (
            "SELECT stream_version, position, envelope::text FROM events WHERE stream_id = :s"
            + (" AND occurred_at <= :until" if until else "")
            + " ORDER BY stream_version"
        )
        params: dict[str, object] = {"s": stream_id}
        if until:
            params["until"] = until
        rows = await self._conn.execute(text(query), params)
        return Stream(
            stream_id,
            [StoredEvent(stream_id, v, p, Envelope.model_validate(orjson.loads(raw))) for v, p, raw in rows],
        )

    async def current_version(self, stream_id: str) -> int:
        """The stream's latest version, 0 when it has no events."""
        result = await self._conn.execute(
            text("SELECT coalesce(max(stream_version), 0) FROM events WHERE stream_id = :s"), {"s": stream_id}
        )
        return int(result.scalar_one())

    async def append(self, stream_id: str, expected_version: int, events: Sequence[Envelope]) -> int:
        if not events:
            return expected_version
        actual = await self.current_version(stream_id)
        if actual != expected_version:
            raise ConcurrencyConflict(stream_id, expected_version, actual)
        rows = [
            {
                "stream_id": stream_id,
                "stream_version": expected_version + i,
                "event_id": e.event_id,
                "event_type": e.type,
                "event_version": e.version,
                "occurred_at": e.occurred_at,
                "envelope": e.model_dump_json(),
            }
            for i, e in enumerate(events, start=1)
        ]
        try:
            # A savepoint keeps the caller's transaction usable after a lost race.
            async with self._conn.begin_nested():
                await self._conn.execute(
                    text(
                        "INSERT INTO events (stream_id, stream_version, event_id, event_type,"
                        " event_version, occurred_at, envelope) VALUES (:stream_id, :stream_version,"
                        " :event_id, :event_type, :event_version, :occurred_at, CAST(:envelope AS JSONB))"
                    ),
                    rows,
                )
        except IntegrityError as exc:
            # The unique (stream_id, stream_version) index caught a writer that appended
            # between our version check and our insert.
            raise ConcurrencyConflict(stream_id, expected_version) from exc
        return expected_version + len(events)


class InMemoryEventStore:
    """The same contract in memory, for unit tests of handlers."""

    def __init__(self) -> None:
        self.streams: dict[str, list[StoredEvent]] = {}
        self._position = 0

    async def load(self, stream_id: str, *, until: datetime | None = None) -> Stream:
        events = self.streams.get(stream_id, [])
        if until is not None:
            events = [e for e in events if e.envelope.occurred_at <= until]
        return Stream(stream_id, list(events))

    async def append(self, stream_id: str, expected_version: int, events: Sequence[Envelope]) -> int:
        stream = self.streams.setdefault(stream_id, [])
        actual = stream[-1].stream_version if stream else 0
        if actual != expected_version:
            raise ConcurrencyConflict(stream_id, expected_version, actual)
        known = {e.envelope.event_id for s in self.streams.values() for e in s}
        if any(e.event_id in known for e in events):
            raise ConcurrencyConflict(stream_id, expected_version, actual)
        for i, envelope in enumerate(events, start=1):
            self._position += 1
            stream.append(StoredEvent(stream_id, expected_version + i, self._position, envelope))
        return expected_version + len(events)

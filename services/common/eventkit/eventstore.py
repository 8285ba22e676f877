"""Append-only event streams with per-stream optimistic concurrency.

A stream is the history of one aggregate (e.g. one dossier). Appending with an expected
version succeeds only if nobody appended since that version was read; otherwise the writer
gets :class:`ConcurrencyConflict` and must reload and decide again. There is no global lock:
writers to different streams never wait for each other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, TypeVar

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.envelope import Envelope
from eventkit.logging import get_logger
from eventkit.outbox import check_size, mark_queued

log = get_logger(__name__)
T = TypeVar("T")


class ConcurrencyConflict(Exception):
    """Another writer appended to the stream after the caller read it."""

    def __init__(self, stream_id: str, expected: int, actual: int | None = None) -> None:
        detail = f", actual {actual}" if actual is not None else ""
        super().__init__(f"stream {stream_id!r}: expected version {expected}{detail}")
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


async def retrying_conflicts(
    attempt: Callable[[], Awaitable[T]],
    *,
    attempts: int,
    conflicts: tuple[type[Exception], ...] = (ConcurrencyConflict,),
    what: str,
) -> T:
    """``attempt()`` (a whole transaction) run again while another writer got in the way, up to
    ``attempts`` times in all; then the last conflict is raised. For requests that name no version of
    what they change: run again, they are decided on the newer state, as if they had come later."""
    for n in range(1, attempts + 1):
        try:
            return await attempt()
        except conflicts as exc:
            if n == attempts:
                raise
            log.info("concurrent writer; trying again", what=what, attempt=n, error=str(exc))
    raise AssertionError("unreachable")


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

    async def versions(self, stream_ids: Sequence[str]) -> dict[str, int]:
        """Each stream's latest version (0 for one with no events), without reading its events."""
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

    async def versions(self, stream_ids: Sequence[str]) -> dict[str, int]:
        versions = dict.fromkeys(stream_ids, 0)
        if versions:
            rows = await self._conn.execute(
                text(
                    "SELECT stream_id, max(stream_version) FROM events"
                    " WHERE stream_id = ANY(CAST(:s AS text[])) GROUP BY stream_id"
                ),
                {"s": list(versions)},
            )
            versions.update({stream_id: int(version) for stream_id, version in rows})
        return versions

    async def append(self, stream_id: str, expected_version: int, events: Sequence[Envelope]) -> int:
        if not events:
            return expected_version
        await append_and_queue(self._conn, stream_id, expected_version, events, topic=None)
        return expected_version + len(events)


# One round trip per append: the version check, the insert and (for ``record``) the outbox rows are one
# statement. The check reads the statement's snapshot; a writer that commits after it is caught by the
# unique (stream_id, stream_version) index, which ON CONFLICT DO NOTHING turns into missing rows instead
# of an error, so no savepoint is needed to keep the caller's transaction usable after a lost race.
_APPEND = """
WITH batch AS (
    SELECT * FROM unnest(CAST(:event_ids AS uuid[]), CAST(:types AS text[]), CAST(:versions AS int[]),
                         CAST(:occurred AS timestamptz[]), CAST(:keys AS text[]), CAST(:envelopes AS text[]),
                         CAST(:topics AS text[]))
        WITH ORDINALITY AS b(event_id, event_type, event_version, occurred_at, message_key, envelope, topic, n)
), current_version AS (
    SELECT coalesce(max(stream_version), 0) AS version FROM events WHERE stream_id = :stream_id
), appended AS (
    INSERT INTO events (stream_id, stream_version, event_id, event_type, event_version, occurred_at, envelope)
    SELECT :stream_id, :expected + b.n, b.event_id, b.event_type, b.event_version, b.occurred_at,
           CAST(b.envelope AS jsonb)
    FROM batch b, current_version c WHERE c.version = :expected ORDER BY b.n
    ON CONFLICT DO NOTHING
    RETURNING position
){queue}
SELECT (SELECT version FROM current_version), (SELECT array_agg(position) FROM appended)
"""
# Queued only when every event went in, in stream order (the relay publishes by outbox id); an event
# without a topic is stored only.
_QUEUE = """, queued AS (
    INSERT INTO outbox (topic, message_key, event_id, value)
    SELECT b.topic, b.message_key, b.event_id, convert_to(b.envelope, 'UTF8') FROM batch b
    WHERE b.topic IS NOT NULL AND (SELECT count(*) FROM appended) = :count ORDER BY b.n
)"""
_APPEND_ONLY = text(_APPEND.format(queue=""))
_APPEND_AND_QUEUE = text(_APPEND.format(queue=_QUEUE))


async def append_and_queue(
    conn: AsyncConnection,
    stream_id: str,
    expected_version: int,
    events: Sequence[Envelope],
    topic: str | Sequence[str | None] | None,
) -> None:
    """Append ``events`` after ``expected_version`` and, given a ``topic`` (or one per event, None for an
    event that is only stored), queue them on the outbox, in one statement; ConcurrencyConflict (leaving
    the transaction as it was) if the stream moved on."""
    topics = topics_of(events, topic)
    envelopes = [e.model_dump_json() for e in events]  # serialised once, for the store and the outbox
    for event, value, queued in zip(events, envelopes, topics, strict=True):
        if queued is not None:
            check_size(event, value)
    params: dict[str, object] = {
        "stream_id": stream_id,
        "expected": expected_version,
        "event_ids": [e.event_id for e in events],
        "types": [e.type for e in events],
        "versions": [e.version for e in events],
        "occurred": [e.occurred_at for e in events],
        "keys": [e.key for e in events],
        "envelopes": envelopes,
        "topics": topics,
    }
    statement = _APPEND_ONLY
    queues = any(t is not None for t in topics)
    if queues:
        statement, params["count"] = _APPEND_AND_QUEUE, len(events)
    actual, positions = (await conn.execute(statement, params)).one()
    if positions is not None and len(positions) == len(events):
        if queues:
            mark_queued(conn)
        return
    if positions:
        # Part of the batch went in (a writer appended fewer events than ours meanwhile, or an event id
        # was taken): take ours out again so the caller's transaction holds nothing of this append.
        await conn.execute(text("DELETE FROM events WHERE position = ANY(:p)"), {"p": positions})
    raise ConcurrencyConflict(stream_id, expected_version, None if actual == expected_version else actual)


def topics_of(events: Sequence[Envelope], topic: str | Sequence[str | None] | None) -> list[str | None]:
    """One topic (or None) per event, from one for all or a list of them."""
    if topic is None or isinstance(topic, str):
        return [topic] * len(events)
    if len(topic) != len(events):
        raise ValueError(f"{len(topic)} topics for {len(events)} events")
    return list(topic)


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

    async def versions(self, stream_ids: Sequence[str]) -> dict[str, int]:
        return {s: self.streams[s][-1].stream_version if self.streams.get(s) else 0 for s in stream_ids}

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


def record_ctes(rows: str, topic: str) -> str:
    """WITH-clauses (each starting with a comma) that append and queue events a statement computes itself.

    For a service whose events carry values only the database knows at commit (a gap-free number),
    so that the append, the outbox rows and the service's own writes are one statement. ``rows`` names
    a relation with the columns ord, stream_id, stream_version, event_id (uuid), event_type,
    event_version, occurred_at, message_key and envelope (the JSON text); ``topic`` is a SQL expression
    (a parameter). No version check: use it for versions nobody else can be writing (a new stream's
    first events, under ids the caller just made) — the unique index still refuses a duplicate.
    """
    return f"""
, appended_events AS (
    INSERT INTO events (stream_id, stream_version, event_id, event_type, event_version, occurred_at, envelope)
    SELECT stream_id, stream_version, event_id, event_type, event_version, occurred_at, CAST(envelope AS jsonb)
    FROM {rows} ORDER BY ord
), queued_events AS (
    INSERT INTO outbox (topic, message_key, event_id, value)
    SELECT {topic}, message_key, event_id, convert_to(envelope, 'UTF8') FROM {rows} ORDER BY ord
)"""

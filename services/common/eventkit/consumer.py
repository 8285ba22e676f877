"""The consumer loop: Kafka in, one database transaction per batch of a partition's events out.

The records of one partition are applied in offset order, several per transaction: the transaction
records the batch's event ids in the inbox, runs each new event's handler in turn and commits once,
so the connection checkout, BEGIN, inbox write and COMMIT (with its fsync) are paid per batch rather
than per event. A batch holds its handlers' row and advisory locks until it commits, and an HTTP
request waiting for one of them waits for the whole batch, so a batch is sized to last about
``batch_max_seconds`` at the pace of the recent ones (and to hold at most ``batch_size`` events),
but never fewer than ``batch_min_size`` of the events waiting: the pace is wall time, which grows
when the machine's cores are saturated, and would otherwise shrink batches to one event exactly
when batching saves the most (a fifth of the stack's CPU per birth bundle, measured at 50/s).

A redelivered event finds its id in the inbox and has no second effect. Offsets are committed to
Kafka only after the transactions commit, so a crash means redelivery, never loss. When a handler
fails, the batch is rolled back and split around that event: the events before it are applied again
as a batch, the failing one alone in a transaction of its own with bounded retries (after which it
goes to ``<topic>.dlq`` and the ``dead_letters`` table), and the events after it as a batch, so one
poison event costs its neighbours nothing. An unreachable database is waited out instead, since
dead-lettering healthy events would lose them, and so is a concurrent transaction in the way (a
deadlock PostgreSQL broke by failing this side, a lock not granted within ``lock_timeout``).

Handlers of one batch share its unit of work and connection: each sees what the events before it
wrote, as it would after their commits, and none may keep state on the unit of work between events.
A :class:`BatchDispatcher` instead hands all of a transaction's new events to one call.
"""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.envelope import Envelope, is_known_type, payload_model
from contracts.topics import dead_letter_topic
from eventkit.backoff import backoff_delay, stop_if_cancelled
from eventkit.db import is_contention, is_statement_timeout, is_unavailable, ping
from eventkit.eventstore import ConcurrencyConflict
from eventkit.kafka import KafkaPublisher
from eventkit.logging import get_logger
from eventkit.outbox import OnQueued, OutgoingMessage
from eventkit.uow import SqlUnitOfWork

log = get_logger(__name__)

Handler = Callable[[Envelope, SqlUnitOfWork], Awaitable[None]]
BatchHandler = Callable[[Sequence[Envelope], SqlUnitOfWork], Awaitable[None]]
#: A record whose envelope parsed and whose type has a handler.
_Item = tuple[ConsumerRecord, Envelope]

# The inbox rows of one event or a batch in one statement; the ids it returns are the events not applied before.
_INBOX = (
    'INSERT INTO inbox (consumer, event_id, topic, partition, "offset")'
    " SELECT :c, u.e, u.t, u.p, u.o FROM unnest(CAST(:e AS uuid[]), CAST(:t AS text[]), CAST(:p AS int[]),"
    " CAST(:o AS bigint[])) AS u(e, t, p, o) ON CONFLICT DO NOTHING RETURNING event_id"
)
T = TypeVar("T")

#: What :meth:`InboxConsumer._apply_batch` returns when a batch handler failed: somewhere in the batch.
_SOMEWHERE = -1

#: Records a dead letter unless this consumer already did for these bytes at this position (a
#: redelivery; a reused offset with other bytes, after a broker that keeps nothing restarted, is another
#: letter). Returns the letter's id, when the DLQ topic got it, and whether it was recorded now.
_DEAD = (
    "WITH found AS (SELECT id, published_at FROM dead_letters WHERE consumer = :c AND topic = :t"
    ' AND partition = :p AND "offset" = :o AND value = :v ORDER BY id LIMIT 1),'
    ' made AS (INSERT INTO dead_letters (consumer, topic, partition, "offset", message_key, event_id, event_type,'
    " error, attempts, value) SELECT :c, :t, :p, :o, :k, :e, :et, :err, :n, :v WHERE NOT EXISTS (SELECT 1 FROM found)"
    " RETURNING id, published_at)"
    " SELECT id, published_at, true FROM made UNION ALL SELECT id, published_at, false FROM found"
)
_PUBLISHED = "UPDATE dead_letters SET published_at = now() WHERE id = :id"


class Dispatcher:
    """Routes envelopes to handlers by event type; types without a handler are skipped."""

    def __init__(self, handlers: Mapping[str, Handler]) -> None:
        self._handlers = dict(handlers)

    def handles(self, event_type: str) -> bool:
        return event_type in self._handlers

    async def __call__(self, envelope: Envelope, uow: SqlUnitOfWork) -> None:
        await self._handlers[envelope.type](envelope, uow)

    async def prepare(self, envelopes: Sequence[Envelope], uow: SqlUnitOfWork) -> None:
        """Called in each transaction before its events' handlers, with those events (duplicates
        left out): the place to take the locks they will need in a fixed order, so that two
        transactions needing the same rows cannot each hold one and wait for the other."""


class BatchDispatcher(Dispatcher):
    """One handler for a transaction's new events of the given types, all at once and in order.

    For a handler whose statements cost the same for one event as for a hundred (a projection
    that loads, changes and saves its rows per batch). A failing call cannot say which event
    failed: the consumer then applies the batch in halves, so a poison event is still isolated, at
    the price of a few rolled-back transactions (about twice the halvings).
    """

    def __init__(self, event_types: Iterable[str], handler: BatchHandler) -> None:
        super().__init__({})
        self._types = frozenset(event_types)
        self._batch_handler = handler

    def handles(self, event_type: str) -> bool:
        return event_type in self._types

    async def __call__(self, envelope: Envelope, uow: SqlUnitOfWork) -> None:
        await self._batch_handler([envelope], uow)

    async def apply_all(self, envelopes: Sequence[Envelope], uow: SqlUnitOfWork) -> None:
        await self._batch_handler(envelopes, uow)


@dataclass
class ConsumerStats:
    processed: int = 0
    duplicates: int = 0
    skipped: int = 0
    dead_lettered: int = 0


class _LogRebalance(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka ships no type hints for it
    def __init__(self, consumer: str) -> None:
        self._consumer = consumer

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        if revoked:
            log.info("partitions revoked", consumer=self._consumer, partitions=_partitions(revoked))

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        log.info("partitions assigned", consumer=self._consumer, partitions=_partitions(assigned))


def error_header(error: str, limit: int = 4000) -> bytes:
    """A dead letter's ``error`` header: at most ``limit`` bytes of UTF-8, cut between characters.
    Bytes, not characters: 4,000 Vietnamese letters are up to 12 kB, past the room a message at the
    outbox's size limit leaves for the headers (the broker refuses it, and the partition waits)."""
    return error.encode()[:limit].decode(errors="ignore").encode()


def describe_error(exc: BaseException) -> str:
    """What a failed event's error is logged and dead-lettered with: its type and message. A pydantic
    ValidationError is told by each problem's location, message and type, without the values it
    refused: its own text quotes them (``input_value={'id_number': …, 'phone': '09…'}``), and they are
    the event's payload, so a citizen's phone or id number went in clear to the ERROR log, the
    dead_letters table and the DLQ header (the log's redaction masks keys, not text)."""
    if not isinstance(exc, ValidationError):
        text = "".join(traceback.format_exception_only(exc)).strip()
        # PostgreSQL's DETAIL line quotes the row a constraint refused ("Key (id_number)=(036…)"),
        # which the engine's hide_parameters does not hide.
        return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("DETAIL:"))
    problems = []
    for error in exc.errors(include_url=False, include_context=False, include_input=False):
        where = ".".join(map(str, error["loc"]))  # none: the whole message (JSON that does not parse)
        problems.append(f"{where + ': ' if where else ''}{error['msg']} [type={error['type']}]")
    count = len(problems)
    return f"ValidationError: {count} validation error{'s' * (count != 1)} for {exc.title}: {'; '.join(problems)}"


def _partitions(tps: Iterable[TopicPartition]) -> str:
    return ", ".join(sorted(f"{tp.topic}[{tp.partition}]" for tp in tps)) or "none"


class InboxConsumer:
    """One consumer group member applying events from ``topics`` through ``dispatcher``."""

    def __init__(
        self,
        engine: AsyncEngine,
        dispatcher: Dispatcher,
        publisher: KafkaPublisher,
        *,
        name: str,
        topics: list[str],
        bootstrap_servers: str,
        group_id: str | None = None,
        max_attempts: int = 5,
        retry_base_seconds: float = 0.05,
        batch_size: int = 100,
        batch_max_seconds: float = 0.05,
        batch_min_size: int = 1,
        after_commit: Callable[[], None] | None = None,
        on_queued: OnQueued | None = None,
        session_timeout_ms: int = 6000,
        heartbeat_interval_ms: int = 2000,
        fetch_max_wait_ms: int = 50,
        max_poll_interval_ms: int = 15 * 60 * 1000,
        progress_commit_seconds: float = 10.0,
    ) -> None:
        self.name = name
        self.topics = topics
        self.stats = ConsumerStats()
        self._engine = engine
        self._dispatch = dispatcher
        self._publisher = publisher
        self._bootstrap = bootstrap_servers
        self._group = group_id or name
        self._max_attempts = max_attempts
        self._batch_size = max(batch_size, 1)
        self._batch_min = min(max(batch_min_size, 1), self._batch_size)
        self._batch_seconds = batch_max_seconds
        self._seconds_per_event = 0.0  # the recent pace; 0 until a transaction was measured
        self._retry_base = retry_base_seconds
        self._after_commit = after_commit  # after a transaction that applied events
        self._on_queued = on_queued  # after one whose handlers queued outbox messages (the relay's wake-up)
        self._consumer: AIOKafkaConsumer | None = None
        # A shorter session than Kafka's default: a crashed member's partitions move sooner
        # (and the Tansu broker holds a join for half the session timeout).
        self._session_timeout_ms = session_timeout_ms
        self._heartbeat_ms = heartbeat_interval_ms
        # Kafka answers a waiting fetch as soon as data arrives; the embedded broker (Tansu) holds a
        # fetch over several partitions for its whole wait, so this bounds each hop's latency on a
        # quiet topic (500, aiokafka's default, made a hop 100–250 ms). Idle cost: ~1.5% of a core.
        self._fetch_max_wait_ms = fetch_max_wait_ms
        # The longest one fetch's records may take before this member is taken for dead and leaves its
        # group. aiokafka's 5 minutes is two poison events' worth (each tried in its batch, then
        # alone, every try up to the statement limit): the member left, its commit failed, and the
        # next one met the same events and the same fate, the partition stalled for good.
        self._max_poll_interval_ms = max_poll_interval_ms
        self.progress_commit_seconds = progress_commit_seconds

    @property
    def connected(self) -> bool:
        return self._consumer is not None

    async def lag(self) -> int | None:
        """Messages between this member's positions and the ends of its partitions; None while it is
        not connected, or while one of its partitions cannot be told (its end unknown before its first
        fetch, its position not given within a second).

        Not 0: a member still joining, or cut off from the broker, has consumed nothing, and a lag of 0
        said it was keeping up exactly when it was not. Nor the sum of the partitions it could tell,
        which understates the lag of the one it cannot."""
        consumer = self._consumer
        if consumer is None:
            return None
        partitions = list(consumer.assignment())
        ends = [consumer.highwater(tp) for tp in partitions]
        if None in ends:
            return None
        try:
            # At once, within one second in all: asked one after the other, a broker that does not
            # answer kept a scrape waiting a second per partition.
            positions = await asyncio.wait_for(asyncio.gather(*(consumer.position(tp) for tp in partitions)), timeout=1)
        except (TimeoutError, KafkaError):
            return None
        total: int = sum(max(end - position, 0) for end, position in zip(ends, positions, strict=True))
        return total

    def client_config(self) -> dict[str, Any]:
        """What the Kafka client is built with: offsets committed by us, after each transaction."""
        return {
            "bootstrap_servers": self._bootstrap,
            "group_id": self._group,
            "client_id": self.name,
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            "session_timeout_ms": self._session_timeout_ms,
            "heartbeat_interval_ms": self._heartbeat_ms,
            "fetch_max_wait_ms": self._fetch_max_wait_ms,
            "max_poll_interval_ms": self._max_poll_interval_ms,
        }

    async def _connect(self) -> AIOKafkaConsumer:
        attempt = 0
        while True:
            consumer = AIOKafkaConsumer(**self.client_config())
            # Which partitions this member holds, logged at every rebalance: a partition nobody
            # consumes shows as missing from every member's line.
            consumer.subscribe(self.topics, listener=_LogRebalance(self.name))
            try:
                await consumer.start()
                log.info("consumer started", consumer=self.name, topics=self.topics)
                return consumer
            except KafkaError as exc:
                await consumer.stop()
                stop_if_cancelled(exc)  # a stop the client turned into its own error is a stop, as in run
                attempt += 1
                if attempt == 1 or attempt % 20 == 0:
                    log.warning("consumer cannot reach the broker", consumer=self.name, error=repr(exc))
                await asyncio.sleep(backoff_delay(attempt, base=0.2, cap=5.0))

    async def run(self) -> None:
        """Consume until cancelled. A Kafka error the client does not recover from by itself (an
        unexpected answer to a group request, a corrupt record) ends the session, not the consumer:
        it joins again and resumes from the committed offsets; the inbox skips what was applied."""
        lost = 0
        while True:
            self._consumer = await self._connect()
            joined = time.monotonic()
            try:
                await self._consume(self._consumer)
            except KafkaError as exc:
                stop_if_cancelled(exc)
                lost = 1 if time.monotonic() - joined > 60 else lost + 1
                # An error that comes back every time (an authorisation the broker refuses, a record
                # too large) keeps the partition unread: said louder once it looks like one.
                report = log.error if lost >= 5 else log.warning
                report("consumer session failed; joining again", consumer=self.name, error=repr(exc), times=lost)
            finally:
                consumer, self._consumer = self._consumer, None
                await consumer.stop()
            await asyncio.sleep(backoff_delay(lost, base=0.5, cap=10.0))

    async def _consume(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            batches = await self._fetch(consumer)
            for tp, records in batches.items():
                start, saved = 0, time.monotonic()
                while start < len(records):
                    size = self._next_batch_size()
                    await self.process(records[start : start + size])
                    start += size
                    if start < len(records) and time.monotonic() - saved >= self.progress_commit_seconds:
                        # Slow going (events tried alone, dead-lettered after their attempts): what is
                        # done is saved, so that a session lost meanwhile does not bring it all back.
                        await self._commit(tp, records[start - 1].offset + 1)
                        saved = time.monotonic()
                await self._commit(tp, records[-1].offset + 1)

    async def _fetch(self, consumer: AIOKafkaConsumer) -> dict[TopicPartition, list[ConsumerRecord]]:
        batches: dict[TopicPartition, list[ConsumerRecord]] = await consumer.getmany(timeout_ms=500, max_records=500)
        return batches

    def _next_batch_size(self) -> int:
        """As many events as fit in ``batch_max_seconds`` at the recent pace, ``batch_min_size`` to ``batch_size``."""
        if self._seconds_per_event <= 0:
            return self._batch_size
        return max(self._batch_min, min(self._batch_size, int(self._batch_seconds / self._seconds_per_event)))

    def _measured(self, started: float, events: int) -> None:
        """Fold a committed transaction's seconds per event into the pace (halving the old one's weight)."""
        pace = (time.monotonic() - started) / events
        self._seconds_per_event = pace if self._seconds_per_event <= 0 else (self._seconds_per_event + pace) / 2

    async def _commit(self, tp: TopicPartition, offset: int) -> None:
        assert self._consumer is not None
        try:
            await self._consumer.commit({tp: offset})
        except (CommitFailedError, KafkaError) as exc:
            # A rebalance took the partition away; its new owner redelivers, the inbox dedups.
            log.info("offset commit failed; events will be redelivered", error=repr(exc), consumer=self.name)

    async def process(self, records: Sequence[ConsumerRecord]) -> None:
        """Apply a partition's records in order, each exactly once, or dead-letter them."""
        pending: list[_Item] = []
        for record in records:
            try:
                envelope = Envelope.from_json(record.value)
            except (ValidationError, ValueError, TypeError) as exc:
                await self._apply_in_order(pending)  # what came before is applied before it is dead-lettered
                pending = []
                await self._dead_letter(record, None, f"malformed envelope: {describe_error(exc)}", attempts=1)
                continue
            known = is_known_type(envelope.type)
            if not self._dispatch.handles(envelope.type) and known:
                self.stats.skipped += 1  # a type this consumer has no use for
            elif payload_model(envelope.type, envelope.version) is None:
                # A type, or a version of one this consumer handles, this build does not know (a
                # producer upgraded first). Skipped, it would be recorded as applied and lost for good
                # to this consumer's upgrade; dead-lettered, it is replayed once that runs (consumers
                # with no use for it skip it then).
                await self._apply_in_order(pending)
                pending = []
                unknown = f"{envelope.type} version {envelope.version}" if known else f"event type {envelope.type}"
                error = f"{unknown} is unknown to this build: replay it after upgrading"
                await self._dead_letter(record, envelope, error, attempts=1)
            else:
                pending.append((record, envelope))
        await self._apply_in_order(pending)

    async def _apply_in_order(self, items: list[_Item]) -> None:
        """One transaction for all ``items`` or, when a handler fails, split around its event; when a
        batch handler fails (it cannot say which event), in halves, until the failing one is alone:
        a few rolled-back transactions. Peeling one event off the front instead cost a batch of 100
        with a poison event at its end 199 transactions and 5,049 events applied and rolled back,
        each holding its rows' locks."""
        while items:
            if len(items) == 1:
                await self._apply_alone(*items[0])
                return
            failed = await self._apply_batch(items)
            if failed is None:
                return
            if failed == _SOMEWHERE:
                middle = len(items) // 2
                await self._apply_in_order(items[:middle])
                await self._apply_in_order(items[middle:])
                return
            await self._apply_in_order(items[:failed])
            await self._apply_alone(*items[failed])
            items = items[failed + 1 :]

    async def _apply_batch(self, items: list[_Item]) -> int | None:
        """Apply ``items`` in one transaction: None once committed, else the index of the item to
        apply alone (the failing handler's, or the first when the inbox write or commit failed), or
        :data:`_SOMEWHERE` when a batch handler failed."""
        while True:
            failed = 0  # whose handler runs; the first item's while the inbox write or the commit runs
            applied = 0
            started = time.monotonic()
            try:
                async with SqlUnitOfWork(self._engine, on_queued=self._on_queued) as uow:
                    fresh = await self._record_batch(uow, items)
                    todo: list[tuple[int, Envelope]] = []
                    for index, (_, envelope) in enumerate(items):
                        if envelope.event_id in fresh:
                            fresh.discard(envelope.event_id)  # a second copy in the batch is a duplicate
                            todo.append((index, envelope))
                    envelopes = [envelope for _, envelope in todo]
                    if envelopes:
                        await self._dispatch.prepare(envelopes, uow)
                    if isinstance(self._dispatch, BatchDispatcher) and envelopes:
                        failed = _SOMEWHERE if len(todo) > 1 else todo[0][0]
                        await self._dispatch.apply_all(envelopes, uow)
                    else:
                        for index, envelope in todo:
                            failed = index
                            await self._dispatch(envelope, uow)
                    applied = len(todo)
                    failed = 0  # a failing commit is no one event's fault
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                stop_if_cancelled(exc)
                if is_unavailable(exc):
                    log.warning("database unavailable; retrying", consumer=self.name, error=repr(exc))
                    await asyncio.sleep(backoff_delay(2, base=0.5, cap=5.0))
                    continue
                record, envelope = items[max(failed, 0)]
                log.info(
                    "batch rolled back; applying its failing event alone"
                    if failed != _SOMEWHERE
                    else "batch rolled back; applying it in halves to find its failing event",
                    **self._where(record, envelope),
                    error=describe_error(exc),  # a payload that does not validate fails here first
                )
                return failed
            self._measured(started, len(items))
            self._committed(applied, duplicates=len(items) - applied)
            return None

    async def _record_batch(self, uow: SqlUnitOfWork, items: list[_Item]) -> set[UUID]:
        """Record each distinct event id of the batch (at its first offset); returns the new ones."""
        first: dict[UUID, ConsumerRecord] = {}
        for record, envelope in items:
            first.setdefault(envelope.event_id, record)
        params = {
            "c": self.name,
            "e": list(first),
            "t": [r.topic for r in first.values()],
            "p": [r.partition for r in first.values()],
            "o": [r.offset for r in first.values()],
        }
        return set((await uow.conn.execute(text(_INBOX), params)).scalars())

    def _committed(self, applied: int, *, duplicates: int) -> None:
        self.stats.processed += applied
        self.stats.duplicates += duplicates
        if applied and self._after_commit:
            self._after_commit()

    async def _apply_alone(self, record: ConsumerRecord, envelope: Envelope) -> None:
        """Apply one event in a transaction of its own, with bounded retries, or dead-letter it."""
        attempt = contended = overloaded = 0
        while True:
            attempt += 1
            started = time.monotonic()
            try:
                applied = await self._apply(record, envelope)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                stop_if_cancelled(exc)
                if is_unavailable(exc):
                    attempt -= 1  # not the event's fault: wait for the database, do not give up
                    log.warning("database unavailable; retrying", consumer=self.name, error=repr(exc))
                    await asyncio.sleep(backoff_delay(2, base=0.5, cap=5.0))
                    continue
                if is_contention(exc) or isinstance(exc, ConcurrencyConflict):
                    # Nor is another transaction in the way (a deadlock, a lock not granted in time, an
                    # official's decision appended to the same stream first): counted, it could
                    # dead-letter a good event because of what ran beside it.
                    attempt -= 1
                    contended += 1
                    log.warning("a concurrent transaction got in the way; retrying", **self._where(record, envelope),
                                error=repr(exc), times=contended)  # fmt: skip
                    await asyncio.sleep(backoff_delay(contended, base=self._retry_base, cap=2.0))
                    continue
                if is_statement_timeout(exc) and not await self._answers_at_once():
                    # Cancelled as too slow while even a bare round trip is slow: the server is
                    # overloaded, not this event's statement. Waited out like an outage, lest every
                    # partition's next event go to the dead letters.
                    attempt -= 1
                    overloaded += 1
                    log.warning("database overloaded; retrying", **self._where(record, envelope), error=repr(exc))
                    await asyncio.sleep(backoff_delay(overloaded, base=0.5, cap=30.0))
                    continue
                if attempt >= self._max_attempts:
                    await self._dead_letter(record, envelope, describe_error(exc), attempts=attempt)
                    return
                await asyncio.sleep(backoff_delay(attempt, base=self._retry_base, cap=2.0))
                continue
            self._measured(started, 1)
            self._committed(int(applied), duplicates=int(not applied))
            return

    async def _answers_at_once(self) -> bool:
        """Whether the database answers a bare round trip within a second."""
        try:
            await asyncio.wait_for(ping(self._engine), timeout=1.0)
        except Exception as exc:
            stop_if_cancelled(exc)
            return False
        return True

    async def _apply(self, record: ConsumerRecord, envelope: Envelope) -> bool:
        async with SqlUnitOfWork(self._engine, on_queued=self._on_queued) as uow:
            if not await self._record_batch(uow, [(record, envelope)]):
                return False
            await self._dispatch.prepare([envelope], uow)
            await self._dispatch(envelope, uow)
            return True

    def _where(self, record: ConsumerRecord, envelope: Envelope | None) -> dict[str, object]:
        """The log fields that locate an event."""
        return {
            "consumer": self.name,
            "topic": record.topic,
            "partition": record.partition,
            "offset": record.offset,
            "event_type": envelope.type if envelope else None,
        }

    async def _dead_letter(
        self, record: ConsumerRecord, envelope: Envelope | None, error: str, *, attempts: int
    ) -> None:
        log.error("event dead-lettered", **self._where(record, envelope), error=error)
        # Whatever the record holds must fit the table, or recording it would be retried for ever and
        # block the partition: PostgreSQL text takes no NUL, and the value column no null (a tombstone).
        key = _storable(record.key.decode(errors="replace")) if record.key else ""
        error = _storable(error)
        params = {
            "c": self.name,
            "t": record.topic,
            "p": record.partition,
            "o": record.offset,
            "k": key,
            "e": envelope.event_id if envelope else None,
            "et": _storable(envelope.type) if envelope else None,  # a type with a NUL is unknown, not storable
            "err": error[:4000],
            "n": attempts,
            "v": record.value if record.value is not None else b"",
        }
        headers = [
            ("error", error_header(error)),
            ("consumer", self.name.encode()),
            ("original-topic", record.topic.encode()),
            ("original-partition", str(record.partition).encode()),
            ("original-offset", str(record.offset).encode()),
            ("attempts", str(attempts).encode()),
        ]
        message = OutgoingMessage(dead_letter_topic(record.topic), key, record.value, "")
        letter, published, new = await self._retry_until_done(self._record_dead_letter, params)
        if published is None:  # new, or left so by a process stopped between recording and publishing
            await self._retry_until_done(self._publisher.publish, [message], headers=headers)
            await self._retry_until_done(self._mark_published, letter)
        if new:  # counted once all is done: the record's offset may be committed from here on
            self.stats.dead_lettered += 1
        else:
            log.info("already dead-lettered: redelivered", **self._where(record, envelope))
            self.stats.duplicates += 1

    async def _record_dead_letter(self, params: dict[str, object]) -> tuple[int, datetime | None, bool]:
        """Record the dead letter unless it is there: its id, when it was published, whether it is new."""
        async with self._engine.begin() as conn:
            letter, published, new = (await conn.execute(text(_DEAD), params)).one()
            return letter, published, new

    async def _mark_published(self, letter: int) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(text(_PUBLISHED), {"id": letter})

    async def _retry_until_done(self, action: Callable[..., Awaitable[T]], *args: object, **kw: object) -> T:
        attempt = 0
        while True:
            try:
                return await action(*args, **kw)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                stop_if_cancelled(exc)
                attempt += 1
                log.warning("cannot dead-letter yet; retrying", error=repr(exc), consumer=self.name)
                await asyncio.sleep(backoff_delay(attempt, base=0.2, cap=5.0))


def _storable(text: str) -> str:
    """``text`` as PostgreSQL's text takes it: no NUL, no lone surrogate (each becomes U+FFFD or ?)."""
    return text.encode("utf-8", errors="replace").decode("utf-8").replace("\x00", "\ufffd")

"""The consumer loop: Kafka in, one database transaction per event out.

For each message the handler runs inside a unit of work that first records the event id in
the inbox; a redelivered event finds its id there and has no second effect. Offsets are
committed to Kafka only after the transaction commits, so a crash means redelivery, never
loss. A handler that keeps failing sends the event to ``<topic>.dlq`` (and the
``dead_letters`` table) after bounded retries and the partition moves on; an unreachable
database is waited out instead, since dead-lettering healthy events would lose them.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.envelope import Envelope
from contracts.topics import dead_letter_topic
from eventkit.backoff import backoff_delay
from eventkit.kafka import KafkaPublisher
from eventkit.logging import get_logger
from eventkit.outbox import OutgoingMessage
from eventkit.uow import SqlUnitOfWork

log = get_logger(__name__)

Handler = Callable[[Envelope, SqlUnitOfWork], Awaitable[None]]

_INBOX = (
    'INSERT INTO inbox (consumer, event_id, topic, partition, "offset")'
    " VALUES (:c, :e, :t, :p, :o) ON CONFLICT DO NOTHING RETURNING 1"
)
_DEAD = (
    'INSERT INTO dead_letters (consumer, topic, partition, "offset", message_key, event_id, event_type,'
    " error, attempts, value) VALUES (:c, :t, :p, :o, :k, :e, :et, :err, :n, :v)"
)


class Dispatcher:
    """Routes envelopes to handlers by event type; types without a handler are skipped."""

    def __init__(self, handlers: Mapping[str, Handler]) -> None:
        self._handlers = dict(handlers)

    def handles(self, event_type: str) -> bool:
        return event_type in self._handlers

    async def __call__(self, envelope: Envelope, uow: SqlUnitOfWork) -> None:
        await self._handlers[envelope.type](envelope, uow)


def _is_infrastructure_error(exc: BaseException) -> bool:
    if isinstance(exc, OperationalError | InterfaceError | ConnectionError | OSError | TimeoutError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


@dataclass
class ConsumerStats:
    processed: int = 0
    duplicates: int = 0
    skipped: int = 0
    dead_lettered: int = 0


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
        after_commit: Callable[[], None] | None = None,
        session_timeout_ms: int = 6000,
        heartbeat_interval_ms: int = 2000,
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
        self._retry_base = retry_base_seconds
        self._after_commit = after_commit
        self._consumer: AIOKafkaConsumer | None = None
        # A shorter session than Kafka's default: a crashed member's partitions move sooner
        # (and the Tansu broker holds a join for half the session timeout).
        self._session_timeout_ms = session_timeout_ms
        self._heartbeat_ms = heartbeat_interval_ms

    @property
    def connected(self) -> bool:
        return self._consumer is not None

    async def lag(self) -> int:
        """Messages between this member's positions and the ends of its partitions."""
        consumer = self._consumer
        if consumer is None:
            return 0
        total = 0
        for tp in consumer.assignment():
            end = consumer.highwater(tp)
            if end is None:
                continue
            try:
                position = await asyncio.wait_for(consumer.position(tp), timeout=1)
            except (TimeoutError, KafkaError):
                continue
            total += max(end - position, 0)
        return total

    async def _connect(self) -> AIOKafkaConsumer:
        attempt = 0
        while True:
            consumer = AIOKafkaConsumer(
                *self.topics,
                bootstrap_servers=self._bootstrap,
                group_id=self._group,
                client_id=self.name,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                session_timeout_ms=self._session_timeout_ms,
                heartbeat_interval_ms=self._heartbeat_ms,
            )
            try:
                await consumer.start()
                log.info("consumer started", consumer=self.name, topics=self.topics)
                return consumer
            except KafkaError as exc:
                await consumer.stop()
                attempt += 1
                if attempt == 1 or attempt % 20 == 0:
                    log.warning("consumer cannot reach the broker", consumer=self.name, error=repr(exc))
                await asyncio.sleep(backoff_delay(attempt, base=0.2, cap=5.0))

    async def run(self) -> None:
        self._consumer = await self._connect()
        try:
            while True:
                batches = await self._consumer.getmany(timeout_ms=500, max_records=500)
                for tp, records in batches.items():
                    for record in records:
                        await self.process(record)
                    await self._commit(tp, records[-1].offset + 1)
        finally:
            consumer, self._consumer = self._consumer, None
            await consumer.stop()

    async def _commit(self, tp: TopicPartition, offset: int) -> None:
        assert self._consumer is not None
        try:
            await self._consumer.commit({tp: offset})
        except (CommitFailedError, KafkaError) as exc:
            # A rebalance took the partition away; its new owner redelivers, the inbox dedups.
            log.info("offset commit failed; events will be redelivered", error=repr(exc), consumer=self.name)

    async def process(self, record: ConsumerRecord) -> None:
        """Apply one message exactly once, or dead-letter it."""
        try:
            envelope = Envelope.from_json(record.value)
        except (ValidationError, ValueError, TypeError) as exc:
            await self._dead_letter(record, None, f"malformed envelope: {exc}", attempts=1)
            return
        if not self._dispatch.handles(envelope.type):
            self.stats.skipped += 1
            return
        attempt = 0
        while True:
            attempt += 1
            try:
                applied = await self._apply(record, envelope)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if _is_infrastructure_error(exc):
                    attempt -= 1  # not the event's fault: wait for the database, do not give up
                    log.warning("database unavailable; retrying", consumer=self.name, error=repr(exc))
                    await asyncio.sleep(backoff_delay(2, base=0.5, cap=5.0))
                    continue
                if attempt >= self._max_attempts:
                    error = "".join(traceback.format_exception_only(exc)).strip()
                    await self._dead_letter(record, envelope, error, attempts=attempt)
                    return
                await asyncio.sleep(backoff_delay(attempt, base=self._retry_base, cap=2.0))
                continue
            if applied:
                self.stats.processed += 1
                if self._after_commit:
                    self._after_commit()
            else:
                self.stats.duplicates += 1
            return

    async def _apply(self, record: ConsumerRecord, envelope: Envelope) -> bool:
        async with SqlUnitOfWork(self._engine) as uow:
            params = {
                "c": self.name,
                "e": envelope.event_id,
                "t": record.topic,
                "p": record.partition,
                "o": record.offset,
            }
            if (await uow.conn.execute(text(_INBOX), params)).first() is None:
                return False
            await self._dispatch(envelope, uow)
            return True

    async def _dead_letter(
        self, record: ConsumerRecord, envelope: Envelope | None, error: str, *, attempts: int
    ) -> None:
        log.error(
            "event dead-lettered",
            consumer=self.name,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            event_type=envelope.type if envelope else None,
            error=error,
        )
        key = record.key.decode(errors="replace") if record.key else ""
        params = {
            "c": self.name,
            "t": record.topic,
            "p": record.partition,
            "o": record.offset,
            "k": key,
            "e": envelope.event_id if envelope else None,
            "et": envelope.type if envelope else None,
            "err": error[:4000],
            "n": attempts,
            "v": record.value,
        }
        headers = [
            ("error", error[:4000].encode()),
            ("consumer", self.name.encode()),
            ("original-topic", record.topic.encode()),
            ("original-partition", str(record.partition).encode()),
            ("original-offset", str(record.offset).encode()),
            ("attempts", str(attempts).encode()),
        ]
        message = OutgoingMessage(dead_letter_topic(record.topic), key, record.value, "")
        await self._retry_until_done(self._record_dead_letter, params)
        await self._retry_until_done(self._publisher.publish, [message], headers=headers)
        self.stats.dead_lettered += 1

    async def _record_dead_letter(self, params: dict[str, object]) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(text(_DEAD), params)

    async def _retry_until_done(self, action: Callable[..., Awaitable[None]], *args: object, **kw: object) -> None:
        attempt = 0
        while True:
            try:
                await action(*args, **kw)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                attempt += 1
                log.warning("cannot dead-letter yet; retrying", error=repr(exc), consumer=self.name)
                await asyncio.sleep(backoff_delay(attempt, base=0.2, cap=5.0))

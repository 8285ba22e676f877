"""The outbox relay: moves committed outbox rows to Kafka, oldest first, at least once.

One relay per schema publishes at a time (a transaction-scoped advisory lock), so two
replicas of a service never interleave and per-key order is kept. Rows are deleted in the
same transaction after the broker acknowledged them; if the broker is down the transaction
rolls back and the rows wait. A crash between acknowledgement and commit republishes the
batch: consumers deduplicate on event_id.

A poll that was not asked for (nobody in this process said it committed messages) first asks, in
one autocommitted round trip, whether the outbox holds anything: an idle relay costs one statement
per poll instead of a transaction of four.
"""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from eventkit.backoff import backoff_delay, stop_if_cancelled
from eventkit.kafka import KafkaPublisher
from eventkit.logging import get_logger
from eventkit.outbox import OutgoingMessage

log = get_logger(__name__)

_LOCK = "SELECT pg_try_advisory_xact_lock(hashtext('outbox-relay:' || current_schema()))"
_BATCH = "SELECT id, topic, message_key, value, event_id::text FROM outbox ORDER BY id LIMIT :n"
_ANY = "SELECT EXISTS (SELECT FROM outbox)"


class OutboxRelay:
    """Polls the outbox and publishes it; :meth:`run` loops until cancelled."""

    def __init__(
        self,
        engine: AsyncEngine,
        publisher: KafkaPublisher,
        *,
        batch_size: int = 500,
        poll_seconds: float = 0.05,
        publish_timeout: float = 30.0,
    ) -> None:
        self._engine = engine
        self._publisher = publisher
        self._batch_size = batch_size
        self._poll = poll_seconds
        self._publish_timeout = publish_timeout
        self._wake = asyncio.Event()
        self.published = 0
        self.healthy = False
        self.last_success = 0.0

    def notify(self) -> None:
        """Ask for an immediate poll (after a local commit that queued messages)."""
        self._wake.set()

    async def pending(self) -> bool:
        """Whether the outbox holds any row (one autocommitted statement, no lock taken)."""
        async with self._engine.connect() as conn:
            quick = await conn.execution_options(isolation_level="AUTOCOMMIT")
            return bool((await quick.execute(text(_ANY))).scalar_one())

    async def publish_once(self) -> int:
        """Publish one batch; returns how many messages went out (0 if none or not the leader)."""
        async with self._engine.begin() as conn:
            if not (await conn.execute(text(_LOCK))).scalar_one():
                return 0
            rows = (await conn.execute(text(_BATCH), {"n": self._batch_size})).all()
            if not rows:
                return 0
            messages = [OutgoingMessage(topic, key, bytes(value), eid) for _, topic, key, value, eid in rows]
            await asyncio.wait_for(self._publisher.publish(messages), self._publish_timeout)
            await conn.execute(text("DELETE FROM outbox WHERE id = ANY(:ids)"), {"ids": [r[0] for r in rows]})
        self.published += len(rows)
        return len(rows)

    async def run(self) -> None:
        failures = 0
        asked = True  # the first round looks at once: rows may be waiting from before a restart
        while True:
            self._wake.clear()  # a commit signalled from here on asks for another round
            try:
                await self._publisher.start()
                sent = await self.publish_once() if asked or await self.pending() else 0
                self.healthy, self.last_success = True, time.monotonic()
                if failures:
                    log.info("outbox relay recovered", after_failures=failures)
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                stop_if_cancelled(exc)
                failures += 1
                self.healthy = False
                delay = backoff_delay(failures, base=0.2, cap=5.0)
                if failures == 1 or failures % 20 == 0:
                    log.warning("outbox relay cannot publish; rows wait", error=repr(exc), attempt=failures)
                await self._publisher.stop()  # reconnect from scratch on the next attempt
                await asyncio.sleep(delay)
                asked = True
                continue
            asked = sent == self._batch_size  # a full batch: more may be waiting
            if not asked:
                try:
                    await asyncio.wait_for(self._wake.wait(), self._poll)
                    asked = True
                except TimeoutError:
                    pass

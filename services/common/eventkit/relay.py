"""The outbox relay: moves committed outbox rows to Kafka, oldest first, at least once.

One relay per schema publishes at a time (a transaction-scoped advisory lock), so two
replicas of a service never interleave and per-key order is kept. A batch is taken by one
statement that tries the lock and deletes the oldest rows, returning them; the transaction
commits only after the broker acknowledged them, so if the broker is down it rolls back and the
rows wait. A crash between acknowledgement and commit republishes the batch: consumers
deduplicate on event_id.

A poll that was not asked for (nobody in this process said it committed messages) first asks, in
one autocommitted round trip, whether the outbox holds anything: an idle relay costs one statement
per poll instead of a transaction of three.
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

# The lock, the oldest rows and their deletion in one round trip (BEGIN, this, COMMIT per batch). The
# lock's CTE is evaluated once; not holding it takes no row. Rows come back in no particular order.
# A batch ends at :n rows or once :bytes of values are in it (the first row always goes): 500 rows of
# up to a megabyte each, held in memory and sent within the publish timeout, was half a gigabyte.
# octet_length reads a stored value's size from its header, without fetching it.
_TAKE_BATCH = """
WITH leader AS MATERIALIZED (
    SELECT pg_try_advisory_xact_lock(hashtext('outbox-relay:' || current_schema())) AS held
), oldest AS (
    SELECT o.id, sum(octet_length(o.value)) OVER (ORDER BY o.id) - octet_length(o.value) AS before
    FROM outbox o, leader WHERE leader.held ORDER BY o.id LIMIT :n
), batch AS (
    SELECT id FROM oldest WHERE before < :bytes
)
DELETE FROM outbox o USING batch WHERE o.id = batch.id
RETURNING o.id, o.topic, o.message_key, o.value, o.event_id::text
"""
_ANY = "SELECT EXISTS (SELECT FROM outbox)"


class OutboxRelay:
    """Polls the outbox and publishes it; :meth:`run` loops until cancelled."""

    def __init__(
        self,
        engine: AsyncEngine,
        publisher: KafkaPublisher,
        *,
        batch_size: int = 500,
        batch_bytes: int = 16 * 2**20,
        poll_seconds: float = 0.05,
        publish_timeout: float = 30.0,
        idle_check_seconds: float = 10.0,
    ) -> None:
        self._engine = engine
        self._publisher = publisher
        self._batch_size = batch_size
        self._batch_bytes = batch_bytes
        self._full = False  # the last batch stopped at a limit: more may be waiting
        self._poll = poll_seconds
        self._publish_timeout = publish_timeout
        #: With nothing to publish for this long, the broker is asked for its metadata: an empty
        #: outbox touches no broker, and the health gauge said 1 through a whole broker outage.
        self._idle_check = idle_check_seconds
        self._broker_answered = 0.0
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
            taken = await conn.execute(text(_TAKE_BATCH), {"n": self._batch_size, "bytes": self._batch_bytes})
            rows = sorted(taken.all(), key=lambda row: row[0])
            if not rows:
                self._full = False
                return 0
            messages = [OutgoingMessage(topic, key, bytes(value), eid) for _, topic, key, value, eid in rows]
            self._full = len(rows) == self._batch_size or sum(len(m.value) for m in messages) >= self._batch_bytes
            # Deleted but not committed: if this fails or times out, the rollback puts them back.
            await asyncio.wait_for(self._publisher.publish(messages), self._publish_timeout)
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
                if sent:
                    self._broker_answered = time.monotonic()
                elif time.monotonic() - self._broker_answered >= self._idle_check:
                    await self._publisher.reachable(min(self._publish_timeout, 5.0))
                    self._broker_answered = time.monotonic()
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
            asked = sent > 0 and self._full  # a full batch: more may be waiting
            if not asked:
                try:
                    await asyncio.wait_for(self._wake.wait(), self._poll)
                    asked = True
                except TimeoutError:
                    pass

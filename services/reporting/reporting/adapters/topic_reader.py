"""Reading topics from the beginning for a rebuild: a consumer without a group (nothing committed,
no rebalance), every partition assigned explicitly, read up to offsets fixed in advance."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Self

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition


class ReadStalled(Exception):
    """No progress for too long: the broker stopped answering, or the history shrank under us."""


class TopicHistory:
    """``async with TopicHistory(...) as history``: then ``end_offsets()`` and ``read_until(...)``."""

    def __init__(
        self,
        bootstrap_servers: str,
        topics: list[str],
        *,
        client_id: str,
        stall_seconds: float = 60.0,
        fetch_max_bytes: int = 4 * 1024 * 1024,
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._topics = topics
        self._client_id = client_id
        self._stall_seconds = stall_seconds
        self._fetch_max_bytes = fetch_max_bytes
        self._consumer: AIOKafkaConsumer | None = None
        self.partitions: list[TopicPartition] = []

    async def __aenter__(self) -> Self:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=None,
            client_id=self._client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            # What the client holds fetched ahead of the replay: bounded, since the replay parses
            # slower than the broker serves and everything fetched waits in memory.
            fetch_max_bytes=self._fetch_max_bytes,
            max_partition_fetch_bytes=max(self._fetch_max_bytes // 4, 64 * 1024),
            # An empty or drained partition's fetch waits this long on the broker before its high
            # watermark comes back: an empty log would otherwise take half a second to be read. The
            # local broker also held the first fetch for this long with records waiting (measured:
            # first record after 0.12 s at 100 ms, 0.055 s at 10 ms).
            fetch_max_wait_ms=10,
        )
        await consumer.start()
        self._consumer = consumer
        try:
            await consumer.topics()  # fetch metadata of every topic
            self.partitions = [
                TopicPartition(topic, p)
                for topic in self._topics
                for p in sorted(consumer.partitions_for_topic(topic) or ())
            ]
            consumer.assign(self.partitions)
            if self.partitions:
                await consumer.seek_to_beginning(*self.partitions)
        except BaseException:
            await consumer.stop()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await consumer.stop()

    @property
    def consumer(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            raise RuntimeError("TopicHistory used outside 'async with'")
        return self._consumer

    async def read_available(self, *, max_records: int) -> AsyncIterator[list[ConsumerRecord]]:
        """Batches of records until every partition is read up to its high watermark.

        The high watermark comes with each fetch response. (ListOffsets is not used: the Tansu broker
        of the local stack answers it with the last batch's base offset, not the log end.) Whether the
        ends are reached is asked before waiting for more: waiting first cost every rebuild the fetch
        timeout (half a second) at the end of the log.
        """
        last_progress = time.monotonic()
        while not await self._caught_up():
            records = await self._fill(max_records)
            if records:
                last_progress = time.monotonic()
                yield records
                continue
            if time.monotonic() - last_progress > self._stall_seconds:
                raise ReadStalled(f"no records for {self._stall_seconds:.0f} s and not caught up")

    async def _fill(self, max_records: int) -> list[ConsumerRecord]:
        """Up to ``max_records``: waits (briefly: the caller then asks whether the ends are reached)
        for the first records, then takes what is already fetched."""
        records: list[ConsumerRecord] = []
        timeout_ms = 100
        while len(records) < max_records:
            batches = await self.consumer.getmany(timeout_ms=timeout_ms, max_records=max_records - len(records))
            if not batches:
                break
            records.extend(r for part in batches.values() for r in part)
            timeout_ms = 0
        return records

    async def _caught_up(self) -> bool:
        for tp in self.partitions:
            end = self.consumer.highwater(tp)
            if end is None or await self.consumer.position(tp) < end:
                return False
        return True

    async def read_until(
        self, targets: dict[TopicPartition, int], *, max_records: int
    ) -> AsyncIterator[list[ConsumerRecord]]:
        """Batches of records, in order per partition, up to (excluding) each partition's target offset."""
        consumer = self.consumer
        remaining = {tp for tp, end in targets.items() if await consumer.position(tp) < end}
        last_progress = time.monotonic()
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=500, max_records=max_records)
            records: list[ConsumerRecord] = []
            for tp, part in batches.items():
                end = targets[tp]
                records.extend(r for r in part if r.offset < end)
                if part and part[-1].offset >= end:
                    consumer.seek(tp, end)  # fetched past the target: leave those for the next phase
            for tp in list(remaining):
                if await consumer.position(tp) >= targets[tp]:
                    remaining.discard(tp)
            if records:
                last_progress = time.monotonic()
                yield records
            elif time.monotonic() - last_progress > self._stall_seconds:
                raise ReadStalled(f"no records for {self._stall_seconds:.0f} s; {len(remaining)} partitions behind")

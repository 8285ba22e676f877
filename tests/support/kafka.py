"""Reading what really reached the broker."""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer, ConsumerRecord


async def read_topic(
    bootstrap: str, topic: str, *, expect: int, timeout: float = 15.0
) -> list[ConsumerRecord]:
    """Read ``topic`` from the beginning until ``expect`` records arrived or ``timeout`` passed."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    records: list[ConsumerRecord] = []
    deadline = time.monotonic() + timeout
    try:
        while len(records) < expect and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for part in batch.values():
                records.extend(part)
    finally:
        await consumer.stop()
    return records


async def eventually(predicate, *, timeout: float = 15.0, interval: float = 0.05):  # type: ignore[no-untyped-def]
    """Poll an async predicate until it returns something truthy; return it or fail after ``timeout``.

    Each probe is bounded by the time left too: a probe that never answers (a request stuck on a
    server) fails the test at the deadline instead of hanging the run."""
    deadline = time.monotonic() + timeout
    result = None
    while True:
        try:
            async with asyncio.timeout(max(deadline - time.monotonic(), interval)):
                result = await predicate()
        except TimeoutError:
            raise AssertionError(f"a probe did not answer within {timeout} s (last answer: {result!r})") from None
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s (last: {result!r})")
        await asyncio.sleep(interval)

"""A consumer saves its progress through a slow fetch, not only at the fetch's end."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, NamedTuple

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from eventkit.consumer import InboxConsumer

TP = TopicPartition("intake.events", 0)


class Record(NamedTuple):
    offset: int


class Scripted(InboxConsumer):
    """The consumer's own loop over scripted fetches; what it processes and commits is recorded."""

    def __init__(self, fetches: list[dict[TopicPartition, list[Record]]], **knobs: Any) -> None:
        super().__init__(
            None, None, None,  # type: ignore[arg-type]  # neither database nor broker is reached
            name="test", topics=[TP.topic], bootstrap_servers="127.0.0.1:1", batch_size=2, **knobs,
        )  # fmt: skip
        self.fetches = fetches
        self.processed: list[list[int]] = []
        self.commits: list[int] = []

    async def _fetch(self, consumer: Any) -> dict[TopicPartition, list[Any]]:
        if not self.fetches:
            raise asyncio.CancelledError
        return self.fetches.pop(0)  # type: ignore[return-value]

    async def process(self, records: Sequence[Any]) -> None:
        self.processed.append([r.offset for r in records])

    async def _commit(self, tp: TopicPartition, offset: int) -> None:
        self.commits.append(offset)


async def test_a_quick_fetch_is_committed_once_at_its_end() -> None:
    consumer = Scripted([{TP: [Record(n) for n in range(5)]}])
    with pytest.raises(asyncio.CancelledError):
        await consumer._consume(None)  # type: ignore[arg-type]
    assert consumer.processed == [[0, 1], [2, 3], [4]] and consumer.commits == [5]


async def test_a_slow_fetch_commits_what_is_done_as_it_goes() -> None:
    """Committed only at the fetch's end, a fetch of slow poison events lost its session first: its
    commit failed, and every event came back, to be tried and dead-lettered again."""
    consumer = Scripted([{TP: [Record(n) for n in range(5)]}], progress_commit_seconds=0)
    with pytest.raises(asyncio.CancelledError):
        await consumer._consume(None)  # type: ignore[arg-type]
    assert consumer.commits == [2, 4, 5]


async def test_a_member_may_work_on_one_fetch_longer_than_kafkas_five_minutes() -> None:
    config = Scripted([]).client_config()
    assert config["max_poll_interval_ms"] >= 15 * 60 * 1000
    AIOKafkaConsumer(**config)  # the client takes every setting (built, not started: nothing connects)

"""Reading the topics' history for a rebuild: everything up to the ends, without waiting at the end."""

from __future__ import annotations

import secrets
import time

import pytest
from aiokafka import ConsumerRecord

from reporting.adapters.topic_reader import TopicHistory
from tests.integration.reporting.support import publish
from tests.support.infra import Infra
from tests.support.services import create_topics, isolated_topics
from tests.unit.reporting import scenario

pytestmark = pytest.mark.integration


class CountingHistory(TopicHistory):
    """Counts the fills that came back empty: each one waited for the fetch timeout."""

    empty_fills = 0

    async def _fill(self, max_records: int) -> list[ConsumerRecord]:
        records = await super()._fill(max_records)
        self.empty_fills += not records
        return records


async def test_the_history_ends_at_the_high_watermarks_without_waiting_for_more(infra: Infra) -> None:
    topics = isolated_topics("th" + secrets.token_hex(3))
    await create_topics(infra, topics)
    envelopes = scenario.build().all()
    await publish(infra.bootstrap_servers, topics, envelopes)

    history = CountingHistory(infra.bootstrap_servers, topics.all(), client_id="test.history", fetch_max_bytes=65_536)
    async with history:
        read = [record async for batch in history.read_available(max_records=10) for record in batch]
    assert sorted(r.value for r in read) == sorted(e.to_json() for e in envelopes)
    assert history.empty_fills == 0  # the end was seen from the high watermarks, not from a timeout


async def test_an_empty_history_is_read_in_well_under_the_fetch_timeout(infra: Infra) -> None:
    topics = isolated_topics("te" + secrets.token_hex(3))
    await create_topics(infra, topics)
    async with TopicHistory(infra.bootstrap_servers, topics.all(), client_id="test.empty") as history:
        started = time.monotonic()
        read = [batch async for batch in history.read_available(max_records=10)]
        elapsed = time.monotonic() - started
    assert read == []
    assert elapsed < 0.45, elapsed  # the broker answers empty partitions after fetch_max_wait_ms (100 ms)

"""Every service's /metrics: each consumer's lag and the outbox's and dead letters' backlogs, read at
scrape time, and left out (never 0) when they cannot be told."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from aiokafka import TopicPartition
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncEngine
from structlog.testing import capture_logs

from eventkit.consumer import Dispatcher, InboxConsumer
from eventkit.http import create_service_app
from eventkit.runtime import ConsumerSpec, ServiceRuntime
from eventkit.settings import ServiceSettings
from reporting.bootstrap import consumer_lags

NOWHERE = "postgresql+asyncpg://u@127.0.0.1:1/x"  # nothing listens: every database read is refused
TOPIC = "intake.events"


class Member:
    """What lag() asks of a started Kafka consumer: its partitions, their ends, its positions
    (None: not answered)."""

    def __init__(self, ends: list[int | None], positions: list[int | None]) -> None:
        self.ends = {TopicPartition(TOPIC, p): end for p, end in enumerate(ends)}
        self.positions = {TopicPartition(TOPIC, p): at for p, at in enumerate(positions)}

    def assignment(self) -> set[TopicPartition]:
        return set(self.ends)

    def highwater(self, tp: TopicPartition) -> int | None:
        return self.ends[tp]

    async def position(self, tp: TopicPartition) -> int:
        at = self.positions[tp]
        if at is None:
            await asyncio.sleep(3600)  # a broker that does not answer
        assert at is not None
        return at


def _runtime(*consumers: str) -> ServiceRuntime:
    settings = ServiceSettings(database_url=NOWHERE, kafka_bootstrap_servers="127.0.0.1:1")  # type: ignore[arg-type]
    return ServiceRuntime(settings, consumers=[ConsumerSpec(name, [TOPIC], Dispatcher({})) for name in consumers])


def _connect(consumer: InboxConsumer, member: Member) -> None:
    consumer._consumer = member  # type: ignore[assignment]  # as run() sets it once the client started


Samples = dict[str, dict[tuple[tuple[str, str], ...], float]]


async def _scrape(runtime: ServiceRuntime, times: int = 1) -> list[Samples]:
    """Each metric family's samples, by their sorted labels, of ``times`` GET /metrics of one app."""
    app = create_service_app(runtime, title="t")
    scrapes = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as client:
        for _ in range(times):
            response = await client.get("/metrics")
            assert response.status_code == 200
            families = text_string_to_metric_families(response.text)
            scrapes.append({f.name: {tuple(sorted(s.labels.items())): s.value for s in f.samples} for f in families})
    return scrapes


async def test_a_scrape_serves_each_connected_consumer_s_lag_and_the_outbox_and_dead_letter_backlogs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """None of them was exported: a stalled consumer, an outbox the relay could not empty and dead
    letters nobody replayed were seen only by someone who went to look in the database."""
    runtime = _runtime("tracking", "joining")
    tracking, _ = runtime.consumers
    _connect(tracking, Member(ends=[10, 5], positions=[4, 4]))

    async def outbox(engine: AsyncEngine) -> tuple[int, float]:
        assert engine is runtime.engine
        return 3, 42.5

    async def dead_letters(engine: AsyncEngine) -> int:
        return 2

    monkeypatch.setattr("eventkit.metrics.outbox_backlog", outbox)
    monkeypatch.setattr("eventkit.metrics.dead_letters_waiting", dead_letters)
    (metrics,) = await _scrape(runtime)
    service = (("service", "service"),)
    # The member still joining has no series: a 0 would say it keeps up.
    assert metrics["consumer_lag_messages"] == {(("consumer", "service.tracking"), *service): 7.0}
    assert metrics["outbox_pending_messages"] == {service: 3.0}
    assert metrics["outbox_oldest_pending_seconds"] == {service: 42.5}
    assert metrics["dead_letters_waiting"] == {service: 2.0}


async def test_a_scrape_without_the_database_leaves_the_backlogs_out_and_warns_once_a_minute() -> None:
    """A backlog that cannot be read must not read as an empty one, nor fail the scrape (the relay's
    and the process's own series still tell what they know), nor fill the log at every scrape."""
    runtime = _runtime()
    with capture_logs() as logs:
        scrapes = await _scrape(runtime, times=2)
    for metrics in scrapes:
        assert metrics["outbox_pending_messages"] == metrics["outbox_oldest_pending_seconds"] == {}
        assert metrics["dead_letters_waiting"] == {}
        assert metrics["outbox_relay_healthy"] == {(("service", "service"),): 0.0}
    assert [line["log_level"] for line in logs if line["event"].startswith("cannot read a metric")] == ["warning"]


async def test_a_read_that_hangs_is_given_up_and_the_scrape_answered(monkeypatch: pytest.MonkeyPatch) -> None:
    """Waiting for a free connection as long as the pool lets a request wait (30 s), a scrape outlived
    Prometheus's own 10 s timeout, and with it every other series of the service went missing."""

    async def hang(engine: AsyncEngine) -> int:
        await asyncio.sleep(3600)
        return 0

    monkeypatch.setattr("eventkit.metrics.READ_WAIT_SECONDS", 0.2)
    monkeypatch.setattr("eventkit.metrics.dead_letters_waiting", hang)
    started = time.monotonic()
    (metrics,) = await _scrape(_runtime())
    assert time.monotonic() - started < 2
    assert metrics["dead_letters_waiting"] == {}


async def test_a_consumer_s_lag_is_not_known_while_it_is_not_connected_or_cannot_tell_a_partition() -> None:
    """lag() said 0 for a member not connected (still joining, or cut off from the broker), which
    consumed nothing; and it summed only the partitions it could tell, understating the others."""
    (consumer,) = _runtime("tracking").consumers
    assert await consumer.lag() is None
    _connect(consumer, Member(ends=[10, 5], positions=[4, 5]))
    assert await consumer.lag() == 6
    _connect(consumer, Member(ends=[10, None], positions=[4, 0]))  # one not fetched yet: its end unknown
    assert await consumer.lag() is None
    _connect(consumer, Member(ends=[10, 9, 8], positions=[None, None, None]))
    started = time.monotonic()
    assert await consumer.lag() is None
    assert time.monotonic() - started < 2  # the partitions asked at once, a second in all, not one each


async def test_reporting_s_lag_gauge_leaves_out_a_consumer_that_is_not_connected() -> None:
    """Its reporting_consumer_lag said 0 for a consumer still joining the group."""
    joining, tracking = _runtime("joining", "tracking").consumers
    _connect(tracking, Member(ends=[3], positions=[1]))
    assert await consumer_lags([joining, tracking]) == {"service.tracking": 2}

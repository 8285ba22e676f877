"""``GET /metrics`` for every service: the runtime's own numbers in Prometheus format.

Read at scrape time from the relay and consumers (no second bookkeeping), plus the HTTP requests
answered (:class:`HttpStats`) and the process collector (CPU, memory, open files). A service that
serves richer metrics of its own (reporting) registers its route first and this one stays unused;
that route must await :meth:`RuntimeCollector.refresh` before it renders, as this one does, or the
lag and backlog series are left out of it.

What only an await can tell (each consumer's lag, asked of the broker client; the outbox's and the
dead letters' backlog, asked of the database) cannot be read by a Prometheus collector, which is
called synchronously: the route reads it first, each read bounded, and the collector yields what
was read. A read that fails or takes too long leaves its series out of that scrape (a warning at
most once a minute): the rest of the scrape is answered, and no series says 0 for "not known".
"""

from __future__ import annotations

import asyncio
import time
from bisect import bisect_left
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any, TypeVar

from fastapi import APIRouter, Response
from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from eventkit.backoff import stop_if_cancelled
from eventkit.consumer import InboxConsumer
from eventkit.db import SCRAPE_STATEMENT_SECONDS, limit_to_scrape
from eventkit.logging import get_logger
from eventkit.runtime import ServiceRuntime

log = get_logger(__name__)
T = TypeVar("T")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: How long the server lets one scrape-time statement run. Prometheus gives a whole scrape 10 s.
READ_SECONDS = SCRAPE_STATEMENT_SECONDS
#: How long a scrape waits for one read in all: a connection, the statement, its answer. A pool with
#: no connection free would otherwise keep the scrape waiting 30 s.
READ_WAIT_SECONDS = READ_SECONDS + 1.0
#: A read that keeps failing (the database down) is logged once per this many seconds, not per scrape.
WARN_EVERY_SECONDS = 60.0

# The head of the outbox (the relay publishes by id) is found by its primary key, not a scan. The count
# passes over rows the relay deletes as it publishes: a handful while the broker is reached.
_OUTBOX = (
    "SELECT count(*), coalesce(greatest(extract(epoch FROM clock_timestamp()"
    " - (SELECT created_at FROM outbox ORDER BY id LIMIT 1))::float8, 0), 0) FROM outbox"
)
# Waiting: neither replayed nor discarded by the dlq tool (eventkit.dlq), as its listing shows them.
_DEAD_LETTERS = "SELECT count(*) FROM dead_letters WHERE replayed_at IS NULL AND discarded_at IS NULL"


async def scrape_read(engine: AsyncEngine, sql: str) -> Sequence[Any]:
    """The one row of ``sql``, a statement for a scrape: the server cancels it after
    :data:`READ_SECONDS`, set for its transaction alone (the engine's own limit, 25 s, is a request's)."""
    async with engine.begin() as conn:
        await limit_to_scrape(conn)
        return (await conn.execute(text(sql))).one()


async def outbox_backlog(engine: AsyncEngine) -> tuple[int, float]:
    """Outbox rows not published yet, and the age in seconds of the oldest (0 when none)."""
    row = await scrape_read(engine, _OUTBOX)
    return int(row[0]), float(row[1])


async def dead_letters_waiting(engine: AsyncEngine) -> int:
    """Dead letters not replayed yet."""
    return int((await scrape_read(engine, _DEAD_LETTERS))[0])


class ScrapeReads:
    """Reads made for a scrape: each given up after ``wait_seconds`` (:data:`READ_WAIT_SECONDS` unless
    given); one that fails or takes too long
    answers None (its series is left out, never a 0 that says nothing waits), with the warning
    ``message`` at most once per :data:`WARN_EVERY_SECONDS` (a database away fails every scrape)."""

    def __init__(
        self, message: str, *, wait_seconds: float | None = None, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._message = message
        self._wait_seconds = wait_seconds
        self._monotonic = monotonic
        self._warned = float("-inf")

    async def read(self, read: Callable[[], Awaitable[T]], **context: Any) -> T | None:
        """``read()``'s answer, or None; ``context`` goes into the warning (which read it was)."""
        try:
            async with asyncio.timeout(READ_WAIT_SECONDS if self._wait_seconds is None else self._wait_seconds):
                return await read()
        except Exception as exc:
            stop_if_cancelled(exc)  # the scraper went away: nothing to warn about
            if self._monotonic() - self._warned >= WARN_EVERY_SECONDS:
                self._warned = self._monotonic()
                log.warning(self._message, **context, error=repr(exc), once_per_seconds=WARN_EVERY_SECONDS)
            return None


@dataclass(frozen=True)
class Readings:
    """What the last :meth:`RuntimeCollector.refresh` read; None (or a consumer left out): not known."""

    lags: dict[str, int] = field(default_factory=dict)
    outbox: tuple[int, float] | None = None
    dead_letters: int | None = None


class RuntimeCollector(Collector):
    """Relay and consumer counters of one process, and the readings of the last :meth:`refresh`."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self._runtime = runtime
        self._readings = Readings()
        self._reads = ScrapeReads("cannot read a metric; its series is left out")

    async def refresh(self) -> None:
        """Read what the next collect yields: each consumer's lag and the database's backlogs, all at
        once, each bounded (see the module's docstring). For the route, before it renders."""
        engine = self._runtime.engine
        lags, outbox, dead_letters = await asyncio.gather(
            _lags(self._runtime.consumers),
            self._reads.read(lambda: outbox_backlog(engine), what="outbox"),
            self._reads.read(lambda: dead_letters_waiting(engine), what="dead letters"),
        )
        self._readings = Readings(lags, outbox, dead_letters)

    def collect(self) -> Iterator[Metric]:
        service = self._runtime.settings.service_name
        readings = self._readings
        published = CounterMetricFamily(
            "outbox_published_messages", "Messages the outbox relay published.", labels=["service"]
        )
        published.add_metric([service], self._runtime.relay.published)
        yield published
        healthy = GaugeMetricFamily("outbox_relay_healthy", "1 while the relay reaches the broker.", labels=["service"])
        healthy.add_metric([service], 1.0 if self._runtime.relay.healthy else 0.0)
        yield healthy
        pending = GaugeMetricFamily("outbox_pending_messages", "Outbox rows not published yet.", labels=["service"])
        oldest = GaugeMetricFamily(
            "outbox_oldest_pending_seconds",
            "Age of the oldest outbox row not published yet (0: none).",
            labels=["service"],
        )
        if readings.outbox is not None:
            pending.add_metric([service], readings.outbox[0])
            oldest.add_metric([service], readings.outbox[1])
        yield pending
        yield oldest
        handled = CounterMetricFamily(
            "consumer_events", "Events seen by a consumer, by outcome.", labels=["service", "consumer", "outcome"]
        )
        for consumer in self._runtime.consumers:
            stats = consumer.stats
            for outcome, value in (
                ("processed", stats.processed),
                ("duplicate", stats.duplicates),
                ("skipped", stats.skipped),
                ("dead_lettered", stats.dead_lettered),
            ):
                handled.add_metric([service, consumer.name, outcome], value)
        yield handled
        lag = GaugeMetricFamily(
            "consumer_lag_messages",
            "Messages between a consumer's positions and its partitions' ends (none while not connected).",
            labels=["service", "consumer"],
        )
        for name, messages in sorted(readings.lags.items()):
            lag.add_metric([service, name], messages)
        yield lag
        waiting = GaugeMetricFamily(
            "dead_letters_waiting", "Dead letters neither replayed nor discarded yet.", labels=["service"]
        )
        if readings.dead_letters is not None:
            waiting.add_metric([service], readings.dead_letters)
        yield waiting


async def _lags(consumers: list[InboxConsumer]) -> dict[str, int]:
    """Each consumer's lag (each bounded by :meth:`InboxConsumer.lag`), those that cannot tell left out."""
    lags = await asyncio.gather(*(consumer.lag() for consumer in consumers))
    return {consumer.name: lag for consumer, lag in zip(consumers, lags, strict=True) if lag is not None}


#: Bounds of the request-duration buckets, in seconds.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: Methods counted by name; any other a client sends is counted as "other" (labels stay bounded).
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class HttpStats(Collector):
    """Requests answered, by method, route and status, and how long they took (RED metrics).

    Kept as plain numbers, a dict update per request, and turned into Prometheus families only when
    scraped. The route is the template the request matched (``/v1/dossiers/{code}``), or
    "unmatched", so that neither paths nor methods a client makes up add series."""

    def __init__(self) -> None:
        self._answered: dict[tuple[str, str, str], int] = {}
        self._durations: dict[tuple[str, str], list[float]] = {}  # a count per bucket (+Inf last), then the sum

    def record(self, method: str, route: str, status: int, seconds: float) -> None:
        method = method if method in _METHODS else "other"
        key = (method, route, str(status))
        self._answered[key] = self._answered.get(key, 0) + 1
        series = self._durations.get((method, route))
        if series is None:
            series = self._durations[(method, route)] = [0.0] * (len(DURATION_BUCKETS) + 2)
        series[bisect_left(DURATION_BUCKETS, seconds)] += 1  # its own bucket; cumulated when scraped
        series[-1] += seconds

    def collect(self) -> Iterator[Metric]:
        what = "HTTP requests answered, by method, route and status."
        answered = CounterMetricFamily("http_requests", what, labels=["method", "route", "status"])
        for (method, route, status), n in sorted(self._answered.items()):
            answered.add_metric([method, route, status], n)
        yield answered
        durations = HistogramMetricFamily(
            "http_request_duration_seconds", "Time to answer, by method and route.", labels=["method", "route"]
        )
        for (method, route), series in sorted(self._durations.items()):
            cumulative = list(accumulate(series[: len(DURATION_BUCKETS) + 1]))
            buckets = [(str(b), cumulative[i]) for i, b in enumerate(DURATION_BUCKETS)] + [("+Inf", cumulative[-1])]
            durations.add_metric([method, route], buckets, series[-1])
        yield durations


def register_process_metrics(registry: CollectorRegistry, runtime: ServiceRuntime, http: HttpStats) -> RuntimeCollector:
    """What every service's /metrics serves: relay and consumer numbers, the requests answered, and
    the process's own (CPU, memory, file descriptors). A service that serves its own /metrics adds
    them to its registry, and awaits the collector returned (its :meth:`~RuntimeCollector.refresh`)
    before it renders: else the lag and backlog series are left out."""
    collector = RuntimeCollector(runtime)
    registry.register(collector)
    registry.register(http)
    ProcessCollector(registry=registry)
    return collector


class ServedMetrics:
    """A ``/metrics``: a registry, and the reads awaited before each render (each bounded, none
    raising: :class:`ScrapeReads`), all at once. A service that serves series of its own registers
    them and their reads here, and adds every service's (:meth:`add_process_metrics`)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._before_scrape: list[Callable[[], Awaitable[None]]] = []

    def read_before_scrape(self, read: Callable[[], Awaitable[None]]) -> None:
        self._before_scrape.append(read)

    def add_process_metrics(self, runtime: ServiceRuntime, http: HttpStats) -> None:
        """Every service's series (once the app, and with it ``http``, is built), read with the rest."""
        self.read_before_scrape(register_process_metrics(self.registry, runtime, http).refresh)

    async def refresh(self) -> None:
        """Read what the next render serves."""
        await asyncio.gather(*(read() for read in self._before_scrape))

    def router(self, summary: str = "Prometheus metrics of this process.") -> APIRouter:
        router = APIRouter(tags=["health"])

        @router.get("/metrics", response_class=Response, description=summary)
        async def metrics() -> Response:
            await self.refresh()
            return Response(generate_latest(self.registry), media_type=CONTENT_TYPE)

        return router


def metrics_router(runtime: ServiceRuntime, http: HttpStats) -> APIRouter:
    served = ServedMetrics()
    served.add_process_metrics(runtime, http)
    return served.router()

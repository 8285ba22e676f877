"""``GET /metrics``: Prometheus text format.

Two kinds of series. Business numbers (dossiers, bundles, timings) are read from the read model at
scrape time (cached briefly): every replica reports the same totals, and they survive restarts and
rebuilds. Process numbers (events this replica projected, projection delay, live subscribers,
consumer lag) are this process's own, as Prometheus expects of counters.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any

from fastapi import APIRouter, Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from eventkit.logging import get_logger
from reporting.adapters.read_model import E2E_BUCKETS, RESOLUTION_BUCKETS
from reporting.service_layer.rebuild import RebuildStatus

log = get_logger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class ProcessMetrics:
    """This process's own counters, in a registry of the app's (tests build several apps per process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.events = Counter(
            "reporting_events_projected",
            "Events this replica projected into the read models, by producing service and type.",
            ["producer", "type"],
            registry=self.registry,
        )
        self.delay = Histogram(
            "reporting_projection_delay_seconds",
            "From an event's occurred_at to its projection's commit.",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
            registry=self.registry,
        )
        self.subscribers = Gauge(
            "reporting_live_subscribers", "Open live-stream subscriptions.", registry=self.registry
        )
        self.dropped = Counter(
            "reporting_live_dropped", "Feed items dropped for slow subscribers.", registry=self.registry
        )
        self.lag = Gauge(
            "reporting_consumer_lag", "Messages not yet consumed, per consumer.", ["consumer"], registry=self.registry
        )
        self.rebuilds = Counter(
            "reporting_rebuilds",
            "Rebuilds, by result: succeeded, failed, or refused (another replica was rebuilding).",
            ["state"],
            registry=self.registry,
        )
        self.rebuild_rate = Gauge(
            "reporting_rebuild_events_per_second", "Replay speed of the last rebuild.", registry=self.registry
        )

    def rebuild_finished(self, status: RebuildStatus) -> None:
        """Count a rebuild that ended; the speed only of one that ran. A refused one replayed nothing:
        its 0 replaced the speed of the rebuild that ran last."""
        self.rebuilds.labels(state=status.state).inc()
        if status.state != "refused":
            self.rebuild_rate.set(status.events_per_second)


class ReadModelCollector(Collector):
    """Yields the business series from the last snapshot of the read model."""

    def __init__(self) -> None:
        self.snapshot: dict[str, Any] | None = None

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot
        if not snap:
            return
        # Gauges: a dossier moves from one status to the next, so each count goes down as well as up
        # (a counter that drops reads as a reset to rate() and increase()).
        dossiers = GaugeMetricFamily(
            "reporting_dossiers",
            "Dossiers by channel, current status and outcome.",
            labels=["channel", "status", "outcome"],
        )
        resolution = HistogramMetricFamily(
            "reporting_dossier_resolution_working_days",
            "Working days from counting start to end of resolved dossiers (supplement waiting excluded).",
            labels=["field"],
        )
        totals: dict[tuple[str, str, str], float] = {}
        by_field: dict[str, list[float]] = {}
        for row in snap["dossiers"]:
            key = (row["channel"], row["status"], row["outcome"])
            totals[key] = totals.get(key, 0) + row["n"]
            acc = by_field.setdefault(row["field"], [0.0] * (len(RESOLUTION_BUCKETS) + 2))
            for i in range(len(RESOLUTION_BUCKETS)):
                acc[i] += row[f"b{i}"]
            acc[-2] += row["days_n"]
            acc[-1] += row["days_sum"]
        for labels, n in sorted(totals.items()):
            dossiers.add_metric(list(labels), n)
        for field, acc in sorted(by_field.items()):
            if acc[-2]:
                resolution.add_metric([field], _histogram(RESOLUTION_BUCKETS, acc), acc[-1])
        yield dossiers
        yield resolution
        yield from _bundle_families(snap["bundles"])
        portal = snap["portal"]
        yield CounterMetricFamily("reporting_portal_syncs", "Successful national-portal syncs.", value=portal["syncs"])
        yield CounterMetricFamily(
            "reporting_portal_sync_failures", "Failed national-portal sync attempts.", value=portal["failures"]
        )
        yield GaugeMetricFamily(
            "reporting_portal_sync_lag_max_seconds", "Longest portal sync lag seen.", value=portal["lag_max"]
        )


def _histogram(bounds: tuple[float, ...], acc: list[float]) -> list[tuple[str, float]]:
    return [(str(b), acc[i]) for i, b in enumerate(bounds)] + [("+Inf", acc[-2])]


def _bundle_families(rows: list[dict[str, Any]]) -> Iterator[Metric]:
    bundles = GaugeMetricFamily("reporting_bundles", "Linked bundles by type and outcome.", labels=["type", "outcome"])
    e2e = HistogramMetricFamily(
        "reporting_bundle_e2e_working_days", "End-to-end working days of ended bundles.", labels=["type", "outcome"]
    )
    for row in rows:
        bundles.add_metric([row["bundle_type"], row["outcome"]], row["n"])
        if row["days_n"]:
            acc = [float(row[f"b{i}"]) for i in range(len(E2E_BUCKETS))] + [row["days_n"], row["days_sum"]]
            e2e.add_metric([row["bundle_type"], row["outcome"]], _histogram(E2E_BUCKETS, acc), row["days_sum"])
    yield bundles
    yield e2e


class SnapshotCache:
    """The read model's numbers for /metrics, read at most once per ``max_age`` seconds.

    At a province's scale the read is a pass over every dossier (1.4 s on two million), and Prometheus
    scrapes every 15 s, often from two servers: so one read serves every scrape in its window, one
    read runs at a time, and a scrape after the window gets the numbers it has at once while a new
    read runs behind it (stale by at most ``max_age`` and one read). Only the first scrape waits for
    a read. A read that fails keeps the numbers it had (logged); the next scrape tries again.
    ``max_age`` 0: every scrape reads, and waits.
    """

    def __init__(self, load: Callable[[], Awaitable[dict[str, Any]]], max_age: float) -> None:
        self._load = load
        self._max_age = max_age
        self._value: dict[str, Any] | None = None
        self._taken = float("-inf")
        self._reading: asyncio.Task[dict[str, Any]] | None = None

    async def get(self) -> dict[str, Any]:
        if self._value is not None and time.monotonic() - self._taken < self._max_age:
            return self._value
        if self._reading is None or self._reading.done():
            self._reading = asyncio.create_task(self._read())
            self._reading.add_done_callback(_log_failed_read)
        if self._value is None or self._max_age == 0:
            return await asyncio.shield(self._reading)  # a scrape that goes away cancels no shared read
        return self._value

    async def _read(self) -> dict[str, Any]:
        started = time.monotonic()
        value = await self._load()
        self._value, self._taken = value, started
        return value


def _log_failed_read(task: asyncio.Task[dict[str, Any]]) -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.warning("cannot read the metrics snapshot; the last one is served", error=repr(exc))


def metrics_router(
    metrics: ProcessMetrics,
    snapshot: Callable[[], Awaitable[dict[str, Any]]],
    lags: Callable[[], Awaitable[dict[str, int]]],
    cache_seconds: float,
    before_scrape: Sequence[Callable[[], Awaitable[None]]] = (),
) -> APIRouter:
    """``GET /metrics``; ``before_scrape``: reads to await before each render (eventkit's lag and
    backlog readings, :meth:`eventkit.metrics.RuntimeCollector.refresh`)."""
    router = APIRouter(tags=["metrics"])
    collector = ReadModelCollector()
    metrics.registry.register(collector)
    cache = SnapshotCache(snapshot, cache_seconds)

    @router.get("/metrics", response_class=Response)
    async def prometheus() -> Response:
        """Prometheus metrics: dossiers, bundles, timings, consumer lag, and the process's own."""
        try:
            collector.snapshot = await cache.get()
        except Exception:  # logged by the cache; the rest is served without the business series
            collector.snapshot = None
        metrics.lag.clear()  # a consumer not connected now has no lag to show, not its last one
        for consumer, lag in (await lags()).items():
            metrics.lag.labels(consumer=consumer).set(lag)
        for read in before_scrape:
            await read()
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE)

    return router

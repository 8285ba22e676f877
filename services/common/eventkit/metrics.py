"""``GET /metrics`` for every service: the runtime's own counters in Prometheus format.

Read at scrape time from the relay and consumers (no second bookkeeping), plus the HTTP requests
answered (:class:`HttpStats`) and the process collector (CPU, memory, open files). A service that
serves richer metrics of its own (reporting) registers its route first and this one stays unused.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from itertools import accumulate

from fastapi import APIRouter, Response
from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from eventkit.runtime import ServiceRuntime

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class RuntimeCollector(Collector):
    """Relay and consumer counters of one process."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self._runtime = runtime

    def collect(self) -> Iterator[Metric]:
        service = self._runtime.settings.service_name
        published = CounterMetricFamily(
            "outbox_published_messages", "Messages the outbox relay published.", labels=["service"]
        )
        published.add_metric([service], self._runtime.relay.published)
        yield published
        healthy = GaugeMetricFamily("outbox_relay_healthy", "1 while the relay reaches the broker.", labels=["service"])
        healthy.add_metric([service], 1.0 if self._runtime.relay.healthy else 0.0)
        yield healthy
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


def register_process_metrics(registry: CollectorRegistry, runtime: ServiceRuntime, http: HttpStats) -> None:
    """What every service's /metrics serves: relay and consumer counters, the requests answered, and
    the process's own (CPU, memory, file descriptors). A service that serves its own /metrics adds
    them to its registry."""
    registry.register(RuntimeCollector(runtime))
    registry.register(http)
    ProcessCollector(registry=registry)


def metrics_router(runtime: ServiceRuntime, http: HttpStats) -> APIRouter:
    registry = CollectorRegistry()
    register_process_metrics(registry, runtime, http)
    router = APIRouter(tags=["health"])

    @router.get("/metrics", response_class=Response)
    async def metrics() -> Response:
        """Prometheus metrics of this process."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE)

    return router

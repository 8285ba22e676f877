"""``GET /metrics`` for every service: the runtime's own counters in Prometheus format.

Read at scrape time from the relay and consumers (no second bookkeeping), plus the process
collector (CPU, memory, open files). A service that serves richer metrics of its own (reporting)
registers its route first and this one stays unused.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Response
from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
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


def metrics_router(runtime: ServiceRuntime) -> APIRouter:
    registry = CollectorRegistry()
    registry.register(RuntimeCollector(runtime))
    ProcessCollector(registry=registry)
    router = APIRouter(tags=["health"])

    @router.get("/metrics", response_class=Response)
    async def metrics() -> Response:
        """Prometheus metrics of this process."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE)

    return router

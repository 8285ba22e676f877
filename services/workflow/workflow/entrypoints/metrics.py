"""Workflow's ``GET /metrics``: every service's series (:mod:`eventkit.metrics`) and the SLA timers
that are due and have not fired.

A poller that keeps failing logs a warning a round and one that has stalled logs nothing, and
meanwhile the dossiers it should flag stay on time in every count while their limits pass. The
timers it has not fired, and how long the oldest of them has waited, show it whatever the cause.
They are read from the database at each scrape, one query bounded by a short limit; a read that
fails leaves these two series out (an alert on them sees no data, not a reassuring 0), logs a
warning at most once a minute, and the rest of the scrape is served as usual.

Served instead of eventkit's own ``/metrics`` (registered before it, as reporting's is), with eventkit's
series too (:func:`eventkit.metrics.register_process_metrics`), read alongside before each scrape.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime

from fastapi import APIRouter, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from eventkit.backoff import stop_if_cancelled
from eventkit.logging import get_logger
from eventkit.metrics import CONTENT_TYPE, HttpStats, register_process_metrics
from eventkit.runtime import ServiceRuntime
from workflow.service_layer.ports import DueTimers, UnitOfWorkFactory

log = get_logger(__name__)

#: The longest a scrape waits for the read, connecting included (the server limits the query itself
#: to :data:`~workflow.adapters.sql.METRICS_STATEMENT_MS`): a pool taken by other work or a database
#: host that does not answer would otherwise hold the scrape past Prometheus's 10 s, every series lost.
READ_SECONDS = 5.0
#: A database that stays away fails every scrape's read: one warning a minute says so.
WARN_EVERY_SECONDS = 60.0


class TimerBacklog(Collector):
    """The timers due and not fired, as the last scrape read them (nothing when that read failed)."""

    def __init__(self, service: str, uow_factory: UnitOfWorkFactory, now: Callable[[], datetime]) -> None:
        self._service = service
        self._uow_factory = uow_factory
        self._now = now
        self._read: tuple[DueTimers, datetime] | None = None
        self._warned_at = float("-inf")

    async def refresh(self) -> None:
        """Read the backlog for the scrape about to be served."""
        now = self._now()
        try:
            async with asyncio.timeout(READ_SECONDS), self._uow_factory() as uow:
                self._read = (await uow.timers.due_unfired(now), now)
        except Exception as exc:
            stop_if_cancelled(exc)  # the scraper went away: nothing to warn about
            self._read = None
            if time.monotonic() - self._warned_at >= WARN_EVERY_SECONDS:
                self._warned_at = time.monotonic()
                log.warning("cannot read the SLA timers for /metrics; their series are left out", error=repr(exc))

    def collect(self) -> Iterator[Metric]:
        if self._read is None:
            return
        due, now = self._read
        count = GaugeMetricFamily(
            "workflow_timers_due_unfired",
            "SLA timers whose fire_at has passed and that have not fired.",
            labels=["service"],
        )
        count.add_metric([self._service], due.count)
        yield count
        oldest = GaugeMetricFamily(
            "workflow_timers_oldest_due_seconds",
            "How long the oldest timer due and not fired is past its fire_at (0 when none).",
            labels=["service"],
        )
        late = (now - due.oldest_fire_at).total_seconds() if due.oldest_fire_at is not None else 0.0
        oldest.add_metric([self._service], max(late, 0.0))
        yield oldest


class WorkflowMetrics:
    """The registry workflow's ``/metrics`` renders, and what it reads before each scrape."""

    def __init__(self, backlog: TimerBacklog) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(backlog)
        self._reads: list[Callable[[], Awaitable[None]]] = [backlog.refresh]

    def add_process_metrics(self, runtime: ServiceRuntime, http: HttpStats) -> None:
        """Every service's series, as eventkit's ``/metrics`` serves them (once the app, and with it
        ``http``, is built); their readings are refreshed with the timers'."""
        self._reads.append(register_process_metrics(self.registry, runtime, http).refresh)

    def router(self) -> APIRouter:
        router = APIRouter(tags=["health"])

        @router.get("/metrics", response_class=Response)
        async def metrics() -> Response:
            """Prometheus metrics of this process, and the SLA timers due and not fired."""
            await asyncio.gather(*(read() for read in self._reads))  # each bounded, and none raises
            return Response(generate_latest(self.registry), media_type=CONTENT_TYPE)

        return router

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

from collections.abc import Callable, Iterator
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from eventkit.metrics import ScrapeReads, ServedMetrics
from workflow.service_layer.ports import DueTimers, UnitOfWorkFactory

#: The longest a scrape waits for the read, connecting included (the server limits the query itself
#: to :data:`~eventkit.db.SCRAPE_STATEMENT_SECONDS`): a pool taken by other work or a database
#: host that does not answer would otherwise hold the scrape past Prometheus's 10 s, every series lost.
READ_SECONDS = 5.0


class TimerBacklog(Collector):
    """The timers due and not fired, as the last scrape read them (nothing when that read failed)."""

    def __init__(self, service: str, uow_factory: UnitOfWorkFactory, now: Callable[[], datetime]) -> None:
        self._service = service
        self._uow_factory = uow_factory
        self._now = now
        self._read: tuple[DueTimers, datetime] | None = None
        self._reads = ScrapeReads(
            "cannot read the SLA timers for /metrics; their series are left out", wait_seconds=READ_SECONDS
        )

    async def refresh(self) -> None:
        """Read the backlog for the scrape about to be served."""
        now = self._now()
        due = await self._reads.read(lambda: self._due_unfired(now))
        self._read = None if due is None else (due, now)

    async def _due_unfired(self, now: datetime) -> DueTimers:
        async with self._uow_factory() as uow:
            return await uow.timers.due_unfired(now)

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


def workflow_metrics(backlog: TimerBacklog) -> ServedMetrics:
    """Workflow's ``/metrics``: the timers' series, read before each scrape (every service's are added
    once the app is built: :meth:`~eventkit.metrics.ServedMetrics.add_process_metrics`)."""
    served = ServedMetrics()
    served.registry.register(backlog)
    served.read_before_scrape(backlog.refresh)
    return served

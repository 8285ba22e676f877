"""The one place that builds reporting's concrete adapters and wires them into the app."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI

from contracts.catalogue import load_catalogue
from contracts.ids import uuid7
from eventkit.consumer import InboxConsumer
from eventkit.db import purging
from eventkit.http import create_service_app
from eventkit.metrics import register_process_metrics
from eventkit.runtime import ConsumerSpec, ServiceRuntime
from eventkit.settings import ServiceSettings
from reporting.adapters.catalogue_info import CatalogueInfo
from reporting.adapters.feed_listener import FeedListener
from reporting.adapters.read_model import SqlReadModel
from reporting.adapters.retention import purge_event_log
from reporting.adapters.topic_reader import TopicHistory
from reporting.domain.feed import FeedItem
from reporting.domain.outcome import Derivation
from reporting.entrypoints import admin, api, dashboard, stream
from reporting.entrypoints.consumer import LiveProjection, projected_event_types
from reporting.entrypoints.prometheus import ProcessMetrics, metrics_router
from reporting.entrypoints.shutdown import CloseStreamsOnSignal
from reporting.service_layer.broadcaster import Broadcaster
from reporting.service_layer.rebuild import Rebuilder
from reporting.service_layer.reports import Reports
from reporting.settings import ReportingSettings
from workcal import WorkCalendar


@dataclass(frozen=True)
class ReportingContext:
    """What the routes need, built once per app (``app.state.reporting``)."""

    settings: ReportingSettings
    runtime: ServiceRuntime
    reports: Reports
    read_model: SqlReadModel
    broadcaster: Broadcaster
    listener: FeedListener
    rebuilder: Rebuilder
    metrics: ProcessMetrics
    origin: str


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """Build the reporting app; uvicorn runs it, tests mount it."""
    settings = settings if isinstance(settings, ReportingSettings) else ReportingSettings()
    catalogue = CatalogueInfo.from_catalogue(load_catalogue(settings.catalogue_dir))
    derive = Derivation(WorkCalendar(settings.calendar), catalogue.field_of_procedure, catalogue.first_bundle_steps)
    origin = uuid7().hex
    metrics = ProcessMetrics()
    broadcaster = Broadcaster(
        settings.sse_queue_size, settings.sse_max_subscribers, on_drop=lambda n: metrics.dropped.inc(n)
    )
    projection = LiveProjection(derive, projection_channel(settings), origin)
    consumer = ConsumerSpec("projections", settings.topics.all(), projection.dispatcher())

    def on_feed_message(message: dict[str, Any]) -> None:
        if message.get("gap"):  # an item too long to announce, or a rebuild's swap
            broadcaster.gap()
            return
        if not isinstance(message.get("item"), dict):  # a kind of message a later build sends
            return
        item = FeedItem(**{**message["item"], "agencies": tuple(message["item"]["agencies"])})
        broadcaster.publish(item)
        if message.get("origin") == origin:  # count each event once, in the replica that projected it
            metrics.events.labels(producer=item.producer, type=item.type).inc()
            delay = time.time() - datetime.fromisoformat(item.occurred_at).timestamp()
            metrics.delay.observe(max(delay, 0.0))

    # The engine exists only once the runtime does, and the listener is one of its background jobs.
    holder: dict[str, FeedListener] = {}

    async def listen() -> None:
        await holder["listener"].run()

    listen.__name__ = "feed-listener"
    background = [listen]
    if settings.event_log_retention_days > 0:
        retention = timedelta(days=settings.event_log_retention_days)

        async def purge_old_events() -> None:
            await purging(
                lambda: purge_event_log(
                    runtime.engine, datetime.now(UTC) - retention, consumer=runtime.consumers[0].name
                ),
                retention_seconds=retention.total_seconds(),
                what="the event log",
            )

        background.append(purge_old_events)
    runtime = ServiceRuntime(settings, migrations_package="reporting", consumers=[consumer], background=background)
    signals = CloseStreamsOnSignal(broadcaster.close)

    def feed_stopped() -> None:
        broadcaster.close()
        signals.restore()

    listener = FeedListener(
        runtime.engine, projection_channel(settings), on_feed_message, on_stop=feed_stopped, on_gap=broadcaster.gap
    )
    holder["listener"] = listener
    read_model = SqlReadModel(runtime.engine)
    rebuilder = Rebuilder(
        runtime.maintenance_engine,  # a table's indexes over millions of events take minutes
        lambda: TopicHistory(
            settings.kafka_bootstrap_servers,
            settings.topics.all(),
            client_id=f"{settings.service_name}.rebuild",
            stall_seconds=settings.rebuild_stall_seconds,
            fetch_max_bytes=settings.rebuild_fetch_max_bytes,
        ),
        derive,
        set(projected_event_types()),
        live_consumer=runtime.consumers[0].name,
        batch_size=settings.rebuild_batch_size,
        cache_size=settings.rebuild_cache_size,
        progress_seconds=settings.rebuild_progress_seconds,
        feed_channel=projection_channel(settings),
    )

    rebuilder.on_finished = metrics.rebuild_finished
    runtime.also_stop("rebuild", rebuilder.stop)
    context = ReportingContext(
        settings=settings,
        runtime=runtime,
        reports=Reports(read_model, catalogue, settings.index_config(), settings.include_subordinate_agencies),
        read_model=read_model,
        broadcaster=broadcaster,
        listener=listener,
        rebuilder=rebuilder,
        metrics=metrics,
        origin=origin,
    )
    before_scrape: list[Callable[[], Awaitable[None]]] = []  # eventkit's readings, added once the app is
    routers = [
        api.router,
        stream.router,
        admin.router,
        dashboard.router,
        metrics_router(
            metrics,
            read_model.prometheus_snapshot,
            lambda: consumer_lags(runtime.consumers),
            settings.metrics_cache_seconds,
            before_scrape,
        ),
    ]
    app = create_service_app(
        runtime,
        title="Reporting: metrics, the citizen-service index, live events",
        routers=routers,
        on_startup=signals.install,
    )
    app.state.reporting = context
    # Its /metrics is served instead of eventkit's: it serves what eventkit's would too (dead letters in
    # its consumer, the process's CPU and memory went unseen).
    before_scrape.append(register_process_metrics(metrics.registry, runtime, app.state.http_stats).refresh)
    return app


def projection_channel(settings: ReportingSettings) -> str:
    """The NOTIFY channel of this service's schema (several schemas may share one database)."""
    return f"{settings.schema_name}_feed"


async def consumer_lags(consumers: list[InboxConsumer]) -> dict[str, int]:
    """Each consumer's lag; one not connected (or not yet measurable) has no series, never a 0."""
    lags = {consumer.name: await consumer.lag() for consumer in consumers}
    return {name: lag for name, lag in lags.items() if lag is not None}

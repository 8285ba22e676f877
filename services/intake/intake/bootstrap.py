"""The one place that builds intake's concrete adapters and wires them into the app."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.catalogue import Catalogue, load_catalogue
from eventkit.db import purging
from eventkit.http import create_service_app
from eventkit.logging import get_logger
from eventkit.runtime import ServiceRuntime
from intake.adapters.group_commit import GroupCommit
from intake.adapters.postgres import SqlIntakeUnitOfWork
from intake.adapters.subjects import rekey_open_subjects
from intake.adapters.views import PostgresViews
from intake.domain.rules import IntakeRules
from intake.entrypoints import action_routes, catalogue_routes, dossier_routes
from intake.entrypoints.catalogue_routes import CatalogueDocuments
from intake.entrypoints.consumers import tracking_consumer
from intake.entrypoints.errors import install_error_handlers
from intake.service_layer.handlers import IntakeContext
from intake.settings import IntakeSettings
from workcal import WorkCalendar

log = get_logger(__name__)

TITLE = "Intake: the REST API the national portal calls"
DESCRIPTION = (
    "Procedure catalogue, dossier and linked-bundle submission with receipts, the citizen's tracking view, "
    "and citizen actions (supplements, payments, ratings, withdrawals). Every accepted request is recorded "
    "as events on intake.events."
)


def utc_now() -> datetime:
    return datetime.now(UTC)


_PURGE_KEYS = """
DELETE FROM idempotency_keys WHERE key IN (
    SELECT key FROM idempotency_keys WHERE created_at < now() - make_interval(secs => :s) ORDER BY created_at LIMIT :n
)
"""


async def purge_idempotency_keys(engine: AsyncEngine, retention_hours: float, *, batch_size: int = 10_000) -> int:
    """Forget Idempotency-Key replies older than the retention, the oldest first, a short
    transaction per batch (a day of submissions in one statement could outlast its time limit);
    how many were forgotten."""
    deleted = 0
    while True:
        async with engine.begin() as conn:
            params = {"s": retention_hours * 3600, "n": batch_size}
            batch = (await conn.execute(text(_PURGE_KEYS), params)).rowcount
        deleted += batch
        if batch < batch_size:
            break
        await asyncio.sleep(0)  # let requests in between batches
    if deleted:
        log.info("idempotency keys forgotten", deleted=deleted, older_than_hours=retention_hours)
    return deleted


def create_app(settings: IntakeSettings | None = None, *, catalogue: Catalogue | None = None) -> FastAPI:
    """Build the intake app; uvicorn runs it, tests mount it."""
    settings = settings or IntakeSettings()
    catalogue = catalogue or load_catalogue(settings.catalogue_dir)
    rules = IntakeRules.build(catalogue, WorkCalendar(settings.calendar))

    async def purge_old_idempotency_keys() -> None:
        hours = settings.idempotency_retention_hours
        await purging(
            lambda: purge_idempotency_keys(runtime.engine, hours),
            retention_seconds=hours * 3600,
            what="idempotency keys",
        )

    async def rekey_subjects() -> None:
        """Before requests: a digest made by an older rule would let a duplicate in."""
        await rekey_open_subjects(runtime.engine, catalogue)

    runtime = ServiceRuntime(
        settings,
        migrations_package="intake",
        consumers=[tracking_consumer(settings.topics, catalogue)],
        background=[purge_old_idempotency_keys],
    )
    app = create_service_app(
        runtime,
        title=TITLE,
        routers=[catalogue_routes.router, dossier_routes.router, action_routes.router],
        max_body_bytes=settings.max_body_bytes,
        on_startup=rekey_subjects,
    )
    app.description = DESCRIPTION
    group_commit = GroupCommit(
        runtime.engine,
        max_batch=settings.submit_batch_max,
        writers=settings.submit_writers,
        on_written=runtime.relay.notify,
    )
    runtime.also_stop("intake-group-commit", group_commit.stop)
    app.state.group_commit = group_commit
    app.state.intake = IntakeContext(
        rules=rules,
        topic=settings.topics.intake_events,
        clock=utc_now,
        uow=lambda: SqlIntakeUnitOfWork(runtime.engine, on_queued=runtime.relay.notify, group_commit=group_commit),
    )
    app.state.views = PostgresViews(runtime.engine)
    app.state.catalogue_documents = CatalogueDocuments(catalogue)
    install_error_handlers(app)
    return app

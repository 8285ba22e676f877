"""The one place that builds workflow's concrete adapters and wires them into the app."""

from __future__ import annotations

from fastapi import FastAPI

from contracts.catalogue import Catalogue, load_catalogue
from eventkit.http import create_service_app
from eventkit.runtime import ConsumerSpec, ServiceRuntime
from eventkit.settings import ServiceSettings
from workcal import WorkCalendar
from workflow.adapters.clock import SystemClock
from workflow.adapters.sql import SqlWorkflowUnitOfWork
from workflow.domain.policies import Rules
from workflow.entrypoints import api
from workflow.entrypoints.consumers import intake_dispatcher, registry_dispatcher
from workflow.entrypoints.metrics import TimerBacklog, workflow_metrics
from workflow.entrypoints.poller import ended_bundle_sweeper, timer_poller
from workflow.service_layer.context import WorkflowContext
from workflow.service_layer.ports import Clock
from workflow.settings import WorkflowSettings


def create_app(
    settings: ServiceSettings | None = None, *, clock: Clock | None = None, catalogue: Catalogue | None = None
) -> FastAPI:
    """Build the workflow app; uvicorn runs it, tests mount it (with their own clock, if they like)."""
    settings = (
        settings
        if isinstance(settings, WorkflowSettings)
        else WorkflowSettings(**(settings.model_dump() if settings else {}))
    )
    rules = Rules(
        catalogue=catalogue or load_catalogue(settings.catalogue_dir),
        calendar=WorkCalendar(settings.calendar),
        province_code=settings.id_province_code,
        due_soon_lead_seconds=settings.due_soon_working_hours * 3600,
    )

    def new_unit_of_work() -> SqlWorkflowUnitOfWork:
        return SqlWorkflowUnitOfWork(runtime.uow())

    ctx = WorkflowContext(
        rules=rules, clock=clock or SystemClock(), topics=settings.topics, tasks_page_size=settings.tasks_page_size
    )
    runtime = ServiceRuntime(
        settings,
        migrations_package="workflow",
        consumers=[
            ConsumerSpec("intake", [settings.topics.intake_events], intake_dispatcher(ctx)),
            ConsumerSpec("registry", [settings.topics.registry_events], registry_dispatcher(ctx)),
        ],
        background=[
            timer_poller(new_unit_of_work, ctx, interval=settings.timer_poll_seconds, batch=settings.timer_batch_size),
            ended_bundle_sweeper(new_unit_of_work, ctx, interval=settings.bundle_sweep_seconds),
        ],
    )
    metrics = workflow_metrics(TimerBacklog(settings.service_name, new_unit_of_work, ctx.now))
    app = create_service_app(
        runtime,
        title="Workflow: dossier lifecycle, deadlines, officials' tasks, sagas",
        routers=[
            api.router,
            metrics.router("Prometheus metrics of this process, and the SLA timers due and not fired."),
        ],
    )
    # Its /metrics is served instead of eventkit's, which cannot see the timers it has not fired: with
    # eventkit's series too.
    metrics.add_process_metrics(runtime, app.state.http_stats)
    api.install(app, ctx, new_unit_of_work)
    return app

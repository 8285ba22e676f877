"""The one place that builds registry-sync's concrete adapters and wires them into the app."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI

from contracts.catalogue import load_catalogue
from eventkit.http import create_service_app
from eventkit.logging import get_logger
from eventkit.runtime import ServiceRuntime
from eventkit.settings import ServiceSettings
from registry_sync.adapters.benefits import HttpSocialInsurance, HttpSocialWelfare
from registry_sync.adapters.catalogue import catalogue_document_names, unsupported_operations
from registry_sync.adapters.http_client import ExternalHttpClient
from registry_sync.adapters.operations import OperationTable
from registry_sync.adapters.portal import HttpNationalPortal
from registry_sync.adapters.registries import HttpCivilStatusRegistry, HttpPopulationDatabase
from registry_sync.adapters.repository import sql_unit_of_work_factory
from registry_sync.domain.commands import RegistryCommand
from registry_sync.domain.portal_sync import DossierSync
from registry_sync.domain.retry import RetryPolicy
from registry_sync.entrypoints.consumers import consumer_specs
from registry_sync.entrypoints.http import HttpContext, RegistrySyncMetrics, build_router
from registry_sync.service_layer.commands import CommandExecutor
from registry_sync.service_layer.ended_fee_lines import EndedFeeLinesRepair
from registry_sync.service_layer.guard import Guards
from registry_sync.service_layer.portal_sync import PORTAL, PortalPusher
from registry_sync.service_layer.reconciliation import Reconciler
from registry_sync.service_layer.workers import Wakeups, WorkLoop
from registry_sync.settings import RegistrySyncSettings

log = get_logger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


def operation_table(clients: dict[str, ExternalHttpClient], province_code: str) -> OperationTable:
    """(system, operation) → adapter method. Operation names are the procedure catalogue's
    ``performer.operation``; the others are operations the issue names that no procedure uses yet."""
    population = HttpPopulationDatabase(clients["population_db"], province_code)
    civil_status = HttpCivilStatusRegistry(clients["civil_status"], province_code)
    insurance = HttpSocialInsurance(clients["social_insurance"])
    welfare = HttpSocialWelfare(clients["social_welfare"])
    return OperationTable(
        {
            ("population_db", "register_permanent_residence"): population.register_permanent_residence,
            ("population_db", "deregister_permanent_residence"): population.deregister_permanent_residence,
            ("population_db", "assign_personal_id_number"): population.assign_personal_id_number,
            ("population_db", "lookup_citizen"): population.lookup_citizen,
            ("civil_status", "record_birth"): civil_status.record_birth,
            ("civil_status", "record_death"): civil_status.record_death,
            ("social_insurance", "issue_child_health_insurance_card"): insurance.issue_child_health_insurance_card,
            ("social_insurance", "pay_funeral_allowance"): insurance.pay_funeral_allowance,
            ("social_welfare", "grant_burial_support"): welfare.grant_burial_support,
        }
    )


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """Build the registry-sync app; uvicorn runs it, tests mount it."""
    settings = settings or RegistrySyncSettings()
    assert isinstance(settings, RegistrySyncSettings)
    clock = utc_now
    systems = settings.systems()
    clients = {name: ExternalHttpClient(name, s, settings.base_url(name)) for name, s in systems.items()}
    operations = operation_table(clients, settings.province_code)
    catalogue = load_catalogue(settings.catalogue_dir)
    if settings.environment == "production" and (simulated := settings.simulated_systems()):
        log.error("production calls the registry simulator, not the national systems: set each system's URL",
                  systems=simulated)  # fmt: skip
    if missing := unsupported_operations(catalogue, operations):
        log.error("the catalogue names registry operations this build cannot perform: their steps will be refused",
                  procedures=missing)  # fmt: skip
    policy = RetryPolicy(
        base_seconds=settings.retry_base_seconds,
        max_delay_seconds=settings.retry_max_delay_seconds,
        max_attempts=settings.retry_max_attempts,
        give_up_after_seconds=settings.retry_give_up_after_seconds,
    )
    guards = Guards.build(
        [(name, s.max_concurrency) for name, s in systems.items()],
        policy,
        failure_threshold=settings.breaker_failure_threshold,
        cooldown_seconds=settings.breaker_cooldown_seconds,
    )
    loops: list[WorkLoop[Any]] = []
    wakeups = Wakeups()

    async def registry_workers() -> None:
        try:
            # The repair runs once, beside the workers: a task of its own would end, and readiness
            # reads a task that ended as stopped.
            await asyncio.gather(*(loop.run() for loop in loops), repair.run_until_done())
        finally:
            await asyncio.gather(*(client.aclose() for client in clients.values()))

    async def reconciliation() -> None:
        await reconciler.periodic(settings.reconciliation_interval_seconds)

    background: list[Callable[[], Awaitable[None]]] = [registry_workers]
    if settings.reconciliation_interval_seconds > 0:
        background.append(reconciliation)
    runtime = ServiceRuntime(
        settings,
        migrations_package="registry_sync",
        consumers=consumer_specs(
            settings.topics,
            operations,
            clock,
            portal_settle_seconds=settings.portal_settle_seconds,
            wakeups=wakeups,
        ),
        background=background,
    )
    uow = sql_unit_of_work_factory(runtime.uow)
    one_statement = sql_unit_of_work_factory(runtime.single_statement)
    topic = settings.topics.registry_events
    executor = CommandExecutor(
        uow,
        operations,
        guards,
        topic,
        clock,
        lease_seconds=settings.worker_lease_seconds,
        outage_seconds=settings.worker_outage_seconds,
        dossier_wait_seconds=settings.dossier_wait_seconds,
        one_statement=one_statement,
    )
    pusher = PortalPusher(
        uow,
        HttpNationalPortal(clients[PORTAL]),
        guards,
        catalogue_document_names(catalogue),
        topic,
        clock,
        lease_seconds=settings.worker_lease_seconds,
        outage_seconds=settings.worker_outage_seconds,
        one_statement=one_statement,
    )
    for system in systems:
        if system == PORTAL:
            continue
        loops.append(_command_loop(system, executor, guards, settings.worker_poll_seconds))
        wakeups.register(loops[-1])
    runtime.also_stop("portal-finish", pusher.stop)  # it ran on into a disposed pool at every stop
    portal_loop: WorkLoop[DossierSync] = WorkLoop(
        PORTAL, guards[PORTAL], pusher.claim, pusher.push, poll_seconds=settings.worker_poll_seconds
    )
    loops.append(portal_loop)
    repair = EndedFeeLinesRepair(uow, clock, on_repaired=portal_loop.wake)
    reconciler = Reconciler(
        uow,
        HttpNationalPortal(clients[PORTAL]),
        guards[PORTAL],
        policy,
        clock,
        page_size=settings.reconciliation_page_size,
        max_pages=settings.reconciliation_max_pages,
        clock_skew_seconds=settings.reconciliation_clock_skew_seconds,
        refused_retry_seconds=settings.reconciliation_refused_retry_seconds,
        on_repush=portal_loop.wake,
    )
    # In a transaction (not one_statement's autocommit): each read's SET LOCAL statement_timeout applies.
    metrics = RegistrySyncMetrics(settings.service_name, guards, uow, clock)
    app: FastAPI = create_service_app(
        runtime,
        title="Registry sync: national registries and portal synchronisation",
        routers=[
            build_router(),
            metrics.router("Prometheus metrics of this process: breakers, command and portal backlogs, and the rest."),
        ],
    )
    app.state.registry_sync = HttpContext(uow=uow, guards=guards, reconciler=reconciler, clock=clock)
    # Its /metrics is served instead of eventkit's, which cannot see the breakers and backlogs: with
    # eventkit's series too.
    metrics.add_process_metrics(runtime, app.state.http_stats)
    return app


def _command_loop(system: str, executor: CommandExecutor, guards: Guards, poll: float) -> WorkLoop[RegistryCommand]:
    async def claim(limit: int) -> list[RegistryCommand]:
        return await executor.claim(system, limit)

    return WorkLoop(system, guards[system], claim, executor.execute, poll_seconds=poll)

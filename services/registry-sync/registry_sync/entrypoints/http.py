"""HTTP routes: the synchronisation summary, one dossier's or command's sync state,
reconciliation on demand, and ``GET /metrics`` with registry-sync's own series."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from pydantic import AfterValidator, BaseModel, Field

from contracts.ids import as_stored_id
from eventkit.auth import OperatorOnly
from eventkit.http import error
from eventkit.logging import get_logger
from eventkit.metrics import ScrapeReads, ServedMetrics
from registry_sync.service_layer.guard import Guards
from registry_sync.service_layer.reconciliation import Reconciler, ReconciliationRunning
from registry_sync.service_layer.status import Backlog, PortalBacklog, command_backlog, portal_backlog, sync_status
from registry_sync.service_layer.unit_of_work import Clock, UnitOfWorkFactory

log = get_logger(__name__)

#: How long a scrape waits for one backlog read; asyncpg then cancels the statement on the server.
METRICS_READ_SECONDS: Final = 3.0


@dataclass(frozen=True)
class HttpContext:
    """What the routes need, built once by bootstrap."""

    uow: UnitOfWorkFactory
    guards: Guards
    reconciler: Reconciler
    clock: Clock


def get_context(request: Request) -> HttpContext:
    context: HttpContext = request.app.state.registry_sync
    return context


ContextDep = Annotated[HttpContext, Depends(get_context)]
DossierIdPath = Annotated[
    str, Path(min_length=1, max_length=100, description="The dossier id."), AfterValidator(as_stored_id)
]
CommandIdPath = Annotated[
    str, Path(min_length=1, max_length=200, description="The command id."), AfterValidator(as_stored_id)
]


class DossierSyncPublic(BaseModel):
    """Where one dossier stands with the national portal."""

    dossier_id: str
    code: str
    status: str = Field(description="synced, pending or failed.")
    state: int | None = Field(description="National status code 1–10 of our latest version.")
    awaiting: list[str] = Field(description="Data no event has given us yet; the push waits for it.")
    revision: int = Field(description="Our local version of the dossier.")
    synced_revision: int = Field(description="The version the portal acknowledged.")
    portal_revision: int | None = Field(description="The portal's revision after our last write.")
    attempts: int = Field(description="Calls made for the pending version.")
    last_attempt_at: datetime | None
    last_error: str | None
    synced_at: datetime | None
    lag_seconds: float = Field(description="Pending: since the oldest unacknowledged change; else the last lag.")


class CommandPublic(BaseModel):
    """Where one registry command stands."""

    command_id: str
    system: str
    operation: str
    dossier_id: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    result: dict[str, Any] | None
    completed_at: datetime | None


def _not_found(what: str, path: str) -> JSONResponse:
    return JSONResponse({"error": "not_found", "detail": [{"path": path, "msg": f"no such {what}"}]}, 404)


def build_router() -> APIRouter:
    # Operators only: a command's result holds citizens' personal data (a newborn's number, names).
    router = APIRouter(
        prefix="/v1",
        tags=["registry-sync"],
        dependencies=[OperatorOnly],
        responses={401: error("No bearer token, or one that does not verify."), 403: error("Not an operator.")},
    )

    @router.get("/sync/status")
    async def get_sync_status(context: ContextDep) -> dict[str, Any]:
        """Portal synchronisation and registry commands: counts, lags, failures, breakers."""
        return await sync_status(context.uow, context.guards, context.clock())

    @router.get(
        "/sync/dossiers/{dossier_id}", response_model=DossierSyncPublic, responses={404: error("No such dossier.")}
    )
    async def get_dossier_sync(dossier_id: DossierIdPath, context: ContextDep) -> DossierSyncPublic | JSONResponse:
        """One dossier's synchronisation state."""
        async with context.uow() as uow:
            sync = await uow.dossiers.get(dossier_id)
        if sync is None:
            return _not_found("dossier", "$.dossier_id")
        pending_lag = sync.pending_lag(context.clock())
        return DossierSyncPublic(
            dossier_id=sync.dossier_id,
            code=sync.code,
            status=sync.status.value,
            state=sync.record.state,
            awaiting=sync.record.missing(),
            revision=sync.revision,
            synced_revision=sync.synced_revision,
            portal_revision=sync.portal_revision,
            attempts=sync.attempts,
            last_attempt_at=sync.last_attempt_at,
            last_error=sync.last_error,
            synced_at=sync.synced_at,
            lag_seconds=round(pending_lag or (sync.last_lag_seconds or 0.0), 3),
        )

    @router.get("/commands/{command_id}", response_model=CommandPublic, responses={404: error("No such command.")})
    async def get_command(command_id: CommandIdPath, context: ContextDep) -> CommandPublic | JSONResponse:
        """One registry command's state."""
        async with context.uow() as uow:
            command = await uow.commands.get(command_id)
        if command is None:
            return _not_found("command", "$.command_id")
        return CommandPublic(
            command_id=command.command_id,
            system=command.system,
            operation=command.operation,
            dossier_id=command.dossier_id,
            status=command.status.value,
            attempts=command.attempts,
            next_attempt_at=None if command.done else command.next_attempt_at,
            last_error=command.last_error,
            result=command.result,
            completed_at=command.completed_at,
        )

    @router.post("/reconciliations", status_code=201, responses={409: error("A reconciliation is running.")})
    async def reconcile(context: ContextDep) -> Any:
        """Compare the portal with our dossiers now and queue what it lacks or holds stale."""
        try:
            report = await context.reconciler.run("on_demand")
        except ReconciliationRunning:
            return JSONResponse({"error": "reconciliation_running", "detail": "a run is in progress"}, 409)
        return report.as_json()

    return router


class RegistrySyncMetrics(ServedMetrics, Collector):
    """registry-sync's ``GET /metrics``: this replica's breakers, the backlogs of registry commands and
    portal pushes and the pushes that failed, read from the database at scrape time, and every
    service's series (eventkit's).

    prometheus_client collects synchronously, so the route reads first (:meth:`refresh`: the two
    backlogs, as ``GET /v1/sync/status`` counts them, the failed pushes with the portal's, and
    eventkit's readings) and :meth:`collect` yields what was read. A backlog read that fails or
    outlasts ``read_seconds`` leaves its series out (absent, not a 0 that says nothing waits), the
    scrape is still answered, and a warning is logged at most once a minute. Served instead of
    eventkit's ``/metrics`` (registered before it, as reporting's and workflow's are)."""

    def __init__(
        self,
        service: str,
        guards: Guards,
        uow: UnitOfWorkFactory,
        clock: Clock,
        *,
        read_seconds: float = METRICS_READ_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._service = service
        self._guards = guards
        self._uow = uow
        self._clock = clock
        self._reads = ScrapeReads(
            "cannot read a backlog for /metrics: its series are left out",
            wait_seconds=read_seconds,
            monotonic=monotonic,
        )
        self._commands: Backlog | None = None
        self._portal: PortalBacklog | None = None
        self.registry.register(self)
        self.read_before_scrape(self._read_backlogs)

    async def _read_backlogs(self) -> None:
        # One after the other: one pooled connection at a time, and 2 × read_seconds at worst.
        self._commands = await self._reads.read(
            lambda: command_backlog(self._uow, self._clock), backlog="registry commands"
        )
        self._portal = await self._reads.read(lambda: portal_backlog(self._uow, self._clock), backlog="portal pushes")

    def collect(self) -> Iterator[Metric]:
        service = self._service
        # Not "half-open": a replica with no work for the system makes no probe and stays half-open, for
        # hours after another replica's probe found the system back (CircuitBreaker.seeing_outage).
        breakers = GaugeMetricFamily(
            "registry_breaker_open",
            "1 while this replica's breaker of the system is open, probing, or half-open within two cool-downs"
            " of its last failure (the outage still seen from here); else 0.",
            labels=["service", "system"],
        )
        for system, guard in sorted(self._guards.by_system.items()):
            breakers.add_metric([service, system], 1.0 if guard.breaker.seeing_outage() else 0.0)
        yield breakers
        if (commands := self._commands) is not None:
            pending = GaugeMetricFamily(
                "registry_commands_pending", "Registry commands not done yet, every system.", labels=["service"]
            )
            oldest = GaugeMetricFamily(
                "registry_commands_oldest_pending_seconds",
                "How long the oldest pending registry command has waited since received (0 when none).",
                labels=["service"],
            )
            yield from _per_service(service, (pending, commands.pending), (oldest, commands.oldest_seconds))
        if (portal := self._portal) is not None:
            pending = GaugeMetricFamily(
                "portal_sync_pending",
                "Dossiers with a change the national portal has not acknowledged (awaiting data included).",
                labels=["service"],
            )
            oldest = GaugeMetricFamily(
                "portal_sync_oldest_pending_seconds",
                "How long the oldest change the portal has not acknowledged has waited (0 when none).",
                labels=["service"],
            )
            failed = GaugeMetricFamily(
                "portal_sync_failed",
                "Dossiers whose push the portal refused or we gave up on, until a change or reconciliation"
                " pushes them again.",
                labels=["service"],
            )
            yield from _per_service(
                service, (pending, portal.pending), (oldest, portal.oldest_seconds), (failed, portal.failed)
            )


def _per_service(service: str, *gauges: tuple[GaugeMetricFamily, float]) -> Iterator[Metric]:
    for gauge, value in gauges:
        gauge.add_metric([service], value)
        yield gauge

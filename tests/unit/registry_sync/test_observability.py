"""What registry-sync tells operators: a breaker opening and closing, reconciliation's progress and
an incomplete listing in its logs, and its breakers and backlogs on ``GET /metrics``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, MutableMapping
from datetime import timedelta
from typing import Any

import httpx
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from structlog.testing import capture_logs

from registry_sync.adapters.memory import InMemoryRegistry
from registry_sync.bootstrap import create_app
from registry_sync.domain.breaker import BreakerState, CircuitBreaker
from registry_sync.domain.commands import CommandStatus, RegistryCommand
from registry_sync.domain.outcomes import Rejected, Succeeded, Transient
from registry_sync.domain.portal_record import new_record
from registry_sync.domain.portal_sync import GAVE_UP, DossierSync, SyncStatus
from registry_sync.domain.retry import RetryPolicy
from registry_sync.entrypoints.http import RegistrySyncMetrics
from registry_sync.service_layer.guard import Guards, SystemGuard
from registry_sync.service_layer.portal_sync import record_dossier_event
from registry_sync.service_layer.reconciliation import Reconciler
from registry_sync.service_layer.unit_of_work import StatusCount
from registry_sync.settings import ExternalSystemSettings, RegistrySyncSettings
from tests.unit.registry_sync.events import T0, received, submitted
from tests.unit.registry_sync.fakes import Clock, DatabaseGoesAway, FakePortal, guards

NOWHERE = "postgresql+asyncpg://u@127.0.0.1:1/x"  # never started: nothing connects
SERVICE = "registry-sync"


class Seconds:
    """A settable monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def portal_guard(seconds: Seconds) -> SystemGuard:
    breaker = CircuitBreaker("national_portal", failure_threshold=2, cooldown_seconds=30, clock=seconds)
    return SystemGuard("national_portal", breaker, max_concurrency=1)


async def call(guard: SystemGuard, outcome: Succeeded | Rejected | Transient) -> None:
    async def attempt() -> Succeeded | Rejected | Transient:
        return outcome

    await guard.call(attempt)


def breaker_lines(logs: list[MutableMapping[str, Any]]) -> list[MutableMapping[str, Any]]:
    return [e for e in logs if "circuit breaker" in e["event"]]


async def test_a_breaker_that_opens_logs_a_warning_with_the_system_its_failures_and_its_cool_down() -> None:
    """An outage stopped every call to the system without a line in the logs: operators learned of it
    only by polling GET /v1/sync/status."""
    guard = portal_guard(Seconds())
    with capture_logs() as logs:
        await call(guard, Transient("503", 503))
        assert breaker_lines(logs) == []  # one failure does not open it
        await call(guard, Transient("timeout"))
    assert guard.breaker.state is BreakerState.OPEN
    [opened] = breaker_lines(logs)
    assert opened["log_level"] == "warning"
    assert (opened["system"], opened["failures"], opened["cooldown_seconds"]) == ("national_portal", 2, 30)


async def test_a_breaker_that_closes_again_logs_it_with_how_long_the_system_was_out() -> None:
    """Nothing said when calls to the system resumed, nor how long the outage had lasted. A failed
    probe, repeated every cool-down through an outage, is an INFO line, not another warning."""
    seconds = Seconds()
    guard = portal_guard(seconds)
    for _ in range(2):
        await call(guard, Transient("503", 503))
    with capture_logs() as logs:
        seconds.now += 30
        await call(guard, Transient("503", 503))  # the probe fails
        seconds.now += 30
        await call(guard, Succeeded({}))  # the next one succeeds
    assert guard.breaker.state is BreakerState.CLOSED
    failed_probe, closed = breaker_lines(logs)
    assert (failed_probe["log_level"], failed_probe["failures"], failed_probe["outage_seconds"]) == ("info", 3, 30)
    assert (closed["log_level"], closed["system"], closed["outage_seconds"]) == ("info", "national_portal", 60)
    assert "closed again" in closed["event"]


async def consume(registry: InMemoryRegistry, clock: Clock, *codes: str) -> None:
    for n, code in enumerate(codes):
        for envelope in (submitted(f"d{n}", code), received(f"d{n}", code)):
            async with registry.unit_of_work() as uow:
                await record_dossier_event(envelope, uow, now=clock())


def reconciler(registry: InMemoryRegistry, portal: FakePortal, clock: Clock, **options: Any) -> Reconciler:
    made = guards()

    async def no_sleep(seconds: float) -> None:
        pass

    return Reconciler(
        registry.unit_of_work, portal, made["national_portal"], made.policy, clock, sleep=no_sleep, **options
    )


async def test_reconciliation_logs_its_progress_every_few_chunks() -> None:
    """A run over millions of dossiers logged nothing from its start to its end, many minutes later:
    a long run could not be told from a stuck one."""
    registry, portal, clock = InMemoryRegistry(), FakePortal(), Clock()
    await consume(registry, clock, *(f"CAXANPHU-240710-{n:04d}" for n in range(1, 8)))
    run = reconciler(registry, portal, clock, page_size=2, chunk_size=2, progress_every_chunks=2)
    with capture_logs() as logs:
        report = await run.run("on_demand")
    assert report.local_dossiers == 7
    progress = [e for e in logs if e["event"] == "reconciliation in progress"]
    assert [(e["chunks"], e["local_dossiers"], e["trigger"]) for e in progress] == [
        (2, 4, "on_demand"),
        (4, 7, "on_demand"),
    ]
    assert all(e["log_level"] == "info" for e in progress)


async def test_a_reconciliation_without_the_portal_s_whole_listing_warns_with_its_error_masked() -> None:
    """The last line dropped the error and stayed at INFO: a run that could not list the portal read as
    a clean one with every dossier "not judged", for no reason given."""
    registry, portal, clock = InMemoryRegistry(), FakePortal(), Clock()
    await consume(registry, clock, "CAXANPHU-240710-0001")
    portal.list_failures.extend([Transient("503 at /citizens/036190000123", 503)] * 3)
    with capture_logs() as logs:
        report = await reconciler(registry, portal, clock).run("periodic")
    assert not report.listing_complete
    [finished] = [e for e in logs if e["event"].startswith("reconciliation finished")]
    assert finished["log_level"] == "warning"
    assert finished["error"].startswith("portal listing failed: 503 at /citizens/03")
    assert "036190000123" not in finished["error"]
    assert (finished["not_judged"], finished["trigger"]) == (1, "periodic")


def samples(metrics: RegistrySyncMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(metrics.registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def command(command_id: str, *, received_ago: float, status: CommandStatus = CommandStatus.PENDING) -> RegistryCommand:
    at = T0 - timedelta(seconds=received_ago)
    return RegistryCommand(
        command_id=command_id,
        system="population_db",
        operation="register_permanent_residence",
        dossier_id="d1",
        data={},
        requested_at=at,
        received_at=at,
        correlation_id="c",
        causation_id="e",
        next_attempt_at=at,
        status=status,
    )


def dossier(dossier_id: str, *, unsynced_for: float, status: SyncStatus = SyncStatus.PENDING) -> DossierSync:
    since = T0 - timedelta(seconds=unsynced_for)
    return DossierSync(
        dossier_id,
        new_record(dossier_id, f"CAXANPHU-240710-{dossier_id}"),
        changed_at=since,
        next_attempt_at=since,
        status=status,
        unsynced_since=None if status is SyncStatus.SYNCED else since,
    )


def by_service(name: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return (name, (("service", SERVICE),))


async def test_metrics_show_each_system_s_breaker_and_the_backlogs_with_the_age_of_the_oldest() -> None:
    """registry-sync exported nothing of its own: an open breaker, commands stuck for hours or a portal
    falling behind showed on no dashboard and could raise no alert."""
    registry, clock = InMemoryRegistry(), Clock()
    registry.commands.rows.update(
        {c.command_id: c for c in (command("a", received_ago=90), command("b", received_ago=30))}
    )
    registry.commands.rows["old"] = command("old", received_ago=9000, status=CommandStatus.SUCCEEDED)
    registry.dossiers.rows.update(
        {d.dossier_id: d for d in (dossier("0001", unsynced_for=600), dossier("0002", unsynced_for=5))}
    )
    registry.dossiers.rows["0003"] = dossier("0003", unsynced_for=9000, status=SyncStatus.SYNCED)
    made = guards(threshold=1)
    await call(made["population_db"], Transient("503", 503))
    metrics = RegistrySyncMetrics(SERVICE, made, registry.unit_of_work, clock)

    await metrics.refresh()
    got = samples(metrics)

    assert got[("registry_breaker_open", (("service", SERVICE), ("system", "population_db")))] == 1.0
    assert got[("registry_breaker_open", (("service", SERVICE), ("system", "national_portal")))] == 0.0
    assert got[by_service("registry_commands_pending")] == 2
    assert got[by_service("registry_commands_oldest_pending_seconds")] == 90
    assert got[by_service("portal_sync_pending")] == 2
    assert got[by_service("portal_sync_oldest_pending_seconds")] == 600


async def test_metrics_count_the_dossiers_whose_portal_push_was_refused_or_given_up() -> None:
    """A push the portal refused (status failed) was counted by no series: dossiers it will never show
    piled up unseen, since the backlog counts only the pending ones."""
    registry = InMemoryRegistry()
    refused = dossier("0001", unsynced_for=600, status=SyncStatus.FAILED)
    refused.last_error = "422: code not recognised"
    given_up = dossier("0002", unsynced_for=90000, status=SyncStatus.FAILED)
    given_up.last_error = f"{GAVE_UP}40 attempts: timeout"
    waiting = dossier("0003", unsynced_for=5)
    registry.dossiers.rows.update({d.dossier_id: d for d in (refused, given_up, waiting)})
    metrics = RegistrySyncMetrics(SERVICE, guards(), registry.unit_of_work, Clock())

    await metrics.refresh()
    got = samples(metrics)

    assert got[by_service("portal_sync_failed")] == 2
    assert got[by_service("portal_sync_pending")] == 1


async def test_with_nothing_waiting_the_oldest_pending_reads_zero() -> None:
    metrics = RegistrySyncMetrics(SERVICE, guards(), InMemoryRegistry().unit_of_work, Clock())
    await metrics.refresh()
    got = samples(metrics)
    assert got[by_service("registry_commands_oldest_pending_seconds")] == 0
    assert got[by_service("portal_sync_oldest_pending_seconds")] == 0
    assert got[by_service("portal_sync_failed")] == 0


async def test_a_failed_backlog_read_leaves_its_series_out_and_warns_at_most_once_a_minute() -> None:
    """Gauges read from the database must neither fail the scrape nor read 0 ("nothing waits") when the
    database cannot say, nor log a warning at every scrape of a long outage."""
    registry, seconds = InMemoryRegistry(), Seconds()
    database = DatabaseGoesAway(registry)
    metrics = RegistrySyncMetrics(SERVICE, guards(), database, Clock(), monotonic=seconds)
    database.go_away(6)
    with capture_logs() as logs:
        for _ in range(3):  # three scrapes, 20 s apart
            await metrics.refresh()
            seconds.now += 20
    got = samples(metrics)
    assert {name for name, _ in got} == {"registry_breaker_open"}
    warnings = [e for e in logs if e["log_level"] == "warning"]
    assert len(warnings) == 1 and "ConnectionRefusedError" in warnings[0]["error"]
    await metrics.refresh()  # the database is back
    assert samples(metrics)[by_service("registry_commands_pending")] == 0


async def test_a_backlog_read_that_hangs_is_given_up_and_the_scrape_still_answers() -> None:
    """A slow count (a table scan under load, a lock) would hold the scrape past Prometheus's timeout,
    and every other series with it."""
    registry = InMemoryRegistry()

    async def never_answers() -> StatusCount:
        await asyncio.Event().wait()
        return StatusCount(status="pending", count=0)

    registry.commands.pending = never_answers  # type: ignore[method-assign]
    registry.dossiers.pending = never_answers  # type: ignore[method-assign]
    metrics = RegistrySyncMetrics(SERVICE, guards(), registry.unit_of_work, Clock(), read_seconds=0.05)
    await asyncio.wait_for(metrics.refresh(), timeout=5)
    assert {name for name, _ in samples(metrics)} == {"registry_breaker_open"}


async def test_registry_sync_serves_its_own_series_and_eventkit_s_on_get_metrics() -> None:
    """The route replaces eventkit's /metrics: it must still serve the relay, consumer, HTTP and
    process series every service has."""
    app = create_app(RegistrySyncSettings(database_url=NOWHERE, kafka_bootstrap_servers="127.0.0.1:1"))
    with capture_logs() as logs:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://rs") as client:
            response = await client.get("/metrics")
    assert response.status_code == 200
    assert any(e.get("what") == "outbox" for e in logs)  # eventkit's readings were tried too, before rendering
    names = {family.name for family in text_string_to_metric_families(response.text)}
    assert {"registry_breaker_open", "outbox_relay_healthy", "consumer_events", "process_cpu_seconds"} <= names
    assert 'registry_breaker_open{service="registry-sync",system="population_db"} 0.0' in response.text
    assert "registry_commands_pending" not in names  # the database is unreachable: left out, not 0


def scraped_breaker(guard: SystemGuard) -> Callable[[], float]:
    """A scrape of ``registry_breaker_open`` for the guard's system, on a replica with that guard alone."""
    metrics = RegistrySyncMetrics(
        SERVICE, Guards({guard.system: guard}, RetryPolicy()), InMemoryRegistry().unit_of_work, Clock()
    )
    return lambda: samples(metrics)[("registry_breaker_open", (("service", SERVICE), ("system", guard.system)))]


async def test_a_half_open_breaker_nobody_probes_reads_0_two_cool_downs_after_its_last_failure() -> None:
    """The gauge read 1 while half-open, and only a probe ends that, made only when the replica claims
    work for the system: with the system back (another replica's probe succeeded) and no work here,
    a replica stayed half-open for hours and RegistryBreakerOpen fired all along."""
    seconds = Seconds()
    guard = portal_guard(seconds)  # cool-down 30 s
    reading = scraped_breaker(guard)
    for _ in range(2):
        await call(guard, Transient("503", 503))

    seconds.now += 30
    assert guard.breaker.state is BreakerState.HALF_OPEN
    assert reading() == 1.0  # the probe is still to come
    seconds.now += 29
    assert reading() == 1.0
    seconds.now += 1
    assert guard.breaker.state is BreakerState.HALF_OPEN
    assert reading() == 0.0  # nobody here has seen it fail since

    async def probe_fails() -> Transient:
        assert reading() == 1.0  # a probe under way counts
        seconds.now += 20
        return Transient("timeout")

    seconds.now += 3600
    await guard.call(probe_fails)
    assert reading() == 1.0  # open again: the outage is seen again
    seconds.now += 3600
    assert reading() == 0.0
    await call(guard, Succeeded({}))
    assert guard.breaker.state is BreakerState.CLOSED
    assert reading() == 0.0


@pytest.mark.parametrize(
    "probe_seconds", [0.0, ExternalSystemSettings().call_budget_seconds], ids=["refused", "timeout"]
)
async def test_through_an_outage_that_goes_on_the_breaker_reads_open_at_every_scrape(probe_seconds: float) -> None:
    """RegistryBreakerOpen waits 5 minutes of 1s: a breaker reading 0 between the end of a cool-down and
    its probe's failure would keep it from ever firing. Open, cool-down (the default 15 s), a probe as
    soon as the worker's poll sees the guard let one through, its failure (at once, or after the whole
    call's timeouts, 22 s by default), open again: read every poll, it is 1 throughout."""
    seconds = Seconds()
    breaker = CircuitBreaker("civil_status", clock=seconds)  # the defaults: 5 failures, 15 s cool-down
    guard = SystemGuard("civil_status", breaker, max_concurrency=8)
    reading = scraped_breaker(guard)
    settings = RegistrySyncSettings(database_url=NOWHERE, kafka_bootstrap_servers="127.0.0.1:1")
    assert breaker.cooldown_seconds == settings.breaker_cooldown_seconds == 15.0
    readings: list[float] = []

    async def probe_fails() -> Transient:
        for _ in range(round(probe_seconds / settings.worker_poll_seconds)):
            seconds.now += settings.worker_poll_seconds
            readings.append(reading())
        return Transient("timeout" if probe_seconds else "connection refused")

    for _ in range(breaker.failure_threshold):
        await call(guard, Transient("503", 503))
    opened_at = seconds.now
    while seconds.now - opened_at < 600:
        if guard.capacity(0):  # the work loop claims the probe's item, there being work waiting
            await guard.call(probe_fails)
        seconds.now += settings.worker_poll_seconds
        readings.append(reading())

    assert breaker.stats.probes >= 600 // (15 + probe_seconds + 1)
    assert breaker.stats.closed_again == 0
    assert len(readings) >= 600 / settings.worker_poll_seconds and set(readings) == {1.0}

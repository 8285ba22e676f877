"""What workflow shows an operator: the SLA timers it has not fired on GET /metrics, and the bundles
the ended-bundle sweep stopped steps in, in its warning."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

import httpx
import pytest
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from contracts.events import intake
from contracts.events.common import DossierStatus
from eventkit.metrics import RuntimeCollector
from eventkit.settings import ServiceSettings
from tests.unit.workflow.builders import DEATH_FORM, DEATH_STEPS, Harness, bundle_submitted, step_submitted, submitted
from workcal import vietnam_tz
from workflow.bootstrap import create_app
from workflow.entrypoints.metrics import TimerBacklog
from workflow.service_layer import sagas
from workflow.service_layer.ports import WorkflowUnitOfWork

NOWHERE = "postgresql+asyncpg://u@127.0.0.1:1/x"  # never started: every read fails at once


def backlog_of(harness: Harness) -> tuple[TimerBacklog, CollectorRegistry]:
    backlog = TimerBacklog("workflow", harness.uow, harness.clock.now)
    registry = CollectorRegistry()
    registry.register(backlog)
    return backlog, registry


def gauges(registry: CollectorRegistry) -> tuple[float | None, float | None]:
    labels = {"service": "workflow"}
    return (
        registry.get_sample_value("workflow_timers_due_unfired", labels),
        registry.get_sample_value("workflow_timers_oldest_due_seconds", labels),
    )


async def test_the_timers_due_and_not_fired_are_exported_with_how_late_the_oldest_is(harness: Harness) -> None:
    """A poller that kept failing logged a warning a round, and one that had stalled logged nothing:
    no metric showed the dossiers' limits passing unflagged."""
    backlog, registry = backlog_of(harness)
    dossier = submitted(at=harness.now)
    await harness.deliver(dossier)
    await backlog.refresh()
    assert gauges(registry) == (0, 0.0)  # armed, none due yet

    first = min(harness.uow.timers.pending(dossier.dossier_id).values())
    harness.clock.set(first + timedelta(minutes=90))  # the poller has not run since
    due = [at for at in harness.uow.timers.pending(dossier.dossier_id).values() if at <= harness.now]
    await backlog.refresh()
    assert gauges(registry) == (len(due), 5400.0)

    await harness.fire_timers()
    await backlog.refresh()
    assert gauges(registry) == (0, 0.0)


class Unreachable:
    """A unit-of-work factory whose database refuses every connection."""

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[WorkflowUnitOfWork]:
        raise ConnectionRefusedError("connection refused")
        yield  # type: ignore[unreachable]


async def test_a_failed_read_leaves_the_timer_series_out_and_warns_once_a_minute(harness: Harness) -> None:
    """Not a 0 an alert would take for "every timer fired"; one warning, not one per scrape."""
    backlog, registry = backlog_of(harness)
    await harness.deliver(submitted(at=harness.now))
    harness.advance(days=3)
    await backlog.refresh()
    assert gauges(registry)[0] == 2

    failing = TimerBacklog("workflow", Unreachable(), harness.clock.now)
    registry.unregister(backlog)
    registry.register(failing)
    with capture_logs() as logs:
        await failing.refresh()
        await failing.refresh()
    assert gauges(registry) == (None, None)
    assert [e["log_level"] for e in logs if "SLA timers" in e["event"]] == ["warning"]


async def test_workflow_s_metrics_serve_every_service_s_series_and_a_scrape_survives_the_database_away(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Workflow served eventkit's /metrics, which has no timers: the poller's backlog was not exported."""
    runtime_reads: list[bool] = []
    refresh = RuntimeCollector.refresh

    async def counted(collector: RuntimeCollector) -> None:
        runtime_reads.append(True)
        await refresh(collector)

    monkeypatch.setattr(RuntimeCollector, "refresh", counted)
    app = create_app(ServiceSettings(database_url=NOWHERE, kafka_bootstrap_servers="127.0.0.1:1"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://workflow") as client:
        with capture_logs() as logs:
            responses = [await client.get("/metrics") for _ in range(2)]
    assert [r.status_code for r in responses] == [200, 200]
    for series in ("consumer_events_total", "outbox_relay_healthy", "process_cpu_seconds_total"):
        assert series in responses[0].text, series
    assert runtime_reads == [True, True]  # eventkit's lags and backlogs are read for each scrape too
    assert "workflow_timers" not in responses[0].text  # the read failed: no series rather than a false 0
    assert [e["event"] for e in logs if e["log_level"] == "warning" and "SLA timers" in e["event"]] == [
        "cannot read the SLA timers for /metrics; their series are left out"
    ]


async def death_bundle_at_the_counter(harness: Harness) -> intake.BundleSubmitted:
    """A death registration and deregistration at the counter, both steps' dossiers delivered: the
    registration at work, the deregistration held for its turn."""
    bundle = bundle_submitted("death", DEATH_FORM, DEATH_STEPS, at=harness.now)
    for step in bundle.steps:
        await harness.deliver(step_submitted(bundle, step, at=harness.now))
    await harness.deliver(bundle)
    return bundle


async def test_the_sweep_s_warning_counts_and_names_the_bundles_it_mended(harness: Harness) -> None:
    """It gave every partially completed bundle it had looked at as the bundles mended: an ordinary
    refusal's bundle read as one more an older replica had broken."""
    refused = await death_bundle_at_the_counter(harness)
    await harness.decide(refused.steps[0].dossier_id, "reject", reason="không đủ điều kiện")  # ends as it should
    stranded = await death_bundle_at_the_counter(harness)
    async with harness.uow as uow:  # an older release ended it at the registration, stopping nothing
        saga = await uow.bundles.lock(stranded.bundle_id)
        assert saga is not None
        saga.failed_step, saga.reason = stranded.steps[0].step_id, "không đủ điều kiện"
        saga.status = "partially_completed"
        await uow.bundles.save(saga)
    swept_from = datetime.now(vietnam_tz()) - timedelta(minutes=1)
    async with harness.uow as uow:
        assert len(await uow.bundles.ended_since(swept_from)) == 2

    with capture_logs() as logs:
        assert await sagas.mend_ended_bundles(harness.uow, harness.ctx, since=swept_from) == 1
    assert (await harness.state(stranded.steps[1].dossier_id)).status is DossierStatus.STOPPED
    [warning] = [e for e in logs if e["event"] == "mended steps an ended bundle left open"]
    assert (warning["steps"], warning["bundles"], warning.get("bundle_ids")) == (1, 1, [stranded.bundle_id])

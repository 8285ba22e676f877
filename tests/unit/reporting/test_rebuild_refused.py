"""A rebuild another replica's rebuild lock turns away is refused, not failed: counted as such, answered
409, and the last rebuild that ran stays the one shown."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from reporting.bootstrap import create_app
from reporting.entrypoints.prometheus import ProcessMetrics
from reporting.service_layer.rebuild import Rebuilder, RebuildStatus
from reporting.settings import ReportingSettings

NOWHERE = "postgresql+asyncpg://u@127.0.0.1:1/x"  # never started: nothing connects


class LockHeldElsewhere:
    """The rebuild's engine while another replica rebuilds: trying the rebuild lock answers false."""

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[LockHeldElsewhere]:
        yield self

    async def execute(self, _statement: Any) -> Any:
        return SimpleNamespace(scalar=lambda: False)

    async def dispose(self) -> None:
        pass


def last_run() -> RebuildStatus:
    """What this replica's previous rebuild left to show."""
    return RebuildStatus(id="0190000000000000000000000000aaaa", state="succeeded", events_per_second=21_000.0)


async def test_a_run_refused_by_another_replica_s_lock_is_refused_and_the_last_run_stays_shown() -> None:
    """It ended "failed", counted with the rebuilds that failed, and replaced the last rebuild that ran
    as the status to read, while the other replica's rebuild was going well."""
    rebuilder = Rebuilder(LockHeldElsewhere(), lambda: None, None, set(), live_consumer="reporting.projections")  # type: ignore[arg-type,return-value]
    shown = rebuilder.status = last_run()
    finished: list[RebuildStatus] = []
    rebuilder.on_finished = finished.append

    rebuilder.start()
    refused = await rebuilder.wait()
    assert refused is not None
    assert (refused.state, refused.error) == ("refused", "a rebuild is already running in another replica")
    assert finished == [refused]
    assert rebuilder.status is shown


def test_a_refused_rebuild_is_counted_as_refused_and_leaves_the_last_rebuild_s_speed() -> None:
    """The refusal's 0 events a second replaced the speed of the rebuild that had run."""
    metrics = ProcessMetrics()
    metrics.rebuild_finished(last_run())
    refused = RebuildStatus(id="0190000000000000000000000000bbbb", state="refused")
    metrics.rebuild_finished(refused)
    assert metrics.registry.get_sample_value("reporting_rebuilds_total", {"state": "refused"}) == 1
    assert metrics.registry.get_sample_value("reporting_rebuilds_total", {"state": "failed"}) is None
    assert metrics.registry.get_sample_value("reporting_rebuild_events_per_second") == 21_000.0


async def test_a_rebuild_requested_while_another_replica_rebuilds_is_answered_409(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Answered 202, a rebuild that would never run looked started; the status then read said it had
    failed, and reporting_rebuilds_total{state="failed"} went up."""
    app = create_app(ReportingSettings(database_url=NOWHERE, kafka_bootstrap_servers="127.0.0.1:1"))
    rebuilder = app.state.reporting.rebuilder
    monkeypatch.setattr(rebuilder, "_engine", LockHeldElsewhere())
    rebuilder.status = last_run()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://reporting") as client:
        answer = await client.post("/v1/projections/rebuild")
        shown = (await client.get("/v1/projections/rebuild")).json()["rebuild"]
        exposition = (await client.get("/metrics")).text
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"] == "rebuild_in_progress"
    assert answer.json()["rebuild"]["state"] == "refused"
    assert (shown["id"], shown["state"]) == (last_run().id, "succeeded")
    assert 'reporting_rebuilds_total{state="refused"} 1.0' in exposition
    assert 'state="failed"' not in exposition


async def test_a_refused_rebuild_leaves_the_served_speed_of_the_last_rebuild(monkeypatch: pytest.MonkeyPatch) -> None:
    """The app's own count of an ended rebuild set the speed gauge to the refusal's 0 events a second."""
    app = create_app(ReportingSettings(database_url=NOWHERE, kafka_bootstrap_servers="127.0.0.1:1"))
    rebuilder, metrics = app.state.reporting.rebuilder, app.state.reporting.metrics
    monkeypatch.setattr(rebuilder, "_engine", LockHeldElsewhere())
    metrics.rebuild_rate.set(21_000.0)
    rebuilder.start()
    await rebuilder.wait()
    assert metrics.registry.get_sample_value("reporting_rebuild_events_per_second") == 21_000.0

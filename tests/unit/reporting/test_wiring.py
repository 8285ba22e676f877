"""How reporting's app is put together, without starting it (nothing connects)."""

from __future__ import annotations

import httpx

from reporting.bootstrap import create_app
from reporting.settings import ReportingSettings

NOWHERE = "postgresql+asyncpg://u@127.0.0.1:1/x"


def test_a_rebuild_runs_on_the_engine_without_time_limits() -> None:
    """Making a rebuilt table logged and building its indexes take minutes over millions of events:
    under the service's statement limit the server would cancel them, and every rebuild would fail."""
    app = create_app(ReportingSettings(database_url=NOWHERE, kafka_bootstrap_servers="127.0.0.1:1"))
    context = app.state.reporting
    assert context.rebuilder._engine is context.runtime.maintenance_engine
    assert context.runtime.maintenance_engine is not context.runtime.engine


async def test_metrics_serve_what_every_service_s_do_even_without_the_database() -> None:
    """Reporting serves its own /metrics instead of eventkit's: its consumer's dead letters and the
    process's CPU and memory were missing, and with the database down the scrape was an error."""
    app = create_app(ReportingSettings(database_url=NOWHERE, kafka_bootstrap_servers="127.0.0.1:1"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://reporting") as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    for series in ("consumer_events_total", "outbox_relay_healthy", "process_cpu_seconds_total", "reporting_"):
        assert series in response.text, series

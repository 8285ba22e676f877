"""How reporting's app is put together, without starting it (nothing connects)."""

from __future__ import annotations

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

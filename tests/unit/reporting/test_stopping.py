"""The feed listener and a rebuild stop when cancelled, even when the cancellation surfaces as a driver's error,
and the service's stop cancels a rebuild under way."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy.exc import PendingRollbackError

from reporting.adapters.feed_listener import FeedListener
from reporting.bootstrap import create_app
from reporting.service_layer.rebuild import Rebuilder, RebuildStatus
from reporting.settings import ReportingSettings
from tests.support.cancellation import InterruptedCall, running_at_each_dispose, stopped_when_cancelled

NOWHERE = "postgresql+asyncpg://u@127.0.0.1:1/x"  # never started: nothing connects


class InterruptedEngine:
    """An engine whose connect reports the first cancellation of it as an error of the driver's own."""

    def __init__(self, error: Exception) -> None:
        self.connecting = InterruptedCall(error)

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[None]:
        await self.connecting()
        yield


@pytest.mark.parametrize(
    "error",
    [
        ConnectionResetError("connection closed in the middle of the operation"),
        PendingRollbackError("interrupted in the middle of the operation"),
    ],
    ids=["connection error", "SQLAlchemy error"],
)
async def test_the_feed_listener_stops_when_its_cancellation_surfaces_as_a_driver_s_error(error: Exception) -> None:
    """The listener took the stop for a lost connection and connected again, to a pool the stopping
    service was disposing of, while the service's stop waited its 10 s for it."""
    engine = InterruptedEngine(error)
    stopped: list[bool] = []
    listener = FeedListener(engine, "feed", lambda _message: None, on_stop=lambda: stopped.append(True))  # type: ignore[arg-type]
    assert await stopped_when_cancelled(asyncio.create_task(listener.run()), engine.connecting.entered)
    assert stopped == [True]


class InterruptedMaintenanceEngine(InterruptedEngine):
    """The rebuild's engine: its connect reports the first cancellation of it as the driver's error."""

    async def dispose(self) -> None:
        pass


async def test_a_rebuild_stops_when_its_cancellation_surfaces_as_a_database_error() -> None:
    """The rebuild took the stop for a failure of its own: logged with its traceback as a failed
    rebuild, its tables dropped on a stopping service, and its task ended as finished, not cancelled."""
    engine = InterruptedMaintenanceEngine(PendingRollbackError("interrupted in the middle of the operation"))
    rebuilder = Rebuilder(engine, lambda: None, None, set(), live_consumer="reporting.projections")  # type: ignore[arg-type,return-value]
    status = RebuildStatus(id="0190000000000000000000000000abcd")
    assert await stopped_when_cancelled(asyncio.create_task(rebuilder.run(status)), engine.connecting.entered)
    assert (status.state, status.error) == ("failed", "cancelled: the service stopped")


async def test_reporting_s_stop_ends_a_rebuild_before_it_disposes_of_the_engines(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A rebuild's task was none of the runtime's: the stop disposed of the engine it works on while it
    went on replaying, a batch after another failing on the disposed pool, until the event loop ended it."""
    app = create_app(ReportingSettings(database_url=NOWHERE, kafka_bootstrap_servers="127.0.0.1:1"))
    rebuilder = app.state.reporting.rebuilder
    engine = InterruptedMaintenanceEngine(PendingRollbackError("interrupted in the middle of the operation"))
    monkeypatch.setattr(rebuilder, "_engine", engine)
    status = rebuilder.start()
    await asyncio.wait_for(engine.connecting.entered.wait(), timeout=5)
    assert await running_at_each_dispose(app.state.runtime, rebuilder._task, monkeypatch) == [False, False]
    assert (status.state, status.error) == ("failed", "cancelled: the service stopped")

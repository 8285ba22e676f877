"""The feed listener and a rebuild stop when cancelled, even when the cancellation surfaces as a driver's error,
and the service's stop cancels a rebuild under way."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy.exc import PendingRollbackError
from sqlalchemy.ext.asyncio import AsyncEngine

from reporting.adapters.feed_listener import FeedListener
from reporting.bootstrap import create_app
from reporting.service_layer.rebuild import Rebuilder, RebuildStatus
from reporting.settings import ReportingSettings

NOWHERE = "postgresql+asyncpg://u@127.0.0.1:1/x"  # never started: nothing connects


class InterruptedEngine:
    """An engine whose connect reports the first cancellation of it as an error of the driver's own."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.connecting = asyncio.Event()
        self.turned = False

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[None]:
        self.connecting.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            if self.turned:  # only once, so that a failing test still ends
                raise
            self.turned = True
            raise self.error from None
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
    task = asyncio.create_task(listener.run())
    await asyncio.wait_for(engine.connecting.wait(), timeout=5)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=2)
    if task not in done:
        task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert task in done and task.cancelled()
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
    task = asyncio.create_task(rebuilder.run(status))
    await asyncio.wait_for(engine.connecting.wait(), timeout=5)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=2)
    if task not in done:
        task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert task in done and task.cancelled()
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
    await asyncio.wait_for(engine.connecting.wait(), timeout=5)
    rebuilding_at_dispose: list[bool] = []

    async def dispose(_engine: AsyncEngine, close: bool = True) -> None:
        rebuilding_at_dispose.append(not rebuilder._task.done())

    monkeypatch.setattr(AsyncEngine, "dispose", dispose)
    await asyncio.wait_for(app.state.runtime.stop(within=2), timeout=5)
    assert rebuilding_at_dispose == [False, False]
    assert (status.state, status.error) == ("failed", "cancelled: the service stopped")

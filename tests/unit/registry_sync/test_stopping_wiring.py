"""Stopping registry-sync ends the writer of portal push outcomes before the engine is disposed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from eventkit.batching import GroupWriter, WriterStopped
from registry_sync.bootstrap import create_app
from registry_sync.service_layer import portal_sync
from registry_sync.settings import RegistrySyncSettings
from tests.support.cancellation import InterruptedCall, running_at_each_dispose

NOWHERE = "postgresql+asyncpg://u@127.0.0.1:1/x"  # never started: nothing connects


async def test_registry_sync_s_stop_ends_the_portal_outcome_writer_before_it_disposes_of_the_engine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The writer was none of the runtime's tasks: an outcome being recorded when the service stopped
    went on, on an engine the stop then disposed of, until the event loop itself ended it."""
    writers: list[GroupWriter[Any]] = []

    class Recorded(GroupWriter):  # type: ignore[type-arg]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            writers.append(self)

    monkeypatch.setattr(portal_sync, "GroupWriter", Recorded)
    app = create_app(RegistrySyncSettings(database_url=NOWHERE, kafka_bootstrap_servers="127.0.0.1:1"))
    [writer] = writers
    write = InterruptedCall()
    monkeypatch.setattr(writer, "_write", write)
    recording = asyncio.create_task(writer.put(object()))
    await asyncio.wait_for(write.entered.wait(), timeout=5)
    (task,) = writer._tasks
    writing_at_dispose = await running_at_each_dispose(app.state.runtime, task, monkeypatch)
    assert writing_at_dispose and not any(writing_at_dispose)
    with pytest.raises(WriterStopped):
        await recording

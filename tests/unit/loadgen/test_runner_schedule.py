"""On an open-loop schedule an item's end-to-end latency counts from its slot's due time, not from when
a driver that fell behind got round to sending it (coordinated omission)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
import uvloop

from loadgen import runner
from loadgen.api import Answer, Targets
from loadgen.runner import LoadConfig, latency_origin, run
from loadgen.tracking import SeenEvent


class SlowIntake:
    """Stands in for the Api: each submission takes ``seconds``, and names a new bundle."""

    seconds = 0.03

    def __init__(self, *_: Any, **__: Any) -> None:
        self.sent = 0

    async def __aenter__(self) -> SlowIntake:
        return self

    async def __aexit__(self, *_: object) -> None: ...

    async def submit(self, operation: str, path: str, body: bytes) -> Answer:
        await asyncio.sleep(self.seconds)
        self.sent += 1
        return Answer(201, {"bundle_id": f"b{self.sent - 1}"}, self.seconds)


class QuietWatcher:
    """Stands in for the broker watcher: starts, and sees no event (every bundle stays pending)."""

    seen = 0
    error = None

    def __init__(self, bootstrap: str, topics: list[str], on_event: Callable[[SeenEvent], None]) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def test_an_open_loop_times_each_bundle_from_its_slot_when_the_driver_falls_behind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """50/s offered, one submission at a time taking 30 ms: the 10th goes 270 ms after the start though
    due at 180 ms. Timed from when it went, its latency left out the 90 ms it waited on the driver."""
    monkeypatch.setattr(runner, "Api", SlowIntake)
    monkeypatch.setattr(runner, "EventWatcher", QuietWatcher)
    rate = 50.0
    config = LoadConfig(
        targets=Targets("http://127.0.0.1:9", "http://127.0.0.1:9"), kafka="127.0.0.1:9", rate=rate, duration=0.3,
        concurrency=1, only="birth", officials=None, citizens=None, drain=0.01, progress=False,
    )  # fmt: skip
    result = uvloop.run(run(config))
    started = {key: at - result.started_at for key, (_, at) in result.completions.started.items()}
    assert len(started) == 10
    for i in range(10):
        assert started[f"b{i}"] == pytest.approx(i / rate, abs=0.015)


def test_the_origin_is_the_due_time_in_wall_clock_or_now_without_a_schedule() -> None:
    assert latency_origin(95.0, clock=lambda: 100.0, wall=lambda: 1_000.0) == 995.0  # 5 s behind schedule
    assert latency_origin(100.5, clock=lambda: 100.0, wall=lambda: 1_000.0) == 1_000.0  # never in the future
    assert latency_origin(None, clock=lambda: 100.0, wall=lambda: 1_000.0) == 1_000.0  # flat out, closed loop

"""A closed loop (``--in-flight N``) needs the broker watcher to see items end. Without it the run
went on as an open loop with nothing bounding what was in flight, and reported that as the loop's figures."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bench.phases import Phases
from loadgen import runner
from loadgen.api import Answer, Targets
from loadgen.cli import main
from loadgen.runner import LoadConfig
from loadgen.tracking import SeenEvent


class CountingIntake:
    """Stands in for the Api: counts the submissions that went out."""

    sent = 0

    def __init__(self, *_: Any, **__: Any) -> None: ...

    async def __aenter__(self) -> CountingIntake:
        return self

    async def __aexit__(self, *_: object) -> None: ...

    async def submit(self, operation: str, path: str, body: bytes) -> Answer:
        CountingIntake.sent += 1
        return Answer(201, {"bundle_id": f"b{CountingIntake.sent}"}, 0.0)


class UnreachableBroker:
    """Stands in for the broker watcher: the broker does not answer."""

    seen = 0
    error = None

    def __init__(self, bootstrap: str, topics: list[str], on_event: Callable[[SeenEvent], None]) -> None: ...

    async def start(self) -> None:
        raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 9)")

    async def stop(self) -> None: ...


@pytest.fixture
def no_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    CountingIntake.sent = 0
    monkeypatch.setattr(runner, "Api", CountingIntake)
    monkeypatch.setattr(runner, "EventWatcher", UnreachableBroker)


@pytest.mark.usefixtures("no_broker")
def test_a_closed_loop_without_the_broker_fails_in_one_line_before_submitting(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["--in-flight", "4", "--kafka", "127.0.0.1:9", "--population", "none", "--intake", "http://127.0.0.1:9",
            "--workflow", "http://127.0.0.1:9", "--only", "birth", "--count", "10", "--duration", "0.2",
            "--drain", "0", "--quiet"]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("loadgen: --in-flight 4 needs the broker at 127.0.0.1:9")
    assert CountingIntake.sent == 0


@pytest.mark.usefixtures("no_broker")
def test_the_bench_phase_records_the_failure_and_the_next_phase_runs(tmp_path: Path) -> None:
    """The bench's phases return their failures as results, and its flat-out phase is a closed loop."""
    config = LoadConfig(
        targets=Targets("http://127.0.0.1:9", "http://127.0.0.1:9"), kafka="127.0.0.1:9", duration=0.2,
        count=10, only="birth", officials=None, citizens=None, drain=0, progress=False, in_flight=64,
    )  # fmt: skip
    summary = Phases(None, tmp_path, 1, None).load(config)  # type: ignore[arg-type]  # load needs neither
    assert summary["error"].startswith("--in-flight 64 needs the broker at 127.0.0.1:9")
    assert CountingIntake.sent == 0

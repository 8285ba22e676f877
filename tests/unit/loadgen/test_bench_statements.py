"""``bench.statements`` counts per completed bundle: divided by the submitted ones, a run whose drain ran
out spread the completed bundles' work over bundles that never completed, and its ceiling was too high."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from bench import statements
from bench.statements import render_cpu
from loadgen.tracking import Completions


class FakeStack:
    """Stands in for the stack ``bench.statements`` starts: nothing runs."""

    def __init__(self, **_: Any) -> None:
        self.failed: dict[str, str] = {}
        self.postgres_port = 9
        self.local = SimpleNamespace(identity_dir=None, bootstrap_servers="127.0.0.1:9")

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def url(self, name: str) -> str:
        return "http://127.0.0.1:9"

    def pids(self) -> dict[str, list[int]]:
        return {}


def half_completed() -> SimpleNamespace:
    """200 bundles submitted; 100 completed, 100 still pending when the drain ran out."""
    completions = Completions()
    for i in range(200):
        completions.submitted(f"b{i}", "bundle:birth", 1000.0)
    for i in range(100):
        completions.ended(f"b{i}", "completed", 1001.0)
    return SimpleNamespace(submitted_ok=200, completions=completions)


async def measured(*_: Any) -> tuple[list[tuple[str, int]], SimpleNamespace, dict[str, float]]:
    return [("COMMIT", 400)], half_completed(), {"workflow": 10.0, "postgres": 30.0}


def test_statements_cpu_and_calls_are_per_completed_bundle(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(statements, "BenchStack", FakeStack)
    monkeypatch.setattr(statements, "_measure", measured)
    monkeypatch.setattr(statements, "external_calls", lambda _: {"national_portal": 300})
    assert statements.main(["--count", "200"]) == 0
    out = capsys.readouterr().out
    lines = [line.split() for line in out.splitlines()]
    assert ["4.0", "COMMIT"] in lines  # 400 ÷ 100 completed, not ÷ 200 submitted
    assert "200 birth bundles submitted at 20/s, 100 completed, 0 ended otherwise, 100 still pending" in out
    assert ["0.3000", "postgres"] in lines and ["3.00", "national_portal"] in lines
    assert "at most" not in out  # 100 bundles pending: no ceiling
    assert "no ceiling: 100 of the bundles had not ended when the drain ran out" in out


def test_the_ceiling_is_refused_while_any_bundle_is_pending() -> None:
    table = render_cpu({"workflow": 10.0, "postgres": 30.0}, bundles=200, pending=1).splitlines()
    assert table[-2] == "    0.2000  in all"
    assert table[-1].startswith("no ceiling: 1 of the bundles had not ended")
    assert render_cpu({"workflow": 10.0}, bundles=200, pending=0).endswith("at most 40.0 bundles/s on two cores")

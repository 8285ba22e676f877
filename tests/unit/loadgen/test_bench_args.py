"""``make bench`` checks its arguments before the stack starts, and a run that fails late keeps (and
prints) the phases it measured: a four-minute run lost everything to its last phase, or to its --out."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import orjson
import pytest

from bench import run as bench_run

MACHINE = {"host": "h", "measured_at": "2026-11-22T00:00:00+00:00", "cpu_model": "AMD EPYC", "cpu_cores": 2,
           "ram_gb": 23.5, "os": "Linux", "python": "3.11.7", "postgres": "18.6",
           "git_commit": "0123456789abcdef", "git_dirty": False}  # fmt: skip


@pytest.mark.parametrize(
    "args",
    [["--seconds", "0"], ["--seconds", "nan"], ["--seconds", "inf"], ["--seconds", "0.5"], ["--concurrency", "0"],
     ["--concurrency", "-3"], ["--concurrency", "100000"], ["--out", "{tmp}/file/results"]],
)  # fmt: skip
def test_bad_arguments_are_refused_in_one_line_before_anything_starts(
    args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(SystemExit) as refused:
        bench_run.parse([a.format(tmp=tmp_path) for a in args])
    assert refused.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("bench: error: ")


def test_good_arguments_pass(tmp_path: Path) -> None:
    args = bench_run.parse(["--seconds", "3", "--concurrency", "8", "--out", str(tmp_path / "new")])
    assert (args.seconds, args.concurrency, args.out) == (3.0, 8, tmp_path / "new")


class FakeStack:
    """Stands in for the stack the bench starts: nothing runs."""

    def __init__(self, **_: Any) -> None:
        self.ready = {"intake": 1.0}
        self.failed: dict[str, str] = {}

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def pids(self) -> dict[str, list[int]]:
        return {}


class FakeMonitor:
    def __init__(self, *_: Any, **__: Any) -> None:
        self.peak_rss = {"intake": 100 * 2**20}

    def start(self) -> None: ...

    def stop(self) -> None: ...


def measure_then_fail(args: argparse.Namespace, stack: Any, monitor: Any, results: dict[str, Any]) -> None:
    """The raw inserts measured, then a later phase raises."""
    results["cpu_seconds"] = {"raw PostgreSQL inserts": {"postgres": 1.0, "wall_seconds": 12.0}}
    results["raw_postgres"] = {"commits_per_second": 987.0}
    raise RuntimeError("the 50/s phase broke")


@pytest.fixture
def fake_bench(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench_run, "BenchStack", FakeStack)
    monkeypatch.setattr(bench_run, "SystemMonitor", FakeMonitor)
    monkeypatch.setattr(bench_run, "describe", lambda _: dict(MACHINE))
    monkeypatch.setattr(bench_run, "measure", measure_then_fail)


@pytest.mark.usefixtures("fake_bench")
def test_a_late_failure_writes_and_prints_the_phases_measured_before_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(RuntimeError, match="the 50/s phase broke"):
        bench_run.main(["--out", str(tmp_path)])
    (written,) = tmp_path.glob("*.json")
    results = orjson.loads(written.read_bytes())
    assert results["raw_postgres"] == {"commits_per_second": 987.0}
    assert results["error"] == "RuntimeError: the 50/s phase broke"
    assert results["peak_rss_mb"] == {"intake": 100.0}
    out = capsys.readouterr().out
    assert "987.0 /s" in out and "! the run stopped early (RuntimeError: the 50/s phase broke)" in out
    assert "stopped early" in next(tmp_path.glob("*.md")).read_text()


@pytest.mark.usefixtures("fake_bench")
def test_the_table_is_printed_before_the_results_are_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def measure(args: argparse.Namespace, stack: Any, monitor: Any, results: dict[str, Any]) -> None:
        results["cpu_seconds"] = {"raw PostgreSQL inserts": {"postgres": 1.0, "wall_seconds": 12.0}}
        results["raw_postgres"] = {"commits_per_second": 987.0}

    def disk_full(*_: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(bench_run, "measure", measure)
    monkeypatch.setattr(bench_run, "write_results", disk_full)
    with pytest.raises(OSError, match="No space left"):
        bench_run.main(["--out", str(tmp_path)])
    assert "987.0 /s" in capsys.readouterr().out

"""The benchmark's rebuild phase: it waits for a quiet stack, says when it did not get one, and
reports the rebuild's fixed costs and reporting's memory during it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from bench.output import console_table, markdown
from bench.phases import Phases, metric_sum, rebuild_result
from bench.run import headline
from bench.sysmon import SystemMonitor
from bench.targets import verdicts

EXPOSITION = """# HELP reporting_consumer_lag Messages not yet consumed, per consumer.
# TYPE reporting_consumer_lag gauge
reporting_consumer_lag{consumer="reporting.projections"} 12.0
reporting_consumer_lag{consumer="reporting.other"} 3.0
reporting_consumer_lag_total 99.0
reporting_live_subscribers 1.0
"""


def test_the_consumer_lag_is_summed_over_consumers() -> None:
    assert metric_sum(EXPOSITION, "reporting_consumer_lag") == 15
    assert metric_sum(EXPOSITION, "reporting_live_subscribers") == 1
    assert metric_sum(EXPOSITION, "reporting_rebuilds") is None


class SteadyMonitor(SystemMonitor):
    """CPU seconds that grow by ``cores`` per wall second, whatever the machine does."""

    def __init__(self, cores: float) -> None:
        super().__init__(lambda: {})
        self.cores = cores
        self.calls = 0

    def cpu_seconds(self) -> dict[str, float]:
        self.calls += 1
        return {"reporting": self.calls * self.cores / 2}  # two calls per one-second sample


def phases(cores: float, tmp_path: Path) -> Phases:
    return Phases(SteadyMonitor(cores), tmp_path, 1, None)  # type: ignore[arg-type]  # settle needs no waits


def test_settle_returns_once_the_consumer_has_caught_up_and_the_cpu_is_idle(tmp_path: Path) -> None:
    lags = iter([40, 0])
    settled = phases(0.0, tmp_path).settle(["reporting"], lambda: next(lags), cap=10)
    assert settled["quiet"] is True and settled["consumer_lag"] == 0 and settled["lag_zero_after_s"] >= 1.5
    assert 1.5 <= settled["waited_s"] < 4


def test_settle_gives_up_at_its_cap_and_says_the_stack_was_busy(tmp_path: Path) -> None:
    settled = phases(1.5, tmp_path).settle(["reporting"], lambda: 0, cap=1.0)
    assert settled["quiet"] is False and settled["busy_cores"] > 0.3
    assert settled["lag_zero_after_s"] is not None  # caught up, but the CPU never fell quiet


class ClockMonitor(SystemMonitor):
    """CPU seconds that grow by ``cores`` per second of the clock."""

    def __init__(self, cores: float) -> None:
        super().__init__(lambda: {})
        self.cores = cores

    def cpu_seconds(self) -> dict[str, float]:
        return {"reporting": time.monotonic() * self.cores}


def test_quiet_is_judged_against_the_idle_stack_and_never_above_its_floor_when_idle_is_low(tmp_path: Path) -> None:
    busy_idle = Phases(ClockMonitor(0.35), tmp_path, 1, None)  # type: ignore[arg-type]
    assert busy_idle.quiet_bar() == Phases.QUIET_FLOOR  # not measured yet
    assert busy_idle.measure_idle(["reporting"], seconds=0.2) == pytest.approx(0.35, abs=0.02)
    assert busy_idle.quiet_bar() == pytest.approx(0.45, abs=0.02)
    settled = busy_idle.settle(["reporting"], lambda: 0, cap=5)
    assert settled["quiet"] is True and settled["quiet_below_cores"] == busy_idle.quiet_bar()

    calm = Phases(ClockMonitor(0.1), tmp_path, 1, None)  # type: ignore[arg-type]
    calm.measure_idle(["reporting"], seconds=0.2)
    assert calm.quiet_bar() == Phases.QUIET_FLOOR


def test_a_backlog_above_the_idle_level_is_not_quiet(tmp_path: Path) -> None:
    measured = Phases(ClockMonitor(0.35), tmp_path, 1, None)  # type: ignore[arg-type]
    measured.measure_idle(["reporting"], seconds=0.2)
    measured.monitor = ClockMonitor(0.6)  # more than the idle level and its margin
    assert measured.settle(["reporting"], lambda: 0, cap=1.0)["quiet"] is False


def test_phase_windows_keep_each_phase_peak_apart() -> None:
    monitor = SystemMonitor(lambda: {"me": [os.getpid()]})
    monitor.sample()
    first = monitor.new_window()
    assert first["me"] > 0 and monitor.window_rss == {}
    assert monitor.peak_rss["me"] >= first["me"]


def test_a_flat_group_is_measured_without_the_children_it_waited_for() -> None:
    """The driver's CPU counted its exited children (pgbench, the bare endpoint, psql): 18.8 CPU-s
    in a 15.8 s phase for a driver that is one Python thread."""
    me = {"me": [os.getpid()]}
    flat, whole = SystemMonitor(lambda: me, flat=frozenset({"me"})), SystemMonitor(lambda: me)
    before_flat, before_whole = flat.cpu_seconds()["me"], whole.cpu_seconds()["me"]
    burn = "import time\nend = time.process_time() + 0.5\nwhile time.process_time() < end: pass"
    subprocess.run([sys.executable, "-c", burn], check=True, timeout=60)
    assert whole.cpu_seconds()["me"] - before_whole >= 0.45
    assert flat.cpu_seconds()["me"] - before_flat < 0.3


def results(quiet: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "machine": {"host": "h", "measured_at": "2026-11-22T00:00:00+00:00", "cpu_model": "AMD EPYC",
                    "cpu_cores": 2, "ram_gb": 23.5, "os": "Linux", "python": "3.11.7", "postgres": "18.6",
                    "git_commit": "0123456789abcdef", "git_dirty": False},
        "settings": {"concurrency": 32, "seconds": 12.0, "no_fsync": False},
        "before_rebuild": {"quiet": quiet, "waited_s": 75.0, "consumer_lag": 0 if quiet else 812, "busy_cores": 1.7},
        "rebuild": {"records_read": 30000, "events_per_s": 21000.0, "replay_events_per_s": 25000.0, "fixed_s": 0.3},
        "peak_rss_mb_by_phase": {"projection rebuild": {"reporting": 150.2}},
    }  # fmt: skip
    data["metrics"] = headline(data)
    data["verdicts"] = verdicts(data["metrics"])
    return data


def test_a_rebuild_on_a_quiet_stack_is_judged_against_its_target() -> None:
    quiet = results(quiet=True)
    assert quiet["metrics"]["rebuild_events"] == 30000 and quiet["metrics"]["rebuild_reporting_rss_mb"] == 150.2
    text = markdown(quiet)
    assert "| projection rebuild events/s | 21,000.0 /s | ≥ 20,000 /s | PASS |" in text
    assert "| projection rebuild: fixed costs (to first event, finish, swap) | 0.3 s |" in text
    assert "| projection rebuild: stack quiet before it | yes |" in text
    assert "busy stack" not in text and "replayed only" not in text


def test_a_rebuild_on_a_busy_stack_is_not_passed_off_as_its_own_rate() -> None:
    busy = results(quiet=False)
    row = next(v for v in busy["verdicts"] if v["key"] == "rebuild_events_per_s")
    assert row["verdict"] == "DISTURBED"
    assert "812 events behind" in markdown(busy)
    assert "! the rebuild started on a busy stack" in console_table(busy)


def test_a_small_log_is_flagged() -> None:
    small = results(quiet=True)
    small["rebuild"]["records_read"] = 6182
    assert "the rebuild replayed only 6,182 events" in markdown(small)


@pytest.mark.parametrize(
    ("http_status", "state"), [(202, "running"), (200, "failed"), (500, None)], ids=["wait-ended", "failed", "error"]
)
def test_a_rebuild_that_did_not_succeed_has_no_rate_and_no_verdict(http_status: int, state: str | None) -> None:
    """Its records read over the wall time made a rate all the same, published as a PASS."""
    body = {"rebuild": {"state": state, "records_read": 15_000, "error": "swap failed" if state == "failed" else None}}
    result = rebuild_result(http_status, body, wall=0.5)
    assert result["events_per_s"] is None
    [row] = [v for v in verdicts(headline({"rebuild": result, "before_rebuild": {"quiet": True}}))
             if v["key"] == "rebuild_events_per_s"]  # fmt: skip
    assert row["verdict"] == "n/a"
    done = rebuild_result(200, {"rebuild": {"state": "succeeded", "records_read": 15_000}}, wall=0.5)
    assert done["events_per_s"] == 30_000

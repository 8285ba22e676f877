"""The measured phases. Each returns plain JSON values; none raises for a service that misbehaves —
the failure is part of the result, and the next phase still runs."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import httpx
import uvloop

from bench import profiling
from bench.dbwaits import DatabaseWaits
from bench.lag import StreamLag
from bench.sysmon import SystemMonitor, cpu_delta
from devstack.processes import free_port, spawn, stop, wait_for_port
from loadgen.api import Targets
from loadgen.mix import Submission
from loadgen.officials import OfficialPolicy
from loadgen.report import as_dict, end_to_end
from loadgen.runner import LoadConfig, RunResult, run

Prebuilt = list[tuple[Submission, bytes]]


def load_summary(result: RunResult) -> dict[str, Any]:
    """The headline numbers of a load run, plus the full report."""
    op = next((o for name, o in result.recorder.operations.items() if name.startswith("submit ")), None)
    submit = op.latencies.summary() if op else None
    e2e = {kind: lat.summary() for kind, lat in end_to_end(result).items()}
    return {
        "accepted_per_s": round(result.accepted_per_second, 1),
        "submit_p50_ms": round(submit.p50 * 1000, 2) if submit else None,
        "submit_p99_ms": round(submit.p99 * 1000, 2) if submit else None,
        "completed_per_s": round(result.completed_per_second, 1),
        "e2e": {k: s.as_ms() for k, s in e2e.items() if s},
        "report": as_dict(result),
    }


class Phases:
    def __init__(self, monitor: SystemMonitor, workdir: Path, concurrency: int, waits: DatabaseWaits) -> None:
        self.monitor = monitor
        self.waits = waits
        self.workdir = workdir
        self.concurrency = concurrency
        self.cpu: dict[str, dict[str, float]] = {}  # phase → CPU seconds per process group

    def timed(self, name: str, work: Any) -> Any:
        """Run ``work()``, recording the CPU each process group spent meanwhile."""
        print(f"· {name} …", file=sys.stderr, flush=True)
        before, started = self.monitor.cpu_seconds(), time.monotonic()
        self.waits.phase = name
        try:
            return work()
        finally:
            self.waits.phase = "between phases"
            cpu = cpu_delta(before, self.monitor.cpu_seconds())
            cpu["wall_seconds"] = round(time.monotonic() - started, 1)
            self.cpu[name] = cpu

    def bare_endpoint(self, prebuilt: Prebuilt, seconds: float) -> dict[str, Any]:
        port = free_port()
        process = spawn([sys.executable, "-m", "bench.bare_app", str(port)], log_file=self.workdir / "bare.log")
        try:
            wait_for_port(port, timeout=30, process=process)
            url = f"http://127.0.0.1:{port}"
            config = LoadConfig(
                targets=Targets(url, url),
                duration=seconds,
                count=len(prebuilt),
                only="standalone",
                concurrency=self.concurrency,
                officials=None,
                citizens=None,
                drain=0,
                progress=False,
            )
            return load_summary(uvloop.run(run(config)))
        finally:
            stop(process)

    def load(
        self,
        config: LoadConfig,
        prebuilt: Prebuilt | None = None,
        *,
        reporting: str | None = None,
        profile: dict[str, int] | None = None,
        seconds: float = 0,
    ) -> dict[str, Any]:
        """A load run; with ``reporting`` the live lag is read meanwhile, with ``profile`` (name → pid)
        those services are sampled by py-spy for the submitting part of the run."""
        spies = {
            name: profiling.start(pid, seconds, self.workdir / f"{name}.{id(config)}.raw")
            for name, pid in (profile or {}).items()
        }

        async def go() -> dict[str, Any]:
            lag = StreamLag(reporting) if reporting else None
            connected = await lag.start() if lag else False
            result = await run(config, prebuilt)
            summary = load_summary(result)
            if lag is not None:
                await lag.stop()
                lags = lag.lags.summary()
                summary["lag"] = {
                    "connected": connected,
                    "samples": len(lag.lags),
                    "dropped": lag.dropped,
                    "error": lag.error,
                    **(lags.as_ms() if lags else {}),
                }
            return summary

        summary = uvloop.run(go())
        profiles = {}
        for name, spy in spies.items():
            if spy is None:
                profiles[name] = {"error": "py-spy is not installed"}
                continue
            spy.wait(timeout=seconds + 30)
            profiles[name] = profiling.summarize(self.workdir / f"{name}.{id(config)}.raw")
        if profiles:
            summary["profiles"] = profiles
        return summary

    def quiesce(self, groups: list[str], cap: float, idle_cores: float = 0.15) -> float:
        """Wait until ``groups`` together use less than ``idle_cores`` of CPU (the backlog of the last
        phase is digested), at most ``cap`` seconds; returns how long it took."""
        started = time.monotonic()
        while time.monotonic() - started < cap:
            before = self.monitor.cpu_seconds()
            time.sleep(1.0)
            after = self.monitor.cpu_seconds()
            if sum(after.get(g, 0) - before.get(g, 0) for g in groups) < idle_cores:
                break
        return round(time.monotonic() - started, 1)


def rebuild(reporting_url: str, timeout: float) -> dict[str, Any]:
    """POST /v1/projections/rebuild and wait for it; the service reports what it replayed."""
    started = time.monotonic()
    try:
        with httpx.Client(timeout=timeout + 10, trust_env=False) as client:
            response = client.post(
                f"{reporting_url}/v1/projections/rebuild", params={"wait": "true", "timeout": str(timeout)}
            )
    except httpx.HTTPError as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    wall = time.monotonic() - started
    body = response.json() if response.content else {}
    status = body.get("rebuild") or {}
    replayed = status.get("records_read") or status.get("events_applied") or 0
    return {
        "http_status": response.status_code,
        "state": status.get("state"),
        "records_read": status.get("records_read"),
        "events_applied": status.get("events_applied"),
        "service_events_per_s": status.get("events_per_second"),
        "wall_seconds": round(wall, 2),
        "events_per_s": round(replayed / wall, 1) if wall > 0 and replayed else None,
        "error": status.get("error") or body.get("error"),
    }


def officials_for_bench() -> OfficialPolicy:
    """Officials who decide at once and never send anything back: the bench measures the machine."""
    return OfficialPolicy(delay=(0.0, 0.0), supplement_rate=0.0, poll_interval=0.1, max_parallel=32)

"""The measured phases. Each returns plain JSON values; none raises for a service that misbehaves —
the failure is part of the result, and the next phase still runs."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import uvloop

from bench import profiling
from bench.dbwaits import DatabaseWaits
from bench.lag import StreamLag
from bench.sysmon import SystemMonitor, cpu_delta
from devstack.identity import DevIdentity
from devstack.processes import free_port, spawn, stop, wait_for_port
from loadgen.api import Targets
from loadgen.mix import Submission
from loadgen.officials import OfficialPolicy
from loadgen.report import as_dict, end_to_end
from loadgen.runner import LoadConfig, RunResult, TrackingUnavailable, run

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
    #: A stack is quiet within this many cores of its own idle level (what it uses with nothing to do,
    #: measured before the first load phase), and always when below the floor. One-second samples of an
    #: idle stack scatter by about ±0.05 cores; a backlog being digested uses more than one core.
    QUIET_MARGIN = 0.1
    QUIET_FLOOR = 0.3

    def __init__(self, monitor: SystemMonitor, workdir: Path, concurrency: int, waits: DatabaseWaits) -> None:
        self.idle_cores: float | None = None
        self.monitor = monitor
        self.waits = waits
        self.workdir = workdir
        self.concurrency = concurrency
        self.cpu: dict[str, dict[str, float]] = {}  # phase → CPU seconds per process group
        self.peak_rss_mb: dict[str, dict[str, float]] = {}  # phase → peak RSS per process group during it

    def timed(self, name: str, work: Any) -> Any:
        """Run ``work()``, recording the CPU each process group spent meanwhile."""
        print(f"· {name} …", file=sys.stderr, flush=True)
        before, started = self.monitor.cpu_seconds(), time.monotonic()
        self.waits.phase = name
        self.monitor.new_window()
        try:
            return work()
        finally:
            self.waits.phase = "between phases"
            peaks = self.monitor.new_window()
            self.peak_rss_mb[name] = {k: round(v / 2**20, 1) for k, v in sorted(peaks.items())}
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
            return load_summary(uvloop.run(run(config, prebuilt)))  # the bodies intake gets, not a new draw
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
            try:
                result = await run(config, prebuilt)
            except TrackingUnavailable as exc:  # the broker is down: no closed loop, the phase has no figures
                return {"error": str(exc)}
            finally:
                if lag is not None:
                    await lag.stop()
            summary = load_summary(result)
            if lag is not None:
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

    def measure_idle(self, groups: list[str], seconds: float = 3.0) -> float:
        """The cores ``groups`` use with nothing to do (outbox relays, consumers and workers polling
        the database and the broker: 0.2 to 0.3 on this VM), the level :meth:`quiet_bar` is set from."""
        self.idle_cores = round(self.busy_cores(groups, seconds), 2)
        return self.idle_cores

    def busy_cores(self, groups: list[str], seconds: float = 1.0) -> float:
        """The cores ``groups`` use together over the next ``seconds`` (the caller sleeps meanwhile),
        over the time that really passed: a sleep overshoots on a busy machine, and 0.35 cores read
        as 0.40 over a nominal 0.2 s that lasted 0.23."""
        started = time.monotonic()
        before = self.monitor.cpu_seconds()
        time.sleep(seconds)
        after = self.monitor.cpu_seconds()
        return sum(after.get(g, 0) - before.get(g, 0) for g in groups) / (time.monotonic() - started)

    def quiet_bar(self) -> float:
        """Cores below which the stack counts as quiet: its idle level and a margin, at least the floor."""
        return round(max(self.QUIET_FLOOR, (self.idle_cores or 0.0) + self.QUIET_MARGIN), 2)

    def settle(
        self, groups: list[str], lag: Callable[[], int | None], cap: float, idle_cores: float | None = None
    ) -> dict[str, Any]:
        """Wait until reporting's consumer has projected everything (``lag()`` is 0) and ``groups``
        together use less than ``idle_cores`` of CPU (default :meth:`quiet_bar`), at most ``cap``
        seconds. A rebuild measured on a busy stack shares the cores with the backlog: the result
        says whether it was quiet."""
        idle_cores = self.quiet_bar() if idle_cores is None else idle_cores
        started = time.monotonic()
        caught_up_after = None
        while True:
            busy = self.busy_cores(groups)
            backlog = lag()
            if backlog == 0 and caught_up_after is None:
                caught_up_after = round(time.monotonic() - started, 1)
            quiet = backlog == 0 and busy < idle_cores
            if quiet or time.monotonic() - started >= cap:
                break
        return {
            "quiet": quiet,
            "waited_s": round(time.monotonic() - started, 1),
            "consumer_lag": backlog,
            "lag_zero_after_s": caught_up_after,
            "busy_cores": round(busy, 2),
            "quiet_below_cores": idle_cores,
        }

    def quiesce(self, groups: list[str], cap: float, idle_cores: float | None = None) -> float:
        """Wait until ``groups`` together use less than ``idle_cores`` of CPU (default :meth:`quiet_bar`:
        the backlog of the last phase is digested), at most ``cap`` seconds; returns how long it took.
        (Until run 11 the bar was 0.15 cores, and every wait ran to its cap; then 0.3 until run 16,
        whose idle stack used 0.28.)"""
        idle_cores = self.quiet_bar() if idle_cores is None else idle_cores
        started = time.monotonic()
        while time.monotonic() - started < cap:
            if self.busy_cores(groups) < idle_cores:
                break
        return round(time.monotonic() - started, 1)


def consumer_lag(reporting_url: str) -> int | None:
    """Events reporting's live consumer has not projected yet (its ``/metrics``), None if unknown."""
    try:
        with httpx.Client(timeout=5, trust_env=False) as client:
            response = client.get(f"{reporting_url}/metrics")
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    return metric_sum(response.text, "reporting_consumer_lag")


def metric_sum(exposition: str, name: str) -> int | None:
    """The sum of a Prometheus metric's samples (every label set); None if it has none."""
    values = [
        float(line.rsplit(" ", 1)[1]) for line in exposition.splitlines() if line.startswith((f"{name}{{", f"{name} "))
    ]
    return round(sum(values)) if values else None


def operator_headers(identity: Path | None) -> dict[str, str]:
    """An operator's credentials at reporting (the local identity provider's), or none without one."""
    if identity is None:
        return {}
    return DevIdentity(identity).headers("bench", roles=["operator"], audience="reporting")


def rebuild(
    reporting_url: str,
    timeout: float,
    *,
    headers: dict[str, str] | None = None,
    pid: int | None = None,
    profile_to: Path | None = None,
) -> dict[str, Any]:
    """POST /v1/projections/rebuild and wait for it; the service reports what it replayed and where
    the time went. With ``pid`` and ``profile_to`` py-spy samples the service for the rebuild's length."""
    spy = profiling.start(pid, timeout, profile_to) if pid and profile_to else None
    started = time.monotonic()
    try:
        with httpx.Client(timeout=timeout + 10, trust_env=False) as client:
            response = client.post(
                f"{reporting_url}/v1/projections/rebuild",
                params={"wait": "true", "timeout": str(timeout)},
                headers=headers or {},
            )
        wall = time.monotonic() - started  # the answer is in; py-spy's shutdown below is not the rebuild's
    except httpx.HTTPError as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        if spy is not None:
            profiling.finish(spy)
    result = rebuild_result(response.status_code, response.json() if response.content else {}, wall)
    if spy is not None and profile_to is not None:
        result["profiles"] = {"reporting": profiling.summarize(profile_to)}
    return result


def rebuild_result(http_status: int, body: dict[str, Any], wall: float) -> dict[str, Any]:
    """What the rebuild's answer says. A rate only for a rebuild that succeeded: one still running
    when the wait ended (202), or failed, replayed records too, and its rate was taken for a PASS."""
    status = body.get("rebuild") or {}
    done = http_status == 200 and status.get("state") == "succeeded"
    replayed = status.get("records_read") or status.get("events_applied") or 0
    fixed = [status.get(k) for k in ("first_record_seconds", "finish_seconds", "swap_seconds")]
    return {
        "http_status": http_status,
        "state": status.get("state"),
        "records_read": status.get("records_read"),
        "events_applied": status.get("events_applied"),
        "service_events_per_s": status.get("events_per_second"),
        "service_seconds": status.get("seconds"),
        "first_record_s": status.get("first_record_seconds"),
        "replay_s": status.get("replay_seconds"),
        "replay_events_per_s": status.get("replay_events_per_second"),
        "finish_s": status.get("finish_seconds"),
        "swap_s": status.get("swap_seconds"),
        "fixed_s": round(sum(f for f in fixed if f is not None), 3) if any(f is not None for f in fixed) else None,
        "wall_seconds": round(wall, 2),
        "events_per_s": round(replayed / wall, 1) if done and wall > 0 and replayed else None,
        "error": status.get("error") or body.get("error"),
    }


def officials_for_bench() -> OfficialPolicy:
    """Officials who decide at once and never send anything back, ask for a fee, reject, or hand results
    over (a bundle's measure ends at its last result): the bench measures the machine."""
    return OfficialPolicy(
        delay=(0.0, 0.0),
        supplement_rate=0.0,
        payment_request_rate=0.0,
        reject_rate=0.0,
        returns=False,
        poll_interval=0.1,
        max_parallel=32,
    )

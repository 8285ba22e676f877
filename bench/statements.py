"""``python -m bench.statements``: what the database is asked, and the CPU spent, per birth bundle.

Starts a fresh stack (the launcher of ``make run``) with PostgreSQL's ``pg_stat_statements``,
drives ``--count`` birth bundles at ``--rate`` through the load generator (officials deciding at
once, citizens paying and rating), waits for them to complete, and prints every statement the
services sent, as calls per completed bundle, with the total. Statements are the stack's main cost
here: each is a round trip with its CPU in the service, the driver and the server. A rate above
what the machine completes (about 8/s on the 2-core VM) shows the batched regime, a low one the
one-event-per-transaction regime.

It also prints the CPU seconds each process of the stack used from the first submission until every
bundle completed (or the drain ran out), per completed bundle: on two cores, 2 ÷ that total is the
most bundles a second the machine can complete, a figure much steadier between runs than a throughput
measured while the machine is also busy driving the load. That ceiling is printed only when every
bundle ended: the CPU of bundles still pending is in the total, their completion is not.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
import httpx
import uvloop

from bench.phases import officials_for_bench
from bench.stack import BenchStack
from bench.sysmon import SystemMonitor, cpu_delta
from devstack.stack import DATABASE
from loadgen.api import Targets
from loadgen.citizens import CitizenPolicy
from loadgen.runner import LoadConfig, RunResult, run

SETTINGS = {"shared_preload_libraries": "pg_stat_statements", "pg_stat_statements.track": "all"}
#: What the counter itself sends (and the driver's type introspection), left out of the table.
OWN = ("pg_stat_statements", "typeinfo_tree")


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench.statements", description=__doc__)
    p.add_argument("--rate", type=float, default=20.0, help="birth bundles per second (default 20)")
    p.add_argument("--count", type=int, default=200, help="birth bundles (default 200, at most 2,000)")
    p.add_argument("--top", type=int, default=30, help="statements listed (default 30)")
    p.add_argument("--drain", type=float, default=90.0, help="seconds to wait for the bundles to complete")
    args = p.parse_args(argv)
    if not (0 < args.rate <= 100 and 0 < args.count <= 2000 and 0 < args.drain <= 300):
        p.error("--rate in (0, 100], --count in (0, 2000], --drain in (0, 300]: every run is bounded")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    stack = BenchStack(postgres_settings=SETTINGS)
    print("starting the stack with pg_stat_statements …", file=sys.stderr, flush=True)
    try:
        stack.start()
        if stack.failed:
            print(f"services that did not start: {stack.failed}", file=sys.stderr)
            return 1
        dsn = f"postgresql://postgres@127.0.0.1:{stack.postgres_port}/{DATABASE}"
        assert stack.local is not None
        targets = Targets(
            stack.url("intake"), stack.url("workflow"), stack.url("reporting"), identity=stack.local.identity_dir
        )
        config = LoadConfig(
            targets=targets,
            kafka=stack.local.bootstrap_servers,
            only="birth",
            rate=args.rate,
            count=args.count,
            duration=args.count / args.rate + 5,
            officials=officials_for_bench(),
            citizens=CitizenPolicy(),
            drain=args.drain,
            seed=301,
        )
        rows, result, cpu = uvloop.run(_measure(dsn, config, SystemMonitor(stack.pids)))
        calls = external_calls(stack.url("registry-simulator"))
    finally:
        stack.stop()
    print(report(rows, result, cpu, calls, rate=args.rate, top=args.top))
    return 0


def report(
    rows: list[tuple[str, int]],
    result: RunResult,
    cpu: dict[str, float],
    calls: dict[str, int],
    *,
    rate: float,
    top: int,
) -> str:
    """The tables, per completed bundle. Divided by the submitted bundles, a run whose drain ran out
    spread the completed bundles' statements and CPU over bundles that never completed, and showed
    costs per bundle lower, and a ceiling higher, than the stack's."""
    ends = result.completions
    completed = ends.done
    heading = (
        f"{result.submitted_ok} birth bundles submitted at {rate:g}/s, {completed} completed,"
        f" {ends.ended_otherwise} ended otherwise, {ends.pending} still pending;"
        " statements sent by the whole stack, per completed bundle:\n"
    )
    tables = [
        heading,
        render(rows, completed, top),
        "\nCPU seconds per completed bundle, by process (the load driver not included):",
        render_cpu(cpu, completed, pending=ends.pending),
        "\nCalls to the national systems per completed bundle (the simulator's count):",
        render_calls(calls, completed),
    ]
    return "\n".join(tables)


def external_calls(simulator_url: str) -> dict[str, int]:
    """Calls each simulated national system received since the stack started."""
    with httpx.Client(timeout=5, trust_env=False) as client:
        systems = client.get(f"{simulator_url}/admin/counters").raise_for_status().json()["systems"]
    return {name: int(counts["calls"]) for name, counts in systems.items()}


def render_calls(calls: dict[str, int], bundles: int) -> str:
    """Calls per bundle to each system that had any: portal pushes move the stack's CPU (see the
    bench results, section 12)."""
    if bundles <= 0:
        return "no bundle completed"
    lines = [f"{n / bundles:>10.2f}  {name}" for name, n in sorted(calls.items(), key=lambda kv: -kv[1]) if n]
    return "\n".join(lines) or "none"


def render_cpu(cpu: dict[str, float], bundles: int, *, pending: int = 0) -> str:
    """Each process's CPU seconds per bundle and the stack's total, with the rate two cores allow,
    only when no bundle is ``pending``: their CPU is in the total, their completion is not."""
    if bundles <= 0:
        return "no bundle completed"
    per = {name: seconds / bundles for name, seconds in sorted(cpu.items(), key=lambda kv: -kv[1])}
    total = sum(per.values())
    lines = [f"{seconds:>10.4f}  {name}" for name, seconds in per.items()]
    ceiling = f", at most {2 / total:.1f} bundles/s on two cores" if total > 0 and not pending else ""
    lines.append(f"{total:>10.4f}  in all{ceiling}")
    if pending:
        lines.append(
            f"no ceiling: {pending:,} of the bundles had not ended when the drain ran out,"
            " and this counts their CPU against the completed ones (a longer --drain?)"
        )
    return "\n".join(lines)


async def _measure(
    dsn: str, config: LoadConfig, monitor: SystemMonitor
) -> tuple[list[tuple[str, int]], Any, dict[str, float]]:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        await asyncio.sleep(2)  # the services' start-up statements settle before the count starts
        await conn.execute("SELECT pg_stat_statements_reset()")
        before = monitor.cpu_seconds()
        result = await run(config)  # returns once every bundle completed, or the drain ran out
        cpu = cpu_delta(before, monitor.cpu_seconds())
        rows = await conn.fetch("SELECT query, calls FROM pg_stat_statements")
    finally:
        await conn.close()
    return [(r["query"], r["calls"]) for r in rows if not any(own in r["query"] for own in OWN)], result, cpu


def render(rows: list[tuple[str, int]], bundles: int, top: int) -> str:
    """A table of calls per bundle, most frequent first, and the total."""
    if bundles <= 0:
        return "no bundle completed"
    merged: dict[str, int] = {}
    for query, calls in rows:
        text = " ".join(query.split())
        merged[text] = merged.get(text, 0) + calls
    ranked = sorted(merged.items(), key=lambda item: -item[1])
    lines = [f"{'per bundle':>10}  statement", f"{'-' * 10}  {'-' * 9}"]
    lines += [f"{calls / bundles:>10.1f}  {text[:110]}" for text, calls in ranked[:top]]
    lines.append(f"{sum(merged.values()) / bundles:>10.1f}  in all ({len(merged)} distinct statements)")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

"""The end-of-run report: throughput and latency percentiles, as text and as a JSON-ready dict."""

from __future__ import annotations

from typing import Any

from loadgen.runner import RunResult
from loadgen.stats import Latencies, LatencySummary, coarse


def _ms(summary: LatencySummary | None) -> str:
    if summary is None:
        return "-"
    return (f"p50 {summary.p50 * 1000:8.1f}  p90 {summary.p90 * 1000:8.1f}  p99 {summary.p99 * 1000:8.1f}  "
            f"max {summary.max * 1000:8.1f} ms")  # fmt: skip


def end_to_end(result: RunResult) -> dict[str, Latencies]:
    """Submit-to-last-result latencies merged by coarse kind (birth, death, standalone)."""
    merged: dict[str, Latencies] = {}
    for label, latencies in result.completions.latencies.items():
        merged.setdefault(coarse(label), Latencies()).extend(latencies)
    return merged


def as_dict(result: RunResult) -> dict[str, Any]:
    c = result.config
    operations = {}
    for name, op in sorted(result.recorder.operations.items()):
        summary = op.latencies.summary()
        operations[name] = {"statuses": dict(op.statuses), "latency_ms": summary.as_ms() if summary else None}
    e2e = {}
    for kind, latencies in end_to_end(result).items():
        summary = latencies.summary()
        e2e[kind] = summary.as_ms() if summary else None
    lag = result.schedule_lag.summary()
    return {
        "config": {"rate": c.rate, "duration_s": c.duration, "count": c.count, "concurrency": c.concurrency,
                   "only": c.only, "client": c.client, "seed": c.seed},
        "submitted_ok": result.submitted_ok,
        "submitted_failed": result.submitted_failed,
        "submit_seconds": round(result.submit_seconds, 3),
        "accepted_per_second": round(result.accepted_per_second, 1),
        "schedule_lag_ms": lag.as_ms() if lag else None,
        "completed": result.completions.done,
        "ended_otherwise": result.completions.ended_otherwise,
        "pending_at_end": result.completions.pending,
        "completed_per_second": round(result.completed_per_second, 1),
        "outcomes": dict(result.completions.outcomes),
        "end_to_end_ms": e2e,
        "decisions": result.decisions,
        "operations": operations,
        "watcher_events": result.watcher_events,
        "watcher_error": result.watcher_error,
        "disabled_actions": result.disabled_actions,
    }  # fmt: skip


def render(result: RunResult) -> str:
    c = result.config
    rate = f"{c.rate:g}/s" if c.rate else "as fast as possible"
    lines = [
        f"load: {rate}, concurrency {c.concurrency}, at most {c.count:,} submissions in {c.duration:g} s "
        f"(mix: {c.only}, client: {c.client}, seed {c.seed})",
        f"accepted {result.submitted_ok:,} in {result.submit_seconds:.1f} s = {result.accepted_per_second:,.1f}/s; "
        f"failed {result.submitted_failed:,}",
    ]
    lag = result.schedule_lag.summary()
    if c.rate and lag is not None:
        lines.append(f"behind schedule: p99 {lag.p99 * 1000:.1f} ms, max {lag.max * 1000:.1f} ms")
    lines.append("")
    width = max((len(n) for n in result.recorder.operations), default=10)
    for name, op in sorted(result.recorder.operations.items()):
        statuses = " ".join(f"{s}×{n}" for s, n in sorted(op.statuses.items()))
        lines.append(f"  {name:<{width}}  {_ms(op.latencies.summary())}   [{statuses}]")
    ends = result.completions
    if ends.done or ends.pending or ends.ended_otherwise:
        done, pending = ends.done, ends.pending
        per_second = result.completed_per_second
        lines += [
            "",
            f"end to end: completed {done:,} ({per_second:,.1f}/s), ended otherwise "
            f"{ends.ended_otherwise:,}, still pending {pending:,}",
        ]
        origin = "scheduled submit" if result.config.scheduled else "submit"
        for kind, latencies in sorted(end_to_end(result).items()):
            lines.append(f"  {kind:<{width}}  {_ms(latencies.summary())}   ({origin} → last result)")
        for outcome, n in sorted(result.completions.outcomes.items()):
            lines.append(f"    {outcome}: {n:,}")
    if result.decisions:
        lines.append(f"officials' decisions: {result.decisions:,}")
    for action, status in result.disabled_actions.items():
        lines.append(f"citizen action '{action}' switched off: intake answered {status}")
    if result.watcher_error:
        lines.append(f"event watcher failed: {result.watcher_error}")
    return "\n".join(lines)

"""Results as JSON (everything) and Markdown (the table a person reads), and the console summary."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

ROWS = (  # metric key, label, unit
    ("raw_insert_commits_per_s", "raw PostgreSQL single-row insert commits/s", "/s"),
    ("bare_per_s", "bare FastAPI endpoint requests/s", "/s"),
    ("bare_p99_ms", "bare endpoint p99", "ms"),
    ("intake_per_s", "intake accepted dossiers/s", "/s"),
    ("intake_p50_ms", "intake p50", "ms"),
    ("intake_p99_ms", "intake p99", "ms"),
    ("intake_vs_bare", "ratio intake ÷ bare endpoint", "×"),
    ("intake_vs_raw_inserts", "ratio intake ÷ raw inserts", "×"),
    ("birth_2_per_s", "birth bundles completed/s at 2/s offered (under capacity)", "/s"),
    ("birth_2_p50_ms", "birth at 2/s: p50 scheduled submit → last result", "ms"),
    ("birth_2_p99_ms", "birth at 2/s: p99 scheduled submit → last result", "ms"),
    ("birth_2_pending_at_end", "birth at 2/s: bundles still pending after the drain (not counted above)", ""),
    ("lag_2_p50_ms", "live projection lag p50 at 2/s", "ms"),
    ("lag_2_p99_ms", "live projection lag p99 at 2/s", "ms"),
    ("birth_50_per_s", "birth bundles completed/s at 50/s offered", "/s"),
    ("birth_50_p50_ms", "birth at 50/s: p50 scheduled submit → last result", "ms"),
    ("birth_50_p99_ms", "birth at 50/s: p99 scheduled submit → last result", "ms"),
    ("birth_50_ended_otherwise", "birth at 50/s: bundles ended partially (not counted above)", ""),
    ("birth_50_pending_at_end", "birth at 50/s: bundles still pending after the drain (not counted above)", ""),
    ("birth_flat_per_s", "birth bundles completed/s flat out", "/s"),
    ("birth_flat_p50_ms", "birth flat out: p50 submit → last result", "ms"),
    ("birth_flat_p99_ms", "birth flat out: p99 submit → last result", "ms"),
    ("birth_flat_ended_otherwise", "birth flat out: bundles ended partially (not counted above)", ""),
    ("birth_flat_pending_at_end", "birth flat out: bundles still pending after the drain (not counted above)", ""),
    ("rebuild_events_per_s", "projection rebuild events/s", "/s"),
    ("rebuild_events", "projection rebuild: events in the log", ""),
    ("rebuild_replay_events_per_s", "projection rebuild: replay alone events/s", "/s"),
    ("rebuild_fixed_s", "projection rebuild: fixed costs (to first event, finish, swap)", "s"),
    ("rebuild_quiet", "projection rebuild: stack quiet before it", ""),
    ("idle_stack_cores", "the stack idle, before any load (quiet: within 0.1 of it)", "cores"),
    ("rebuild_reporting_rss_mb", "projection rebuild: reporting peak RSS during it", "MB"),
    ("lag_p50_ms", "live projection lag p50 at 50/s", "ms"),
    ("lag_p99_ms", "live projection lag p99 at 50/s", "ms"),
    ("max_service_rss_mb", "peak RSS, largest service", "MB"),
)


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and unit == "×":
        return f"{value:.3f}×"
    if isinstance(value, float) and unit == "cores":
        return f"{value:.2f} cores"
    number = f"{value:,.1f}" if isinstance(value, float) else f"{value:,}"
    return f"{number} {unit}".strip()


#: The birth phases' metric prefixes, as the notes name them.
BIRTH_PHASES = {"birth_2": "birth at 2/s", "birth_flat": "birth flat out", "birth_50": "birth at 50/s"}


def _lower_bound(metrics: dict[str, Any], key: str) -> bool:
    """Whether ``key`` is a percentile of a censored phase (most bundles still pending at its end):
    it counts only the bundles that ended, so the true figure is at least this."""
    if not key.endswith(("_p50_ms", "_p99_ms")):
        return False
    return bool(metrics.get(key.removesuffix("_p50_ms").removesuffix("_p99_ms") + "_censored"))


def _verdict_of(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["key"]: row for row in results.get("verdicts", [])}


def table_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    metrics, verdict = results.get("metrics", {}), _verdict_of(results)
    rows = []
    for key, label, unit in ROWS:
        v = verdict.get(key, {})
        measured = _fmt(metrics.get(key), unit)
        if _lower_bound(metrics, key) and metrics.get(key) is not None:
            measured = f"≥ {measured}"
        rows.append((label, measured, v.get("target", ""), v.get("verdict", "")))
    for name, mb in (results.get("peak_rss_mb") or {}).items():
        rows.append((f"peak RSS {name}", _fmt(mb, "MB"), "< 200 MB" if name in _SERVICES else "", ""))
    return rows


_SERVICES = ("intake", "workflow", "registry-sync", "reporting")


def notes(results: dict[str, Any]) -> list[str]:
    """Warnings about measurements that do not mean what their row says."""
    out = []
    if results.get("error"):
        out.append(f"! the run stopped early ({results['error'][:300]}): only the phases before it were measured")
    settled = results.get("before_rebuild") or {}
    if results.get("rebuild") and settled.get("quiet") is False:
        out.append(
            f"! the rebuild started on a busy stack (after {settled.get('waited_s')} s: reporting's consumer"
            f" {settled.get('consumer_lag')} events behind, the stack using {settled.get('busy_cores')} cores,"
            f" quiet below {settled.get('quiet_below_cores', 0.3)}):"
            " its rate is shared with that backlog, not the rebuild's own"
        )
    out += censored_notes(results.get("metrics") or {})
    replayed = (results.get("rebuild") or {}).get("records_read")
    if replayed is not None and replayed < SMALL_LOG:
        out.append(
            f"! the rebuild replayed only {replayed:,} events: its fixed costs weigh on the whole rate;"
            " the replay's own rate is what a large log approaches"
        )
    return out


def censored_notes(metrics: dict[str, Any]) -> list[str]:
    """One warning per birth phase with more than 1% of its bundles still pending at its end."""
    out = []
    for key, name in BIRTH_PHASES.items():
        if metrics.get(f"{key}_censored"):
            out.append(
                f"! {name}: {metrics.get(f'{key}_pending_at_end'):,} of {metrics.get(f'{key}_submitted'):,}"
                " bundles submitted were still pending after the drain: its percentiles count only those that"
                " ended (lower bounds, marked ≥) and its verdicts are n/a"
            )
    return out


#: Below this many events a rebuild's fixed costs (tables, broker metadata, final flush, swap) show.
SMALL_LOG = 20_000


def console_table(results: dict[str, Any]) -> str:
    rows = [("measure", "measured", "target", ""), *table_rows(results)]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [f"{a:<{widths[0]}}  {b:>{widths[1]}}  {c:<{widths[2]}}  {d}" for a, b, c, d in rows]
    lines.insert(1, "-" * (sum(widths) + 10))
    failed = (results.get("stack") or {}).get("failed") or {}
    for name, why in failed.items():
        lines.append(f"! {name} did not start: {why[:300]}")
    lines += notes(results)
    return "\n".join(lines)


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    out = [
        f"# Benchmark {m['measured_at']} on {m['host']}",
        "",
        f"{m['cpu_model']}, {m['cpu_cores']} cores, {m['ram_gb']} GB RAM, {m['os']}, Python {m['python']}, "
        f"{m['postgres']}; commit `{m['git_commit'][:12]}`{' (uncommitted changes)' if m['git_dirty'] else ''}. "
        f"Every process (PostgreSQL, broker, simulator, four services, the load driver) on this one machine; "
        f"fsync {'off' if results['settings'].get('no_fsync') else 'on'}; "
        f"{results['settings']['concurrency']} requests in flight; {results['settings']['seconds']:g} s per phase; "
        f"run took {results.get('total_seconds', 0):.0f} s.",
        "",
        "| measure | measured | target | |",
        "|---|---:|---|---|",
    ]
    out += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in table_rows(results)]
    for note in notes(results):
        out += ["", f"**{note.removeprefix('! ')}.**"]
    failed = (results.get("stack") or {}).get("failed") or {}
    if failed:
        out += ["", "Services that did not start: " + "; ".join(f"**{k}**: {v[:200]}" for k, v in failed.items())]
    cpu = results.get("cpu_seconds") or {}
    if cpu:
        groups = sorted({g for phase in cpu.values() for g in phase if g != "wall_seconds"})
        out += [
            "",
            "CPU seconds per process during each phase (2 cores = 2 s per wall second):",
            "",
            "| phase | wall s | " + " | ".join(groups) + " |",
            "|---|" + "---:|" * (len(groups) + 1),
        ]
        for phase, used in cpu.items():
            out.append(
                f"| {phase} | {used.get('wall_seconds', '')} | "
                + " | ".join(str(used.get(g, "")) for g in groups)
                + " |"
            )
    profiles = [
        (phase, name, p)
        for phase, data in results.items()
        if isinstance(data, dict)
        for name, p in (data.get("profiles") or {}).items()
    ]
    for phase, name, p in profiles:
        if "error" in p:
            continue
        out += ["", f"Where **{name}** spent its CPU during *{phase}* (py-spy, % of busy samples):", ""]
        out.append("- by package (self): " + ", ".join(f"{k} {v}%" for k, v in p["self_by_package_pct"][:8]))
        out.append("- our code (inclusive): " + ", ".join(f"`{k}` {v}%" for k, v in p["inclusive_our_code_pct"][:6]))
    sessions = results.get("database_sessions") or {}
    for phase, top in sessions.items():
        if phase in ("idle", "between phases") or not top:
            continue
        out += ["", f"Database sessions during *{phase}* (samples of pg_stat_activity: wait | statement):", ""]
        out += [f"- {n} × `{what}`" for what, n in top[:6]]
    return "\n".join(out) + "\n"


def write_results(results: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """``<date>-<host>.json`` and ``.md`` in ``out_dir`` (a suffix keeps earlier runs of the day)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{datetime.now(UTC):%Y-%m-%d}-{results['machine']['host']}"
    n, base = 1, stem
    while (out_dir / f"{stem}.json").exists():
        n += 1
        stem = f"{base}-{n}"
    json_path, md_path = out_dir / f"{stem}.json", out_dir / f"{stem}.md"
    json_path.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
    md_path.write_text(markdown(results))
    return json_path, md_path

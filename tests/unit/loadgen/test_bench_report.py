"""The benchmark's verdicts and its Markdown: a four-minute run must not die while writing its table."""

from __future__ import annotations

from pathlib import Path

from bench.output import console_table, markdown, write_results
from bench.profiling import summarize
from bench.run import headline
from bench.statements import render as render_statements
from bench.statements import render_calls, render_cpu
from bench.targets import verdicts


def test_verdicts_pass_miss_and_not_measured() -> None:
    rows = {r["key"]: r for r in verdicts({"intake_per_s": 2500.0, "intake_p99_ms": 80, "lag_p99_ms": 1000})}
    assert rows["intake_per_s"]["verdict"] == "PASS" and rows["intake_per_s"]["target"] == "≥ 2,000 /s"
    assert rows["intake_p99_ms"]["verdict"] == "MISS"
    assert rows["lag_p99_ms"]["verdict"] == "MISS"  # the target is strictly below 1 s
    assert rows["rebuild_events_per_s"]["verdict"] == "n/a"


def test_results_are_written_as_json_and_markdown(tmp_path: Path) -> None:
    metrics = {"intake_per_s": 12.5, "bare_per_s": 2400.0, "intake_vs_bare": 0.005, "max_service_rss_mb": 141.5}
    results = {
        "machine": {"host": "h", "measured_at": "2026-11-22T00:00:00+00:00", "cpu_model": "AMD EPYC",
                    "cpu_cores": 2, "ram_gb": 23.5, "os": "Linux", "python": "3.11.7", "postgres": "18.6",
                    "git_commit": "0123456789abcdef", "git_dirty": True},
        "settings": {"concurrency": 32, "seconds": 12.0, "no_fsync": False},
        "metrics": metrics, "verdicts": verdicts(metrics), "peak_rss_mb": {"intake": 105.3, "broker": 30.8},
        "cpu_seconds": {"intake flat out": {"intake": 2.2, "wall_seconds": 14.1}},
        "database_sessions": {"intake flat out": [("Lock:transactionid | INSERT INTO dossier_sequences", 214)]},
    }  # fmt: skip
    json_path, md_path = write_results(results, tmp_path)
    again, _ = write_results(results, tmp_path)
    assert json_path.name.endswith("-h.json") and md_path.name.endswith("-h.md")
    assert again != json_path  # an earlier run of the day is kept
    text = md_path.read_text()
    assert "| intake accepted dossiers/s | 12.5 /s | ≥ 2,000 /s | MISS |" in text
    assert "Lock:transactionid" in text and "(uncommitted changes)" in text
    assert "0.005×" in console_table(results)
    assert markdown(results).startswith("# Benchmark")


def test_profile_summary_leaves_out_waiting_threads(tmp_path: Path) -> None:
    raw = tmp_path / "p.raw"
    raw.write_text(
        "main (intake/__main__.py:9);Runner.run (asyncio/runners.py:118) 50\n"
        "main (intake/__main__.py:9);submit (intake/handlers.py:10);execute (asyncpg/connection.py:3) 30\n"
        "main (intake/__main__.py:9);submit (intake/handlers.py:12);dumps (orjson/x.py:1) 10\n"
        "worker (concurrent/futures/thread.py:1);Condition.wait (threading.py:320) 99\n"
    )
    s = summarize(raw)
    assert (s["samples_busy"], s["samples_idle"]) == (40, 149)
    assert s["self_by_package_pct"][0] == ("asyncpg", 75.0)
    assert ("submit (intake/handlers.py)", 100.0) in s["inclusive_our_code_pct"]


def test_the_headline_keeps_the_under_capacity_phase_apart_from_the_saturating_one() -> None:
    """The targets read the 50/s phase; the 2/s one is reported beside it, never in its place."""
    def phase(p99: float, lag_p99: float) -> dict[str, object]:
        return {"completed_per_s": 4.9, "e2e": {"bundle:birth": {"p50": 1.0, "p99": p99, "count": 60}},
                "lag": {"p50": 1.0, "p99": lag_p99}}  # fmt: skip

    m = headline({"birth_under_capacity": phase(700.0, 90.0), "birth_at_50": phase(25_000.0, 20_000.0)})
    assert (m["birth_2_p99_ms"], m["lag_2_p99_ms"]) == (700.0, 90.0)
    assert (m["birth_50_p99_ms"], m["lag_p99_ms"]) == (25_000.0, 20_000.0)
    rows = {r["key"]: r["verdict"] for r in verdicts(m)}
    assert rows["birth_50_p99_ms"] == rows["lag_p99_ms"] == "MISS"


def test_the_statement_table_counts_per_bundle_merging_whitespace_variants() -> None:
    rows = [("COMMIT", 400), ("SELECT  1\n FROM t", 100), ("SELECT 1 FROM t", 100), ("BEGIN", 380)]
    table = render_statements(rows, bundles=200, top=2).splitlines()
    assert table[2].split() == ["2.0", "COMMIT"]
    assert table[3].split() == ["1.9", "BEGIN"]
    assert table[-1].startswith("       4.9  in all (3 distinct statements)")
    assert render_statements(rows, bundles=0, top=2) == "no bundle completed"


def test_the_cpu_table_gives_the_ceiling_two_cores_allow() -> None:
    table = render_cpu({"workflow": 10.0, "postgres": 30.0}, bundles=200).splitlines()
    assert table[0].split() == ["0.1500", "postgres"]
    assert table[-1] == "    0.2000  in all, at most 10.0 bundles/s on two cores"


def test_the_calls_table_lists_the_systems_called_per_bundle() -> None:
    calls = {"national_portal": 1_500, "population_db": 200, "social_welfare": 0}
    assert render_calls(calls, bundles=200).splitlines() == ["      7.50  national_portal", "      1.00  population_db"]
    assert render_calls({}, bundles=0) == "no bundle completed"

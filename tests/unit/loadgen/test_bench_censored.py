"""A birth phase whose bundles mostly never ended has no verdict: its percentiles count only the
bundles that did end, the fastest, so they are lower bounds."""

from __future__ import annotations

from typing import Any

from bench.output import console_table
from bench.run import censored, headline
from bench.targets import verdicts


def phase(p99: float, submitted: int, pending: int) -> dict[str, Any]:
    completed = submitted - pending
    return {
        "completed_per_s": 120.0,
        "e2e": {"bundle:birth": {"p50": p99 / 2, "p99": p99, "count": completed}},
        "report": {"submitted_ok": submitted, "ended_otherwise": 0, "pending_at_end": pending},
        "lag": {"connected": True, "p50": 100.0, "p99": 200.0, "count": completed},
    }


def test_a_phase_with_most_bundles_still_pending_is_not_passed() -> None:
    """600 bundles submitted at 50/s, 10 ended within the drain: their p99 of 500 ms was a PASS."""
    results: dict[str, Any] = {
        "birth_at_50": phase(500.0, submitted=600, pending=590),
        "birth_flat_out": phase(800.0, submitted=600, pending=590),
    }
    m = headline(results)
    rows = {r["key"]: r["verdict"] for r in verdicts(m)}
    assert rows["birth_50_p99_ms"] == rows["birth_flat_per_s"] == "n/a"
    assert m["lag_p99_ms"] == 200.0 and rows["lag_p99_ms"] == "n/a"  # its events not projected are left out too
    assert (m["birth_50_pending_at_end"], m["birth_50_censored"]) == (590, True)
    results |= {"metrics": m, "verdicts": verdicts(m)}
    table = console_table(results)
    assert "≥ 500.0 ms" in table and "≥ 250.0 ms" in table  # both percentiles, as lower bounds
    assert "birth at 50/s: bundles still pending after the drain (not counted above)" in table
    assert "! birth at 50/s: 590 of 600 bundles submitted were still pending after the drain" in table


def test_a_phase_with_a_few_bundles_still_pending_keeps_its_verdict() -> None:
    m = headline({"birth_at_50": phase(500.0, submitted=600, pending=6)})  # 1%: not more than it
    assert (m["birth_50_pending_at_end"], m["birth_50_censored"]) == (6, False)
    assert {r["key"]: r["verdict"] for r in verdicts(m)}["birth_50_p99_ms"] == "PASS"
    assert "≥ 500.0 ms" not in console_table({"metrics": m, "verdicts": verdicts(m)})


def test_censored_means_more_than_one_percent_still_pending() -> None:
    assert censored(7, 600) is True and censored(6, 600) is False
    assert censored(None, 600) is None and censored(0, 0) is None  # the phase did not run

"""The targets of issue 8 and the verdicts on a set of measurements."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Target:
    key: str  # where the measured value sits in the results' "metrics"
    label: str
    bound: float
    sign: str  # ≥, ≤ or <
    unit: str
    #: A metric that must not be False for the measurement to count (the rebuild's quiet stack).
    valid_if: str | None = None
    #: A metric that, when True, makes the measurement a bound rather than a figure (a phase whose
    #: bundles were mostly still pending at its end): no verdict on it.
    censored_if: str | None = None

    @property
    def text(self) -> str:
        return f"{self.sign} {self.bound:,g} {self.unit}".strip()

    def met_by(self, value: float) -> bool:
        return bool(COMPARE[self.sign](value, self.bound))


COMPARE: dict[str, Callable[[float, float], bool]] = {"≥": operator.ge, "≤": operator.le, "<": operator.lt}


TARGETS = (
    Target("intake_per_s", "intake accepted dossiers/s", 2000, "≥", "/s"),
    Target("intake_p99_ms", "intake p99 latency", 50, "≤", "ms"),
    Target("intake_vs_bare", "intake ÷ bare endpoint", 0.5, "≥", "×"),
    Target(
        "birth_flat_per_s", "birth bundles end to end/s (flat out)", 100, "≥", "/s", censored_if="birth_flat_censored"
    ),
    Target(
        "birth_50_p99_ms",
        "birth bundle p99 submit→last result at 50/s",
        1000,
        "≤",
        "ms",
        censored_if="birth_50_censored",
    ),
    Target("rebuild_events_per_s", "projection rebuild events/s", 20000, "≥", "/s", valid_if="rebuild_quiet"),
    # Measured in the 50/s phase: events not projected when it ends are left out too.
    Target("lag_p99_ms", "live projection lag p99", 1000, "<", "ms", censored_if="birth_50_censored"),
    Target("max_service_rss_mb", "peak RSS of the largest service", 200, "<", "MB"),
)


def verdicts(metrics: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per target: the measured value (None when the phase could not run) and PASS/MISS
    (n/a when not measured, or measured only as a bound)."""
    rows = []
    for t in TARGETS:
        value = metrics.get(t.key)
        verdict = "n/a" if value is None else ("PASS" if t.met_by(float(value)) else "MISS")
        if value is not None and t.valid_if and metrics.get(t.valid_if) is False:
            verdict = "DISTURBED"  # measured while the stack was still busy: not a fair figure
        if t.censored_if and metrics.get(t.censored_if):
            verdict = "n/a"  # most bundles never ended: a p99 of the few that did passed for the phase's
        rows.append({"key": t.key, "label": t.label, "measured": value, "target": t.text, "verdict": verdict})
    return rows

"""Latency percentiles and per-operation counts.

Percentiles are nearest-rank over every recorded sample (runs are bounded, so keeping them all
is cheap and exact): p50 of 1..100 is 50, p99 is 99, p100 is the maximum.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

COARSE_KINDS = ("bundle:birth", "bundle:death", "dossier")


def coarse(label: str) -> str:
    """ "bundle:death:none" → "bundle:death", "dossier:1.001193" → "dossier": the kinds a report compares."""
    return next((kind for kind in COARSE_KINDS if label.startswith(kind)), label)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile (0 ≤ q ≤ 100) of already sorted values."""
    if not sorted_values:
        raise ValueError("no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} outside 0–100")
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass(frozen=True)
class LatencySummary:
    """Seconds."""

    count: int
    mean: float
    p50: float
    p90: float
    p99: float
    max: float

    def as_ms(self) -> dict[str, float | int]:
        ms = {k: round(getattr(self, k) * 1000, 2) for k in ("mean", "p50", "p90", "p99", "max")}
        return {"count": self.count, **ms}


class Latencies:
    """Samples in seconds; summarised at the end."""

    def __init__(self) -> None:
        self._samples = array("d")

    def add(self, seconds: float) -> None:
        self._samples.append(seconds)

    def extend(self, other: Latencies) -> None:
        self._samples.extend(other._samples)

    def __len__(self) -> int:
        return len(self._samples)

    def summary(self) -> LatencySummary | None:
        if not self._samples:
            return None
        ordered = sorted(self._samples)
        return LatencySummary(
            count=len(ordered),
            mean=math.fsum(ordered) / len(ordered),
            p50=percentile(ordered, 50),
            p90=percentile(ordered, 90),
            p99=percentile(ordered, 99),
            max=ordered[-1],
        )


@dataclass
class Operation:
    """One kind of request (e.g. "submit bundle:birth"): outcomes by status and latencies of successes."""

    latencies: Latencies = field(default_factory=Latencies)
    statuses: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> int:
        return sum(n for status, n in self.statuses.items() if status.startswith("2"))

    @property
    def failed(self) -> int:
        return sum(self.statuses.values()) - self.ok


class Recorder:
    """Every operation of a run, by name."""

    def __init__(self) -> None:
        self.operations: dict[str, Operation] = {}

    def operation(self, name: str) -> Operation:
        op = self.operations.get(name)
        if op is None:
            op = self.operations[name] = Operation()
        return op

    def record(self, name: str, status: int | str, seconds: float) -> None:
        """``status``: an HTTP status, or an error name ("timeout", "connect") when there was no answer."""
        op = self.operation(name)
        op.statuses[str(status)] += 1
        if isinstance(status, int) and 200 <= status < 300:
            op.latencies.add(seconds)

    def total(self, prefix: str) -> tuple[int, int]:
        """(successes, failures) of the operations whose name starts with ``prefix``."""
        ops = [op for name, op in self.operations.items() if name.startswith(prefix)]
        return sum(op.ok for op in ops), sum(op.failed for op in ops)

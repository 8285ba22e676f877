"""What happened to each system, so tests can assert "exactly once" and "retried N times".

``effects`` counts operations that actually changed state (an idempotent replay, a rejected
request or an injected fault does not count); ``calls`` counts every request that reached the
system, whatever its outcome.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any


class Counters:
    """Per-system tallies; keys are the system names of :class:`registry_sim.faults.System`."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.effects: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.faults: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.replays: Counter[str] = Counter()
        self.late_answers: Counter[str] = Counter()

    def record_call(self, system: str) -> None:
        self.calls[system] += 1

    def record_effect(self, system: str, operation: str) -> None:
        self.effects[system][operation] += 1

    def record_fault(self, system: str, status: str) -> None:
        self.faults[system][status] += 1

    def record_replay(self, system: str) -> None:
        self.replays[system] += 1

    def record_late_answer(self, system: str) -> None:
        self.late_answers[system] += 1

    def snapshot(self, system: str) -> dict[str, Any]:
        """One system's tallies as JSON."""
        return {
            "calls": self.calls[system],
            "effects": dict(sorted(self.effects[system].items())),
            "faults": dict(sorted(self.faults[system].items())),
            "replays": self.replays[system],
            "late_answers": self.late_answers[system],
        }

"""Everything the simulator remembers, in memory: lost on restart, on purpose (a simulator
starts clean; tests reset it through ``POST /admin/reset``).

Records are stored as the JSON they are answered with, per system and collection, so the admin
API can show exactly what each system was told.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from typing import Any

from registry_sim.counters import Counters
from registry_sim.faults import Faults, System
from registry_sim.idempotency import IdempotencyStore
from registry_sim.settings import SimulatorSettings

#: Vietnam has no daylight saving time; a fixed offset needs no tz database.
VIETNAM = timezone(timedelta(hours=7), "ICT")

Clock = Callable[[], datetime]
Record = dict[str, Any]


def vietnam_now() -> datetime:
    return datetime.now(VIETNAM)


class Records:
    """system → collection → key → record, plus per-collection sequences for readable ids."""

    def __init__(self) -> None:
        self.data: defaultdict[str, defaultdict[str, dict[str, Record]]] = defaultdict(lambda: defaultdict(dict))
        self._sequences: Counter[tuple[str, str, int | None]] = Counter()

    def collection(self, system: System, name: str) -> dict[str, Record]:
        return self.data[system.value][name]

    def next_sequence(self, system: System, name: str, year: int | None = None) -> int:
        """The next number of a collection; of its ``year`` for a register numbered within each year
        (a birth's "1/2027" follows the last of 2026, not its number)."""
        key = (system.value, name, year)
        self._sequences[key] += 1
        return self._sequences[key]

    def dump(self, system: str | None = None) -> dict[str, Any]:
        """Stored records as JSON: all systems, or one."""
        systems = [system] if system else [s.value for s in System]
        return {s: {c: list(items.values()) for c, items in self.data[s].items()} for s in systems}


class SimulatorState:
    """The simulator's whole mutable state, built by the app factory and replaced on reset."""

    def __init__(self, settings: SimulatorSettings, clock: Clock = vietnam_now) -> None:
        self.settings = settings
        self.clock = clock
        self.reset(settings.seed, keep_faults=False)

    def reset(self, seed: int, *, keep_faults: bool) -> None:
        """Forget every record, key and count; reseed so a run after reset repeats a fresh one."""
        # String seeds are hashed deterministically (random.seed version 2), unlike hash().
        self.rng = random.Random(f"{seed}:data")
        previous = getattr(self, "faults", None)
        self.faults = Faults(random.Random(f"{seed}:faults"), dict(self.settings.faults))
        if keep_faults and previous is not None:
            self.faults.configs = dict(previous.configs)
        self.records = Records()
        self.counters = Counters()
        self.idempotency = IdempotencyStore(self.settings.idempotency_capacity)

    def now(self) -> datetime:
        return self.clock()

    def today(self) -> date:
        return self.clock().date()

    def random_digits(self, count: int) -> str:
        return f"{self.rng.randrange(10**count):0{count}d}"

"""What the database sessions are doing under load: samples of pg_stat_activity, counted by wait
event and statement. Many sessions "idle in transaction" mean the application holds transactions
open while it computes; many waiting on a ``Lock`` mean rows everybody updates (a hot counter)."""

from __future__ import annotations

import subprocess
import threading
from collections import Counter
from pathlib import Path

QUERY = """SELECT CASE WHEN state = 'idle in transaction' THEN 'app:idle in transaction'
                   ELSE coalesce(wait_event_type, 'CPU') || ':' || coalesce(wait_event, 'running') END
            || ' | ' || left(regexp_replace(query, '\\s+', ' ', 'g'), 70)
       FROM pg_stat_activity
      WHERE datname = '{database}' AND pid <> pg_backend_pid()
        AND state IN ('active', 'idle in transaction', 'idle in transaction (aborted)')"""


class DatabaseWaits:
    """Samples every ``interval`` seconds; ``phase`` names where the samples go."""

    def __init__(self, bin_dir: Path, port: int, database: str, interval: float = 0.5) -> None:
        self.command = [str(bin_dir / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", database,
                        "-qtAc", QUERY.format(database=database)]  # fmt: skip
        self.interval = interval
        self.phase = "idle"
        self.samples: dict[str, Counter[str]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dbwaits", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                out = subprocess.run(self.command, capture_output=True, text=True, timeout=5).stdout
            except (OSError, subprocess.SubprocessError):
                continue
            counter = self.samples.setdefault(self.phase, Counter())
            counter.update(line for line in out.splitlines() if line.strip())

    def top(self, n: int = 8) -> dict[str, list[tuple[str, int]]]:
        return {phase: counter.most_common(n) for phase, counter in self.samples.items()}

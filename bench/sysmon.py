"""Resident memory and CPU time of the stack's processes, sampled in a background thread.

Peak RSS is what the "< 200 MB per service" target reads. CPU seconds per process group and phase
show where the machine's two cores went, which is the first thing to look at when a target is
missed (the driver included: it must not be what saturates)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

import psutil

Groups = Callable[[], Mapping[str, list[int]]]  # group name → pids (children are added)


def _family(pid: int, *, children: bool = True) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)] if children else [root]
    except psutil.Error:
        return []


class SystemMonitor:
    """``flat``: groups measured without their children (the driver: its children are the bare
    endpoint and py-spy, which are not the driver's cost); ``no_rss``: groups left out of peak RSS
    (PostgreSQL's backends share their buffers, so summing their RSS counts the same pages many times)."""

    def __init__(
        self,
        groups: Groups,
        *,
        flat: frozenset[str] = frozenset(),
        no_rss: frozenset[str] = frozenset(),
        interval: float = 0.25,
    ) -> None:
        self.groups = groups
        self.flat = flat
        self.no_rss = no_rss
        self.interval = interval
        self.peak_rss: dict[str, int] = {}
        self.window_rss: dict[str, int] = {}  # peaks since the last new_window(): one phase's
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sysmon", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        for name, pids in self.groups().items():
            if name in self.no_rss:
                continue
            rss = 0
            for pid in pids:
                for process in _family(pid, children=name not in self.flat):
                    try:
                        rss += process.memory_info().rss
                    except psutil.Error:
                        continue
            self.peak_rss[name] = max(self.peak_rss.get(name, 0), rss)
            self.window_rss[name] = max(self.window_rss.get(name, 0), rss)

    def new_window(self) -> dict[str, int]:
        """Start a new window of peaks; returns the peaks of the one that ends."""
        ended, self.window_rss = self.window_rss, {}
        return ended

    def cpu_seconds(self) -> dict[str, float]:
        """User + system CPU seconds used so far by each group (children included, but for a flat one)."""
        used: dict[str, float] = {}
        for name, pids in self.groups().items():
            flat = name in self.flat
            total = 0.0
            for pid in pids:
                for process in _family(pid, children=not flat):
                    try:
                        times = process.cpu_times()
                        total += times.user + times.system
                        if not flat:  # children that have exited (PostgreSQL backends come and go)
                            # A flat group's are not its own: the driver's pgbench, bare server, psql.
                            total += times.children_user + times.children_system
                    except psutil.Error:
                        continue
            used[name] = total
        return used


def cpu_delta(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
    return {name: round(after[name] - before.get(name, 0.0), 2) for name in after}

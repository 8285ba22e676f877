"""What dominates a service's CPU under load: py-spy samples, summarised by library and by function.

py-spy runs ``--nonblocking`` (the target is never paused, so the measurement is not disturbed)
and ``--idle`` (its own idle detection misreads uvloop threads in this VM); samples whose leaf is
the event loop itself — waiting in epoll — are then counted as idle and left out of the shares.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<path>[^()]*?)(?::\d+)?\)$")
# Leaves of a thread that waits: the event loop in epoll, a worker thread on its queue or condition.
_IDLE_LEAVES = (
    "Runner.run (asyncio/runners.py",
    "run_forever (asyncio/base_events.py",
    "select (selectors.py",
    "poll (selectors.py",
    "wait (threading.py",
    "Condition.wait (threading.py",
    "Event.wait (threading.py",
    "_worker (concurrent/futures/thread.py",
    "Queue.get (queue.py",
    "get (queue.py",
)
OUR_PACKAGES = ("intake", "workflow", "registry_sync", "reporting", "eventkit", "contracts", "workcal")


def py_spy() -> str | None:
    """The py-spy executable next to this Python, or on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def start(pid: int, seconds: float, output: Path) -> subprocess.Popen[bytes] | None:
    exe = py_spy()
    if exe is None:
        return None
    return subprocess.Popen(
        [
            exe,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(max(1, round(seconds))),
            "--rate",
            "67",
            "--nonblocking",
            "--idle",
            "--format",
            "raw",
            "--output",
            str(output),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def finish(spy: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """Stop a recording before its duration is up (SIGINT: py-spy writes what it sampled so far)."""
    if spy.poll() is None:
        spy.send_signal(signal.SIGINT)
    try:
        spy.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        spy.kill()
        spy.wait()


def _package(frame: str) -> str:
    match = _FRAME.match(frame)
    path = match.group("path") if match else frame
    if path.startswith("<"):
        return "python"
    first = path.split("/", 1)[0]
    return first.removesuffix(".py")


def _function(frame: str) -> str:
    """``func (path:line)`` → ``func (path)``: one entry per function, not per line."""
    match = _FRAME.match(frame)
    return f"{match.group('func')} ({match.group('path')})" if match else frame


def summarize(raw: Path, top: int = 12) -> dict[str, Any]:
    """Shares of busy samples: by the package of the leaf frame (self time) and by our own functions
    (inclusive: a frame of our code anywhere on the stack)."""
    if not raw.exists():
        return {"error": "no profile written (py-spy missing or not permitted)"}
    self_by_package: Counter[str] = Counter()
    self_by_function: Counter[str] = Counter()
    inclusive_ours: Counter[str] = Counter()
    busy = idle = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count, frames = int(count_text), stack.split(";")
        leaf = frames[-1]
        if leaf.startswith(_IDLE_LEAVES):
            idle += count
            continue
        busy += count
        self_by_package[_package(leaf)] += count
        self_by_function[_function(leaf)] += count
        for frame in dict.fromkeys(_function(f) for f in frames if _package(f) in OUR_PACKAGES):
            inclusive_ours[frame] += count

    def shares(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(name, round(100 * n / busy, 1)) for name, n in counter.most_common(top)] if busy else []

    return {
        "samples_busy": busy,
        "samples_idle": idle,
        "self_by_package_pct": shares(self_by_package),
        "self_by_function_pct": shares(self_by_function),
        "inclusive_our_code_pct": shares(inclusive_ours),
    }

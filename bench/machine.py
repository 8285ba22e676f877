"""What the numbers were measured on: CPU, cores, memory, Python, PostgreSQL, the git commit."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _postgres_version(bin_dir: Path) -> str:
    try:
        version = subprocess.run([str(bin_dir / "postgres"), "-V"], capture_output=True, text=True, timeout=10)
        return version.stdout.strip()
    except OSError:
        return "unknown"


def describe(postgres_bin: Path) -> dict[str, Any]:
    """The machine and the code, as plain JSON values."""
    return {
        "host": socket.gethostname(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_model": _cpu_model(),
        "cpu_cores": os.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "postgres": _postgres_version(postgres_bin),
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": _git("status", "--porcelain") not in ("", "unknown"),
    }

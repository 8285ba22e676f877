"""Argument types for the load generator's and the benchmark's command lines.

Bad input is refused by argparse in one line (``error: argument --rate: …``) before anything starts:
``--rate 0`` made the pacer raise a traceback, ``--rate nan`` or ``inf`` failed converting the planned
count, a ``nan`` duration never ended, and a ``--json`` file in a missing directory failed only once
the whole run was over, losing its report.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
from pathlib import Path


def _number(text: str) -> float:
    """A finite float: ``nan`` compares false with every bound, so it slipped past each check."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number: every run is bounded")
    return value


def positive_number(text: str) -> float:
    """A finite number above 0 (a rate, a duration)."""
    value = _number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be above 0")
    return value


def non_negative_number(text: str) -> float:
    """A finite number of 0 or more (a drain, a delay)."""
    value = _number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must not be negative")
    return value


def positive_int(text: str) -> int:
    """A whole number above 0 (a count, a concurrency)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def _takes_a_file(directory: Path) -> None:
    """Raise unless a file can be created in ``directory``: tried for real, since a read-only file
    system or a root-owned directory pass a permission-bit check."""
    try:
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"cannot write in {directory}: {exc.strerror or exc}") from None


def writable_file(text: str) -> Path:
    """A file that can be written once the run is over: its directory exists and takes a file."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a directory, not a file")
    directory = path.parent
    if not directory.is_dir():
        raise argparse.ArgumentTypeError(f"no directory {directory} to write {path.name} in")
    if path.exists() and not os.access(path, os.W_OK):
        raise argparse.ArgumentTypeError(f"{text} is not writable")
    _takes_a_file(directory)
    return path


def writable_dir(text: str) -> Path:
    """A directory results can be written to: an existing one that takes a file, or one that can be
    made under the nearest existing parent (not made here: nothing is created before the run)."""
    path = Path(text)
    existing = next((p for p in (path, *path.parents) if p.exists()), Path("."))  # bounded by the path's depth
    if not existing.is_dir():
        raise argparse.ArgumentTypeError(f"{existing} is not a directory")
    _takes_a_file(existing)
    return path

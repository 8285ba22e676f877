"""The progress line: one line rewritten in place on a terminal, a line every few seconds otherwise."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol, TextIO

from loadgen.stats import Recorder
from loadgen.tracking import Completions


class _Deciding(Protocol):
    decided: int


def progress_line(elapsed: float, ok: int, failed: int, completions: Completions, decided: int | None) -> str:
    rate = ok / elapsed if elapsed > 0 else 0.0
    parts = [f"{elapsed:6.1f}s", f"accepted {ok:,} ({rate:,.0f}/s)", f"failed {failed:,}"]
    if completions.done or completions.pending or completions.ended_otherwise:
        parts.append(
            f"completed {completions.done:,}  failed after {completions.ended_otherwise:,}  "
            f"pending {completions.pending:,}"
        )
    if decided is not None:
        parts.append(f"decisions {decided:,}")
    return "  ".join(parts)


class Progress:
    def __init__(
        self,
        recorder: Recorder,
        completions: Completions,
        officials: _Deciding | None,
        *,
        enabled: bool,
        stream: TextIO,
    ) -> None:
        self.recorder = recorder
        self.completions = completions
        self.officials = officials
        self.enabled = enabled
        self.stream = stream
        self.tty = stream.isatty()
        self.started = time.monotonic()

    def line(self) -> str:
        ok, failed = self.recorder.total("submit ")
        decided = self.officials.decided if self.officials is not None else None
        return progress_line(time.monotonic() - self.started, ok, failed, self.completions, decided)

    async def run(self, stop: asyncio.Event, deadline: float) -> None:
        interval = 0.5 if self.tty else 5.0
        while self.enabled and not stop.is_set() and time.monotonic() < deadline:
            try:
                await asyncio.wait_for(stop.wait(), interval)
            except TimeoutError:
                pass
            self._write(self.line())

    def _write(self, text: str) -> None:
        if self.tty:
            self.stream.write("\r\x1b[2K" + text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled:
            self._write(self.line())
            if self.tty:
                self.stream.write("\n")

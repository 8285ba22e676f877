"""End live streams when the process is asked to stop.

uvicorn's graceful shutdown waits for open responses to finish, and an event stream never finishes
by itself: with a dashboard open, Ctrl-C would wait for the whole graceful timeout. So on SIGINT or
SIGTERM the broadcaster is closed first (every stream ends; browsers and ``reporting.tail``
reconnect elsewhere or later), then the handler that was there before (uvicorn's) runs.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class CloseStreamsOnSignal:
    def __init__(self, close: Callable[[], None]) -> None:
        self._close = close
        self._previous: dict[int, Any] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    async def install(self) -> None:
        """Chain in front of the current handlers (call from the app's startup, on the main thread)."""
        if threading.current_thread() is not threading.main_thread():
            return
        self._loop = asyncio.get_running_loop()
        for sig in _SIGNALS:
            previous = signal.getsignal(sig)
            if callable(previous):
                self._previous[sig] = previous
                signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._close)  # not from inside the handler: queues are not reentrant
        previous = self._previous.get(signum)
        if callable(previous):
            previous(signum, frame)

    def restore(self) -> None:
        """Put the previous handlers back where ours is still installed."""
        if threading.current_thread() is not threading.main_thread():
            return
        for sig, previous in self._previous.items():
            if signal.getsignal(sig) == self._handle:
                signal.signal(sig, previous)
        self._previous.clear()

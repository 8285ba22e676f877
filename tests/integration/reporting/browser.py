"""A minimal driver for headless Chromium over the DevTools protocol on a pipe (``--remote-debugging-pipe``:
the browser reads commands on fd 3 and writes answers on fd 4, NUL-separated JSON). Enough to open a
page, wait for a condition in it and read its DOM; no driver package, no network port."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import itertools
import os
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage",
         "--no-first-run", "--remote-debugging-pipe")  # fmt: skip


def chromium_path() -> str:
    """The Chromium binary; missing, the test fails in CI (CI=true) and is skipped elsewhere."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    message = "headless Chromium is needed for the dashboard test: apt-get update && apt-get install -y chromium"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


class Page:
    """One tab, driven through a flattened DevTools session."""

    def __init__(self, browser: Browser, session: str) -> None:
        self._browser = browser
        self._session = session

    async def evaluate(self, expression: str) -> Any:
        result = await self._browser.call("Runtime.evaluate", {"expression": expression, "returnByValue": True},
                                          session=self._session)  # fmt: skip
        if "exceptionDetails" in result:
            raise AssertionError(f"script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, timeout: float = 20.0) -> Any:
        """Poll a JavaScript expression until it is truthy; its value, or AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        guarded = f"(() => {{ try {{ return ({expression}); }} catch (e) {{ return false; }} }})()"  # page loading
        while True:
            value = await self.evaluate(guarded)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"{expression!r} still falsy after {timeout} s")
            await asyncio.sleep(0.1)

    async def html(self) -> str:
        return str(await self.evaluate("document.documentElement.outerHTML"))


class Browser:
    def __init__(self, process: asyncio.subprocess.Process, reader: asyncio.StreamReader, write_fd: int) -> None:
        self._process = process
        self._reader = reader
        self._write_fd = write_fd
        self._ids = itertools.count(1)

    async def call(self, method: str, params: dict[str, Any] | None = None, *, session: str | None = None) -> Any:
        message_id = next(self._ids)
        message: dict[str, Any] = {"id": message_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._write_fd, orjson.dumps(message) + b"\0")
        while True:  # answers come in order with events in between; bounded by the caller's timeouts
            raw = await asyncio.wait_for(self._reader.readuntil(b"\0"), 30)
            answer = orjson.loads(raw[:-1])
            if answer.get("id") == message_id:
                if "error" in answer:
                    raise AssertionError(f"{method}: {answer['error']}")
                return answer.get("result", {})

    async def open(self, url: str) -> Page:
        target = await self.call("Target.createTarget", {"url": "about:blank"})
        session = await self.call("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True})
        page = Page(self, session["sessionId"])
        await self.call("Page.navigate", {"url": url}, session=session["sessionId"])
        return page


@contextlib.asynccontextmanager
async def chromium(profile: Path) -> AsyncIterator[Browser]:
    binary = chromium_path()
    to_browser_r, to_browser_w = os.pipe()
    from_browser_r, from_browser_w = os.pipe()

    def child_fds() -> None:
        # Move both ends out of the way first: either may already be numbered 3 or 4.
        commands, answers = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10), fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
        os.dup2(commands, 3)
        os.dup2(answers, 4)

    process = await asyncio.create_subprocess_exec(
        binary, *FLAGS, f"--user-data-dir={profile}", "about:blank",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL, preexec_fn=child_fds,
        pass_fds=(3, 4),
    )  # fmt: skip
    os.close(to_browser_r)
    os.close(from_browser_w)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=64 * 1024 * 1024)
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(from_browser_r, "rb")
    )
    browser = Browser(process, reader, to_browser_w)
    try:
        yield browser
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(browser.call("Browser.close"), 5)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), 10)
        if process.returncode is None:
            process.kill()
            await process.wait()
        transport.close()
        os.close(to_browser_w)

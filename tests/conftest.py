"""Session-wide fixtures: the real servers, and a fresh schema and topics per test."""

from __future__ import annotations

import asyncio
import faulthandler
import os
import secrets
import signal
import sys
import threading
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from eventkit.db import make_engine
from eventkit.kafka import ensure_topics
from eventkit.migrations import apply_migrations
from tests.support.infra import Infra, start_infra

os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")

#: No test takes a minute; one still running after this long is stuck, and the watchdog says where.
STUCK_AFTER_SECONDS = 240.0
_loop: asyncio.AbstractEventLoop | None = None


@pytest.fixture(scope="session", autouse=True)
async def _event_loop_for_the_watchdog() -> None:
    global _loop
    _loop = asyncio.get_running_loop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """A stuck test is cancelled with every task's stack printed (a synchronous one interrupts the
    run), instead of hanging it."""
    watchdog = threading.Timer(STUCK_AFTER_SECONDS, _stuck, args=(item.name.split("[")[0],))
    watchdog.daemon = True
    watchdog.start()
    try:
        return (yield)
    finally:
        watchdog.cancel()


def _stuck(test_name: str) -> None:
    print(f"\n{test_name} is still running after {STUCK_AFTER_SECONDS:.0f} s", file=sys.stderr)
    if _loop is None or not _loop.is_running():
        faulthandler.dump_traceback(sys.stderr)  # blocked outside the event loop: the threads' stacks
        # A synchronous test (a blocking read, say): SIGINT to the main thread ends its system call
        # and the run, which stops with an error instead of hanging until CI's own limit.
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
        return
    _loop.call_soon_threadsafe(_cancel_stuck, test_name)


def _cancel_stuck(test_name: str) -> None:
    """In the loop: print where every task waits, then cancel the test's own."""
    for task in asyncio.all_tasks():
        task.print_stack(file=sys.stderr)
    for task in asyncio.all_tasks():
        if getattr(task.get_coro(), "__name__", None) == test_name:
            task.cancel()


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    """PostgreSQL and the broker, started once for the whole session."""
    yield from start_infra()


@pytest.fixture
def unique() -> str:
    """A short random suffix that keeps one test's schemas and topics apart from another's."""
    return secrets.token_hex(4)


@pytest.fixture
def schema(unique: str) -> str:
    """The name of a schema of the test's own."""
    return f"t_{unique}"


@pytest.fixture
async def engine(infra: Infra, schema: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the test's schema (nothing created yet), dropped afterwards."""
    engine = make_engine(infra.database_url, schema, pool_size=5)
    yield engine
    await engine.dispose()  # connections still in a transaction would block the drop
    async with engine.begin() as conn:
        await conn.execute(text("SET LOCAL lock_timeout = '30s'"))  # a leaked session fails the run, not hangs it
        await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    await engine.dispose()


@pytest.fixture
async def migrated(engine: AsyncEngine, schema: str) -> AsyncEngine:
    """The engine, with the runtime's tables (event store, outbox, inbox) created."""
    await apply_migrations(engine, schema)
    return engine


@pytest.fixture
async def topic(infra: Infra, unique: str) -> str:
    """A fresh topic (and its dead-letter topic) with three partitions."""
    name = f"test.{unique}"
    await ensure_topics(infra.bootstrap_servers, [name, f"{name}.dlq"], partitions=3)
    return name

"""Session-wide fixtures: the real servers, and a fresh schema and topics per test."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from eventkit.db import make_engine
from eventkit.kafka import ensure_topics
from eventkit.migrations import apply_migrations
from tests.support.infra import Infra, start_infra

os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")


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

"""A service's statements have time limits (DB_STATEMENT_TIMEOUT_SECONDS, DB_LOCK_TIMEOUT_SECONDS) that
the server enforces, so a slow statement is told from an outage; migrations have none."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from eventkit.db import is_contention, is_statement_timeout, is_unavailable
from eventkit.runtime import ServiceRuntime
from eventkit.settings import ServiceSettings
from tests.support.infra import Infra

pytestmark = pytest.mark.integration


@pytest.fixture
async def runtime(infra: Infra, schema: str) -> ServiceRuntime:
    settings = ServiceSettings(
        environment="test",
        database_url=infra.database_url,
        kafka_bootstrap_servers=infra.bootstrap_servers,
        db_schema=schema,
        db_statement_timeout_seconds=0.3,
        db_lock_timeout_seconds=0.2,
    )
    return ServiceRuntime(settings, migrations_package="tests.support.slow_migrations")


async def test_migrations_take_as_long_as_they_need_and_then_statements_are_limited(
    runtime: ServiceRuntime, schema: str
) -> None:
    await runtime.start(database_wait_seconds=5)  # its one migration sleeps 1 s, past the 0.3 s limit
    try:
        async with runtime.engine.connect() as conn:
            applied = set((await conn.execute(text("SELECT id FROM schema_migrations"))).scalars())
            assert "tests.support.slow_migrations:0001_slow.sql" in applied
        with pytest.raises(DBAPIError) as slow:
            async with runtime.engine.connect() as conn:
                await conn.execute(text("SELECT pg_sleep(1)"))
        assert is_statement_timeout(slow.value)
        assert not is_unavailable(slow.value)  # the server answered: a consumer counts it against the event
        async with runtime.engine.connect() as conn:
            assert (await conn.execute(text("SHOW idle_in_transaction_session_timeout"))).scalar_one() == "2min"
        # Whatever a role or database default says, migrations and rebuilds are not limited.
        async with runtime.maintenance_engine.connect() as conn:
            for setting in ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout"):
                assert (await conn.execute(text(f"SHOW {setting}"))).scalar_one() == "0"
    finally:
        await runtime.stop()


async def test_a_lock_not_granted_in_time_is_contention_to_try_again(runtime: ServiceRuntime) -> None:
    await runtime.start(database_wait_seconds=5)
    try:
        async with runtime.engine.connect() as holder:
            await holder.execute(text("SELECT pg_advisory_lock(42)"))
            with pytest.raises(DBAPIError) as waited:
                async with runtime.engine.connect() as conn:
                    await asyncio.wait_for(conn.execute(text("SELECT pg_advisory_lock(42)")), timeout=10)
            await holder.execute(text("SELECT pg_advisory_unlock(42)"))
        assert is_contention(waited.value)
    finally:
        await runtime.stop()

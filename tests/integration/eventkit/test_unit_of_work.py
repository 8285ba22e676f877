"""The SQL unit of work when the server ends its session: the caller learns it was a disconnect
(so consumers wait for the database instead of blaming the event), and the connection goes back to
the pool."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from eventkit.db import durability_gaps
from eventkit.uow import SqlUnitOfWork
from tests.support.events import happened
from tests.support.infra import Infra

pytestmark = pytest.mark.integration


async def test_a_session_the_server_ended_is_reported_as_a_disconnect_and_its_connection_freed(
    migrated: AsyncEngine,
) -> None:
    woken: list[int] = []
    # More times than the pool holds (10): a connection kept checked out each time would exhaust it.
    for _ in range(12):
        with pytest.raises(DBAPIError) as caught:
            async with SqlUnitOfWork(migrated, on_queued=lambda: woken.append(1)) as uow:
                await uow.record("d-1", 0, [happened("d-1", 1)], "some.topic")  # queued: would wake the relay
                await uow.conn.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        assert caught.value.connection_invalidated
    assert woken == []  # nothing committed, nothing to publish
    async with SqlUnitOfWork(migrated) as uow:
        assert await uow.events.versions(["d-1"]) == {"d-1": 0}


async def test_a_server_that_does_not_commit_durably_is_recognised(infra: Infra, migrated: AsyncEngine) -> None:
    # fsync is the server's (off on the embedded test server, never crashed on purpose); a session
    # can set synchronous_commit for itself, so both answers are seen on any server.
    fsync = ["fsync"] if infra.postgres is not None and not infra.postgres.durable else []
    for synchronous_commit, expected in (("off", [*fsync, "synchronous_commit"]), ("on", fsync)):
        engine = create_async_engine(
            migrated.url,
            connect_args={"server_settings": {"synchronous_commit": synchronous_commit}},
            poolclass=NullPool,
        )
        try:
            assert await durability_gaps(engine) == expected
        finally:
            await engine.dispose()


async def test_a_database_error_names_no_parameter_of_its_statement(migrated: AsyncEngine) -> None:
    """Parameters are events and commands: a citizen's name and number went into the error's text, and
    from there to the logs and the dead letters."""
    with pytest.raises(DBAPIError) as caught:
        async with migrated.begin() as conn:
            await conn.execute(text("SELECT CAST(:v AS jsonb)"), {"v": '{"full_name": "Nguyễn Văn An\\u0000"}'})
    assert "Nguyễn" not in str(caught.value) and "parameters hidden" in str(caught.value)

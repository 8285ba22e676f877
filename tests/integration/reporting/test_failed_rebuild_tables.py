"""A failed rebuild drops its own tables, and no others, before another rebuild can start."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.catalogue import load_catalogue
from contracts.ids import uuid7
from eventkit.migrations import apply_migrations
from reporting.adapters import pg_store
from reporting.adapters.catalogue_info import CatalogueInfo
from reporting.adapters.pg_store import TableSet
from reporting.domain.outcome import Derivation
from reporting.service_layer.rebuild import Rebuilder, RebuildStatus
from tests.support.kafka import eventually
from workcal import WorkCalendar

pytestmark = pytest.mark.integration

_LOCK = "SELECT pg_advisory_lock(hashtext(current_schema() || '/rm-rebuild'))"
_UNLOCK = "SELECT pg_advisory_unlock(hashtext(current_schema() || '/rm-rebuild'))"


async def existing(conn: AsyncConnection, tables: TableSet) -> set[str]:
    rows = await conn.execute(
        text(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            " AND tablename = ANY(CAST(:names AS text[]))"
        ),
        {"names": list(tables.all())},
    )
    return {r[0] for r in rows}


async def test_a_failed_rebuild_drops_its_own_tables_and_no_others_before_it_releases_the_rebuild_lock(
    engine: AsyncEngine, schema: str
) -> None:
    """A failed rebuild released the rebuild lock first, then dropped every generation of the tables: a
    rebuild another replica started in between lost the tables it was filling, and failed in turn."""
    await apply_migrations(engine, schema, "reporting")
    status = RebuildStatus(id=str(uuid7()))
    own = TableSet(f"__r{status.id[-8:]}")
    other = TableSet("__rfeed0001")  # a generation that is not this run's (another replica's)
    found_by_the_next: list[set[str]] = []
    waiting: list[asyncio.Task[None]] = []
    next_pid: list[int] = []

    async def next_rebuild() -> None:
        """Another replica's rebuild, waiting for the lock: once it has it, are the failed one's tables gone?"""
        async with engine.connect() as conn:
            next_pid.append((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())
            await conn.execute(text(_LOCK))
            found_by_the_next.append(await existing(conn, own))
            await conn.execute(text(_UNLOCK))
            await conn.commit()

    async def own_tables_created() -> bool:
        async with engine.connect() as conn:
            return await existing(conn, own) == set(own.all())

    async def next_rebuild_waits() -> bool:
        if not next_pid:
            return False
        async with engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT count(*) FROM pg_locks WHERE pid = :pid AND locktype = 'advisory' AND NOT granted"),
                {"pid": next_pid[0]},
            )
            return bool(rows.scalar_one())

    @asynccontextmanager
    async def unreachable_broker() -> AsyncIterator[None]:
        await eventually(own_tables_created)
        async with engine.begin() as conn:
            await pg_store.create_tables_like(conn, other)
        waiting.append(asyncio.create_task(next_rebuild()))
        await eventually(next_rebuild_waits)
        raise ConnectionError("the broker is unreachable")
        yield  # pragma: no cover - an async generator for asynccontextmanager

    catalogue = CatalogueInfo.from_catalogue(load_catalogue())
    rebuilder = Rebuilder(
        engine,
        unreachable_broker,  # type: ignore[arg-type]
        Derivation(WorkCalendar(), catalogue.field_of_procedure),
        set(),
        live_consumer="reporting.projections",
    )
    await rebuilder.run(status)
    assert status.state == "failed", status
    await asyncio.wait_for(waiting[0], timeout=30)

    assert found_by_the_next == [set()]  # dropped while the lock was still held
    async with engine.connect() as conn:
        assert await existing(conn, own) == set()
        assert await existing(conn, other) == set(other.all())

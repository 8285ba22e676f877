"""Migrations on the real database: an edited one is named and refused, not silently skipped."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from eventkit.db import make_engine
from eventkit.migrations import MigrationChanged, apply_migrations, migrations_in
from tests.support.infra import Infra

pytestmark = pytest.mark.integration


async def test_a_migration_edited_after_it_was_applied_stops_the_start(engine: AsyncEngine, schema: str) -> None:
    """Recorded by name only, an edited migration was never run again, and every database that ran the
    first text kept it, unseen."""
    await apply_migrations(engine, schema, "reporting")
    first = migrations_in("reporting")[0].id
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE schema_migrations SET checksum = NULL"))  # as a build before checksums
        await conn.execute(text("UPDATE schema_migrations SET checksum = 'ab12' WHERE id = :id"), {"id": first})
    assert await apply_migrations(engine, schema, "reporting") == []  # adopted as the files are now
    async with engine.begin() as conn:
        ways = await conn.scalars(text("SELECT DISTINCT left(checksum, 2) FROM schema_migrations"))
        assert list(ways) == ["1:"]  # none left unrecorded, none of another way
        await conn.execute(text("UPDATE schema_migrations SET checksum = '1:edited' WHERE id = :id"), {"id": first})
    with pytest.raises(MigrationChanged, match=first) as refused:
        await apply_migrations(engine, schema, "reporting")
    assert refused.value.changed == [first]


async def test_replicas_starting_at_once_on_a_fresh_database_all_start(infra: Infra, schema: str) -> None:
    """Every service runs two replicas: on a fresh database both created the schema at once, and one
    stopped on a unique violation in pg_namespace (the migrations' lock was taken only after it)."""
    engines = [make_engine(infra.database_url, schema, pool_size=1) for _ in range(4)]
    try:
        applied = await asyncio.gather(*(apply_migrations(e, schema, "reporting") for e in engines))
    finally:
        for engine in engines:
            await engine.dispose()
    assert sorted(map(len, applied))[:-1] == [0, 0, 0]  # one replica ran them; the others found them done
    assert applied[0] or applied[1] or applied[2] or applied[3]

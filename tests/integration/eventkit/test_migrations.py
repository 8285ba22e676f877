"""Migrations on the real database: an edited one is named and refused, not silently skipped."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from eventkit.migrations import MigrationChanged, apply_migrations, migrations_in

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

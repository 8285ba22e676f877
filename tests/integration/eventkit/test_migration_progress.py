"""Migrations say what they do as they do it: a long one is told apart from a replica waiting for
another's."""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping, Sequence
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from structlog.testing import capture_logs

from eventkit.db import ensure_schema
from eventkit.migrations import apply_migrations

pytestmark = pytest.mark.integration


def _events(logs: Sequence[MutableMapping[str, Any]]) -> list[tuple[str, str | None]]:
    return [(line["event"], line.get("migration")) for line in logs]


async def test_each_migration_is_logged_as_it_starts_and_as_it_ends_with_its_seconds(
    engine: AsyncEngine, schema: str
) -> None:
    """Only one line at the very end named them: a start-up spent in a long backfill logged nothing
    for minutes, as a replica waiting for the lock did, and an operator could not tell which it was."""
    with capture_logs() as logs:
        applied = await apply_migrations(engine, schema, "reporting")
    assert applied
    steps = [(event, m) for event, m in _events(logs) if event in ("applying migration", "migration applied")]
    assert steps == [(event, m) for m in applied for event in ("applying migration", "migration applied")]
    assert all(line["seconds"] >= 0 for line in logs if line["event"] == "migration applied")
    assert "waiting for the migration lock" not in [event for event, _ in _events(logs)]  # granted at once


async def test_a_replica_that_finds_the_migration_lock_taken_says_it_waits_for_it(
    engine: AsyncEngine, schema: str
) -> None:
    """A replica blocked on the lock behind another's long migration logged nothing until it was done."""
    await ensure_schema(engine, schema)  # the lock is named after the schema the session is in
    with capture_logs() as logs:
        async with engine.connect() as holder:
            await holder.execute(text("SELECT pg_advisory_xact_lock(hashtext('migrations:' || current_schema()))"))
            starting = asyncio.create_task(apply_migrations(engine, schema))
            for _ in range(100):
                if any(line["event"] == "waiting for the migration lock" for line in logs):
                    break
                await asyncio.sleep(0.05)
            assert [event for event, _ in _events(logs)] == ["waiting for the migration lock"]
            assert not starting.done()
            await holder.commit()  # the other replica's migrations are done: the lock is free
        applied = await asyncio.wait_for(starting, timeout=30)
    events = [event for event, _ in _events(logs)]
    assert events[:3] == ["waiting for the migration lock", "migration lock granted", "applying migration"]
    assert applied and events.count("migration applied") == len(applied)

"""Replicas projecting the same dossiers at once wait for each other's rows instead of deadlocking."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from eventkit.migrations import apply_migrations
from reporting.adapters.pg_store import PostgresProjectionStore

pytestmark = pytest.mark.integration


async def load_in_a_transaction(engine: AsyncEngine, ids: list[str], together: asyncio.Barrier) -> None:
    """What a live projection does first: create the rows missing and lock them all, then commit."""
    async with engine.begin() as conn:
        await conn.execute(text("SET LOCAL lock_timeout = '30s'"))  # a lock never granted fails, not hangs
        await together.wait()  # both transactions open: their statements run at the same time
        store = PostgresProjectionStore(conn)
        await store.load_dossiers(ids)
        await store.load_bundles(ids)


async def test_two_transactions_loading_the_same_rows_in_opposite_orders_both_commit(
    engine: AsyncEngine, schema: str
) -> None:
    """The rows were created and locked in the order the ids came in: two replicas projecting the same
    new dossiers from two topics took them in opposite orders, each held a row the other waited for,
    and PostgreSQL failed one of them after a second (deadlock detected), again and again under load."""
    await apply_migrations(engine, schema, "reporting")
    ids = [f"D{n:05d}" for n in range(3000)]
    one, other = ids[:2000], list(reversed(ids[1000:]))  # a thousand in common, met from either end
    # First the rows are new (created, then locked), then they exist (locked only).
    for rows in ("new", "existing"):
        together = asyncio.Barrier(2)
        async with asyncio.timeout(60):
            await asyncio.gather(
                load_in_a_transaction(engine, one, together), load_in_a_transaction(engine, other, together)
            )
        async with engine.connect() as conn:
            count = (await conn.execute(text("SELECT count(*) FROM rm_dossiers"))).scalar_one()
        assert count == len(ids), rows

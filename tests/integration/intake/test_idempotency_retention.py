"""Idempotency-Key replies are kept for INTAKE_IDEMPOTENCY_RETENTION_HOURS, then forgotten in batches."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from eventkit.migrations import apply_migrations
from intake.bootstrap import purge_idempotency_keys

pytestmark = pytest.mark.integration


async def test_replies_older_than_the_retention_are_forgotten_in_batches(engine: AsyncEngine, schema: str) -> None:
    await apply_migrations(engine, schema, "intake")
    async with engine.begin() as conn:
        # 25 keys 25 hours old (older than a 24-hour retention), 3 an hour old.
        await conn.execute(
            text(
                "INSERT INTO idempotency_keys (key, request_hash, created_at)"
                " SELECT 'k-' || n, 'h', now() - make_interval(hours => CASE WHEN n <= 25 THEN 25 ELSE 1 END)"
                " FROM generate_series(1, 28) AS n"
            )
        )

    assert await purge_idempotency_keys(engine, 24, batch_size=10) == 25  # 10, 10, then 5: the last batch
    async with engine.connect() as conn:
        kept = set((await conn.execute(text("SELECT key FROM idempotency_keys"))).scalars())
    assert kept == {"k-26", "k-27", "k-28"}
    assert await purge_idempotency_keys(engine, 24, batch_size=10) == 0

"""Workflow's tables in the test's own schema."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from eventkit.migrations import apply_migrations


@pytest.fixture
async def workflow_engine(engine: AsyncEngine, schema: str) -> AsyncEngine:
    await apply_migrations(engine, schema, "workflow")
    return engine

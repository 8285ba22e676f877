"""The server drops intake's connections (a failover, an administrator terminating sessions): the
portal gets 503 with Retry-After while the pool renews them, never a 500, and then 201 again.

Its own module, so its own intake: the test terminates every session that service holds."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from eventkit.db import make_engine
from tests.integration.intake.conftest import RunningIntake
from tests.unit.intake.samples import criminal_record_dossier

pytestmark = pytest.mark.integration


async def _sessions_of(intake: RunningIntake, at_least: int = 4) -> set[int]:
    """The backend pids of the service's pooled sessions (enough checked out at once to take every
    idle one, opening a few more if the pool is smaller)."""
    engine = intake.app.state.runtime.engine
    connections = [await engine.connect() for _ in range(max(at_least, engine.pool.checkedin()))]
    try:
        return {(await c.execute(text("SELECT pg_backend_pid()"))).scalar_one() for c in connections}
    finally:
        await asyncio.gather(*(c.close() for c in connections))


async def test_dropped_sessions_are_503_then_the_service_recovers(intake: RunningIntake) -> None:
    first = await intake.client.post("/v1/dossiers", json=criminal_record_dossier())
    assert first.status_code == 201, first.text  # the submission path holds pooled sessions now
    pids = await _sessions_of(intake)

    admin = make_engine(intake.infra.database_url, "public", pool_size=1)
    try:
        async with admin.connect() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(pid) FROM unnest(CAST(:p AS int[])) AS pid"),
                               {"p": sorted(pids)})  # fmt: skip
    finally:
        await admin.dispose()

    statuses = []
    for _ in range(2 * len(pids) + 2):  # each dead session fails once at most, then leaves the pool
        answer = await intake.client.post("/v1/dossiers", json=criminal_record_dossier())
        statuses.append(answer.status_code)
        if answer.status_code == 503:
            assert answer.headers["Retry-After"] and answer.json()["error"] == "service_unavailable"
        if answer.status_code == 201:
            break
    assert set(statuses) <= {201, 503} and statuses[-1] == 201, statuses

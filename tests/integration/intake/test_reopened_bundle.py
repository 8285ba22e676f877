"""A bundle workflow runs again after ending it partially: the in-memory tables and PostgreSQL's reopen
it alike, and only then (the unit tests of the view use the fake)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from intake.adapters.memory import InMemoryIntakeUnitOfWork
from intake.adapters.postgres import SqlIntakeUnitOfWork
from intake.adapters.views import PostgresViews
from intake.service_layer.ports import NewBundle

pytestmark = pytest.mark.integration

SUBMITTED = datetime(2024, 6, 17, 2, 0, tzinfo=UTC)
DAY = timedelta(days=1)
FIRST_END, REOPENED, SECOND_END = SUBMITTED + DAY, SUBMITTED + 2 * DAY, SUBMITTED + 3 * DAY
WITHDRAWN = ("funeral_allowance", "gia đình không nhận")


@dataclass
class Tables:
    """One implementation's unit of work, and its bundle row as the view reads it."""

    uow: Callable[[], Any]
    row: Callable[[str], Any]

    async def bundle(self, bundle_id: str) -> tuple[str, datetime | None, str | None, str | None]:
        row = await self.row(bundle_id)
        return row["status"], row.get("ended_at"), row["failed_step"], row["reason"]

    async def ended(self, bundle_id: str, status: str = "partially_completed", at: datetime = FIRST_END) -> None:
        async with self.uow() as uow:
            await uow.dossiers.add_bundle(NewBundle(bundle_id, "death", "counter", "UBND-X-YENHOA", SUBMITTED, None))
            if status:
                failed, reason = WITHDRAWN if status == "partially_completed" else (None, None)
                await uow.dossiers.end_bundle(bundle_id, status, at, failed, reason)

    async def step_started(self, bundle_id: str, at: datetime) -> None:
        async with self.uow() as uow:
            await uow.dossiers.reopen_bundle(bundle_id, at)


@pytest.fixture(params=["memory", "postgres"])
def tables(request: pytest.FixtureRequest) -> Tables:
    if request.param == "memory":
        shared = InMemoryIntakeUnitOfWork()

        async def memory_row(bundle_id: str) -> dict[str, Any]:
            return shared.dossiers.bundles[bundle_id]

        return Tables(lambda: shared, memory_row)
    engine: AsyncEngine = request.getfixturevalue("intake_tables")
    views = PostgresViews(engine)

    async def sql_row(bundle_id: str) -> dict[str, Any]:
        found = await views.bundle(bundle_id)
        assert found is not None
        return found[0]

    return Tables(lambda: SqlIntakeUnitOfWork(engine), sql_row)


BUNDLE, EARLY_START, COMPLETED, RUNNING = (f"0190a000-0000-7000-8000-00000000000{n}" for n in range(1, 5))


async def test_a_step_started_after_a_partial_end_makes_the_bundle_processing_until_its_next_end(
    tables: Tables,
) -> None:
    """The view kept the first end while the step an older replica left held ran."""
    await tables.ended(BUNDLE)
    await tables.step_started(BUNDLE, REOPENED)
    assert await tables.bundle(BUNDLE) == ("processing", None, *WITHDRAWN)  # the failure stands: it ends for it
    async with tables.uow() as uow:
        await uow.dossiers.end_bundle(BUNDLE, "partially_completed", SECOND_END, *WITHDRAWN)
    assert await tables.bundle(BUNDLE) == ("partially_completed", SECOND_END, *WITHDRAWN)
    await tables.step_started(BUNDLE, REOPENED)  # the same start again, redelivered: from before this end
    assert await tables.bundle(BUNDLE) == ("partially_completed", SECOND_END, *WITHDRAWN)


async def test_a_start_from_before_the_end_or_of_a_bundle_not_ended_partially_reopens_nothing(
    tables: Tables,
) -> None:
    """A start replayed late from the dead letters is from before the end; a completed bundle has no
    step left to run; a running one has nothing to reopen; an unknown one nothing to change."""
    await tables.ended(EARLY_START)
    await tables.step_started(EARLY_START, SUBMITTED)
    assert await tables.bundle(EARLY_START) == ("partially_completed", FIRST_END, *WITHDRAWN)
    await tables.ended(COMPLETED, "completed")
    await tables.step_started(COMPLETED, REOPENED)
    assert await tables.bundle(COMPLETED) == ("completed", FIRST_END, None, None)
    await tables.ended(RUNNING, "")
    await tables.step_started(RUNNING, REOPENED)
    assert (await tables.bundle(RUNNING))[0] == "submitted"
    await tables.step_started("0190a000-0000-7000-8000-000000000099", REOPENED)

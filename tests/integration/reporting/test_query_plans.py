"""The metrics queries at a province's scale: a period reads its own dossiers by index, not every year
kept (bench/reporting_queries.py times them on two million)."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.reporting_queries import fill
from eventkit.db import make_engine
from eventkit.migrations import apply_migrations
from reporting.adapters.metrics_sql import SUMMARY
from reporting.adapters.read_model import SqlReadModel
from reporting.domain.periods import parse_period
from reporting.service_layer.ports import Scope
from tests.support.infra import Infra
from workcal import vietnam_tz

pytestmark = pytest.mark.integration


async def test_this_month_is_read_through_the_period_indexes(infra: Infra, engine: AsyncEngine, schema: str) -> None:
    await apply_migrations(engine, schema, "reporting")
    await fill(infra.database_url, schema, 20_000, years=2)
    month = parse_period(datetime.now(vietnam_tz()).strftime("%Y-%m"))
    async with engine.connect() as conn:
        explained = await conn.execute(text("EXPLAIN " + SUMMARY), Scope(month.start, month.end).params())
        plan = "\n".join(explained.scalars())
    # Received in it (by the expression _SUBMITTED), ended in it, or still open at its end.
    assert "Index Scan on rm_dossiers_submitted" in plan, plan
    assert "Index Scan on rm_dossiers_ended" in plan, plan
    assert "Seq Scan" not in plan, plan


async def test_the_read_model_plans_each_query_for_its_period(infra: Infra, schema: str) -> None:
    """Prepared statements switch to one generic plan after five runs: planned without the period, the
    summary read every year kept. The read model has each planned for its parameters."""
    engine = make_engine(infra.database_url, schema, pool_size=1)  # one connection: its prepared statements
    try:
        await apply_migrations(engine, schema, "reporting")
        await fill(infra.database_url, schema, 20_000, years=2)
        model = SqlReadModel(engine)
        month = parse_period(datetime.now(vietnam_tz()).strftime("%Y-%m"))
        for scope in [Scope()] * 6 + [Scope(month.start, month.end)] * 2:  # all time, then a month
            await model.summary(scope)
        async with engine.connect() as conn:
            statement = "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE strpos(statement, :s) > 0"
            plans = (await conn.execute(text(statement), {"s": "AS fee_procedures_used"})).one()
        assert plans == (0, 8), plans
    finally:
        await engine.dispose()

"""The metrics queries at a province's scale: a period reads its own dossiers by index, not every year
kept (bench/reporting_queries.py times them on two million)."""

from __future__ import annotations

from datetime import datetime

import pytest
from aiokafka import TopicPartition
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.reporting_queries import fill
from eventkit.db import make_engine
from eventkit.migrations import apply_migrations
from reporting.adapters.metrics_sql import BUNDLES, SUMMARY
from reporting.adapters.pg_store import inbox_positions
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


async def explain(engine: AsyncEngine, statement: str, params: dict[str, object]) -> str:
    async with engine.connect() as conn:
        return "\n".join((await conn.execute(text("EXPLAIN " + statement), params)).scalars())


async def test_a_month_s_bundles_are_read_by_index_not_every_bundle_kept(
    infra: Infra, engine: AsyncEngine, schema: str
) -> None:
    """The summary's bundle figures read every bundle ever kept, on every dashboard refresh."""
    await apply_migrations(engine, schema, "reporting")
    await fill(infra.database_url, schema, 20_000, years=2)
    month = parse_period(datetime.now(vietnam_tz()).strftime("%Y-%m"))
    plan = await explain(engine, BUNDLES, Scope(month.start, month.end).params())
    assert "rm_bundles_ended" in plan and "Seq Scan on rm_bundles" not in plan, plan


async def test_a_rebuild_s_swap_finds_the_live_consumer_s_positions_by_index(
    engine: AsyncEngine, schema: str
) -> None:
    """Under the swap's lock, which every metrics request waits on, the whole inbox was read."""
    await apply_migrations(engine, schema, "reporting")
    async with engine.begin() as conn:
        await conn.execute(
            text(
                'INSERT INTO inbox (consumer, event_id, topic, partition, "offset")'
                " SELECT 'projections', gen_random_uuid(), 'workflow.events', i % 3, i FROM generate_series(1, 50000) i"
            )
        )
        await conn.execute(text("ANALYZE inbox"))
    partitions = [TopicPartition("workflow.events", p) for p in range(4)]
    async with engine.connect() as conn:
        positions = await inbox_positions(conn, "projections", partitions)
    # The offset after the last one recorded (i % 3 = p: 49998, 49999, 50000); none recorded: 0.
    assert positions == {partitions[0]: 49_999, partitions[1]: 50_000, partitions[2]: 50_001, partitions[3]: 0}
    plan = await explain(
        engine, 'SELECT (SELECT "offset" FROM inbox WHERE consumer = :c AND topic = :t AND partition = :p'
        ' ORDER BY "offset" DESC LIMIT 1)', {"c": "projections", "t": "workflow.events", "p": 1},
    )  # fmt: skip
    assert "inbox_positions" in plan and "Seq Scan" not in plan, plan


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

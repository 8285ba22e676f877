"""The live feed's event log keeps a bounded history (REPORTING_EVENT_LOG_RETENTION_DAYS)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from eventkit.db import make_engine
from eventkit.migrations import apply_migrations
from reporting.adapters.retention import purge_event_log
from reporting.bootstrap import create_app
from reporting.settings import ReportingSettings
from tests.integration.reporting.support import serving
from tests.support.infra import Infra
from tests.support.kafka import eventually
from tests.support.services import create_topics, settings_for

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)
LIVE_CONSUMER = "reporting.projections"


async def log_events_of_days_ago(engine: AsyncEngine, days: range, *, applied: bool = True) -> None:
    """One logged event for each number of days ago in ``days``, half a day later than that (so half a
    day off any cutoff a whole number of days ago); ``applied``: the live consumer has them in its inbox
    (else only a rebuild logged them, the live consumer has not reached them yet)."""
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO rm_event_log (event_id, type, version, producer, key, occurred_at, dossier_id)"
                " SELECT gen_random_uuid(), 'DossierReceived', 1, 'workflow', 'd-' || d,"
                " CAST(:now AS timestamptz) - make_interval(days => d) + interval '12 hours', 'd-' || d"
                " FROM unnest(CAST(:days AS int[])) AS d"
            ),
            {"now": NOW, "days": list(days)},
        )
        if applied:
            await conn.execute(
                text(
                    'INSERT INTO inbox (consumer, event_id, topic, partition, "offset")'
                    " SELECT :consumer, event_id, 'workflow.events', 0, row_number() OVER (ORDER BY occurred_at)"
                    " FROM rm_event_log WHERE key = ANY(CAST(:keys AS text[])) ON CONFLICT DO NOTHING"
                ),
                {"consumer": LIVE_CONSUMER, "keys": [f"d-{d}" for d in days]},
            )


async def logged_days(engine: AsyncEngine) -> list[int]:
    async with engine.connect() as conn:
        keys = (await conn.execute(text("SELECT key FROM rm_event_log"))).scalars()
        return sorted(int(key.removeprefix("d-")) for key in keys)


async def test_events_older_than_the_cutoff_are_deleted_in_batches(
    infra: Infra, engine: AsyncEngine, schema: str
) -> None:
    await apply_migrations(engine, schema, "reporting")
    await log_events_of_days_ago(engine, range(1, 51))
    cutoff = NOW - timedelta(days=20)
    deleted = await purge_event_log(engine, cutoff, consumer=LIVE_CONSUMER, batch_size=7)  # five batches, one short
    assert deleted == 30
    assert await logged_days(engine) == list(range(1, 21))
    assert await purge_event_log(engine, cutoff, consumer=LIVE_CONSUMER) == 0


async def test_an_old_event_the_live_consumer_has_not_applied_stays_logged(engine: AsyncEngine, schema: str) -> None:
    """A rebuild logs every event, also those the live consumer has not reached yet: the log is how it
    will skip them. Purged first (old enough for the retention), they were applied a second time: a
    deployment filled by a rebuild over more than the retention's history doubled old periods' figures."""
    await apply_migrations(engine, schema, "reporting")
    await log_events_of_days_ago(engine, range(25, 31))
    await log_events_of_days_ago(engine, range(31, 36), applied=False)
    assert await purge_event_log(engine, NOW - timedelta(days=20), consumer=LIVE_CONSUMER) == 6
    assert await logged_days(engine) == list(range(31, 36))


async def test_the_service_purges_its_event_log_by_itself(infra: Infra) -> None:
    settings = settings_for(ReportingSettings, infra, "rt" + secrets.token_hex(3), event_log_retention_days=30)
    await create_topics(infra, settings.topics)
    engine = make_engine(infra.database_url, settings.schema_name, pool_size=1)
    try:
        await apply_migrations(engine, settings.schema_name, "reporting")
        await log_events_of_days_ago(engine, range(25, 36))
        async with serving(create_app(settings)):
            await eventually(lambda: _logged_days_are(engine, list(range(25, 31))), timeout=30)
    finally:
        await engine.dispose()


async def _logged_days_are(engine: AsyncEngine, days: list[int]) -> bool:
    return await logged_days(engine) == days

"""Registry-sync's dossier store on the real database, on what another build of it may have stored."""

from __future__ import annotations

import asyncio
import json
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.envelope import Envelope
from eventkit.migrations import apply_migrations
from registry_sync.adapters.repository import SqlReconciliationStore
from registry_sync.adapters.sql_commands import SqlCommandStore
from registry_sync.adapters.sql_dossiers import SqlDossierStore
from registry_sync.domain.portal_record import FeeLine, PortalRecord
from registry_sync.domain.portal_sync import DossierSync, SyncStatus
from registry_sync.domain.reconciliation import ReconciliationReport
from registry_sync.service_layer.portal_sync import record_dossier_events
from registry_sync.service_layer.unit_of_work import StatusCount
from tests.unit.registry_sync.events import received, submitted

pytestmark = pytest.mark.integration

NOW = datetime(2030, 6, 3, 2, 0, tzinfo=UTC)


async def test_a_portal_record_a_newer_build_stored_is_read_without_the_fields_this_one_lacks(
    engine: AsyncEngine, schema: str
) -> None:
    """During a rolling upgrade the previous build claims and rewrites records the new one stored."""
    await apply_migrations(engine, schema, "registry_sync")
    fee = FeeLine(name="Lệ phí", amount_vnd=20_000, paid_online=True, paid_at=NOW)
    record = PortalRecord(dossier_id="d-1", code="X-1", channel="online", state=2, fees=(fee,))
    newer = record.model_dump(mode="json")
    newer["delivery_method"] = "postal"
    newer["fees"][0]["refund_due"] = False
    async with engine.begin() as conn:
        store = SqlDossierStore(conn)
        await store.save(DossierSync(dossier_id="d-1", record=record, changed_at=NOW, next_attempt_at=NOW))
        update = text("UPDATE portal_dossiers SET record = CAST(:r AS JSONB) WHERE dossier_id = 'd-1'")
        await conn.execute(update, {"r": json.dumps(newer)})
        stored = await store.get("d-1")
        assert stored is not None and stored.record == record
        newer["state"] = "not a state"  # anything else wrong still fails
        await conn.execute(update, {"r": json.dumps(newer)})
        with pytest.raises(ValidationError):
            await store.get("d-1")


async def test_two_transactions_recording_a_new_dossier_at_once_both_count(engine: AsyncEngine, schema: str) -> None:
    """Its submission and its reception, on two replicas: both built the record from nothing (a row
    lock takes only rows that exist) and the later save replaced the other's, the channel lost (never
    'ready', never pushed) or the documents."""
    await apply_migrations(engine, schema, "registry_sync")
    code = "CAXANPHU-240710-0001"

    async def record(envelope: Envelope, hold: asyncio.Event | None = None) -> None:
        async with engine.begin() as conn:
            uow = SimpleNamespace(dossiers=SqlDossierStore(conn))
            await record_dossier_events([envelope], uow, now=NOW)  # type: ignore[arg-type]
            if hold is not None:
                await hold.wait()  # committed only once the other has read

    release = asyncio.Event()
    first = asyncio.create_task(record(submitted("d-1", code), release))
    await asyncio.sleep(0.3)
    second = asyncio.create_task(record(received("d-1", code)))
    await asyncio.sleep(0.5)  # the second reads (or waits to) while the first has not committed
    release.set()
    await asyncio.gather(first, second)
    async with engine.connect() as conn:
        stored = await SqlDossierStore(conn).get("d-1")
    assert stored is not None
    assert stored.record.channel == "online" and stored.record.received_at is not None
    assert stored.record.documents and stored.ready


async def test_a_report_s_later_counts_are_kept_where_an_older_build_does_not_read(
    engine: AsyncEngine, schema: str
) -> None:
    """A build reads the report column into its own type and fails on a key it does not know: a new
    count there stopped every older replica's periodic reconciliation, for good after a rollback."""
    await apply_migrations(engine, schema, "registry_sync")
    first_build_keys = {f.name for f in fields(ReconciliationReport)} - {"refused_waiting"} | {"repushed"}
    report = ReconciliationReport(trigger="periodic", started_at=NOW, finished_at=NOW, in_sync=2, refused_waiting=3)
    async with engine.begin() as conn:
        await SqlReconciliationStore(conn).add(report)
        stored = json.loads(await conn.scalar(text("SELECT report::text FROM reconciliations")))
        assert set(stored) == first_build_keys
        latest = await SqlReconciliationStore(conn).latest()
    assert latest is not None and (latest.in_sync, latest.refused_waiting) == (2, 3)


async def test_the_waiting_pushes_and_commands_are_counted_for_a_scrape(engine: AsyncEngine, schema: str) -> None:
    """GET /metrics reads only what waits, within its own time limit (each scrape on every replica)."""
    await apply_migrations(engine, schema, "registry_sync")
    async with engine.begin() as conn:
        assert await SqlDossierStore(conn).pending() == StatusCount(status="pending", count=0, oldest=None)
        assert await SqlCommandStore(conn).pending() == StatusCount(status="pending", count=0, oldest=None)
        assert (await conn.execute(text("SHOW statement_timeout"))).scalar_one() == "2s"
    async with engine.begin() as conn:
        store = SqlDossierStore(conn)
        for n, changed in enumerate((NOW, NOW - timedelta(hours=1)), start=1):
            record = PortalRecord(dossier_id=f"d-{n}", code=f"X-{n}", channel="online", state=2)
            waits = DossierSync(
                dossier_id=f"d-{n}", record=record, changed_at=changed, next_attempt_at=NOW, unsynced_since=changed
            )
            await store.save(waits)
        waiting = await store.pending()
        assert await store.failed() == 0
        refused = DossierSync(
            dossier_id="d-3", record=PortalRecord(dossier_id="d-3", code="X-3", channel="online", state=2),
            changed_at=NOW, next_attempt_at=NOW, status=SyncStatus.FAILED,
        )  # fmt: skip
        await store.save(refused)
        assert await store.failed() == 1
    assert waiting.count == 2 and waiting.oldest == NOW - timedelta(hours=1)

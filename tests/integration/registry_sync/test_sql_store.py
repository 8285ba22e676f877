"""Registry-sync's dossier store on the real database, on what another build of it may have stored."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from eventkit.migrations import apply_migrations
from registry_sync.adapters.sql_dossiers import SqlDossierStore
from registry_sync.domain.portal_record import FeeLine, PortalRecord
from registry_sync.domain.portal_sync import DossierSync

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

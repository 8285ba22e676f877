"""Reconciliation repairs what the portal lost or rolled back, on demand and periodically, and
reports what it found."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.integration.registry_sync.conftest import Simulator, registry_sync
from tests.integration.registry_sync.test_service import dossier_events
from tests.support.infra import Infra
from tests.support.kafka import eventually

pytestmark = pytest.mark.integration


async def test_reconciliation_repairs_dossiers_the_portal_lost(infra: Infra, unique: str, simulator: Simulator) -> None:
    async with registry_sync(infra, unique, simulator) as service:
        made = dossier_events(5, datetime.now(UTC))
        topics = service.settings.topics
        await service.publish(topics.intake_events, [events[0] for _, _, events in made])
        await service.publish(topics.workflow_events, [events[1] for _, _, events in made])

        async def synced(count: int) -> bool:
            """All synced, and in their last state (received) on the portal."""
            stored = await simulator.portal_dossiers()
            in_last_state = len(stored) == count and all(d["state"] == 2 for d in stored.values())
            return in_last_state and (await service.status())["portal"]["synced"] == count

        await eventually(lambda: synced(5), timeout=20)
        codes = [code for _, code, _ in made]
        lost, rolled_back = codes[1], codes[3]
        admin = simulator.admin
        assert (await admin.delete(f"/admin/records/national_portal/dossiers/{lost}")).status_code == 204
        assert (
            await admin.patch(f"/admin/records/national_portal/dossiers/{rolled_back}", json={"state": 1})
        ).status_code == 200
        before = (await simulator.counters("national_portal"))["effects"]

        response = await service.client.post("/v1/reconciliations")
        assert response.status_code == 201, response.text
        report = response.json()
        assert {k: report[k] for k in ("local_dossiers", "in_sync", "missing_on_portal", "stale_on_portal")} == {
            "local_dossiers": 5,
            "in_sync": 3,
            "missing_on_portal": 1,
            "stale_on_portal": 1,
        }
        assert (report["repushed"], report["portal_dossiers"], report["listing_complete"]) == (2, 4, True)

        async def repaired() -> dict[str, Any] | None:
            stored = await simulator.portal_dossiers()
            ok = lost in stored and all(stored[c]["state"] == 2 for c in codes)
            return stored if ok else None

        await eventually(repaired, timeout=20)
        after = (await simulator.counters("national_portal"))["effects"]
        assert after["create_dossier"] - before["create_dossier"] == 1  # the lost one, created again
        assert after["update_dossier"] - before.get("update_dossier", 0) == 1  # the stale one, updated

        await eventually(lambda: synced(5), timeout=10)
        second = (await service.client.post("/v1/reconciliations")).json()
        assert (second["in_sync"], second["repushed"]) == (5, 0)
        last = (await service.status())["last_reconciliation"]
        assert last["id"] == second["id"] and last["trigger"] == "on_demand"


async def test_periodic_reconciliation(infra: Infra, unique: str, simulator: Simulator) -> None:
    async with registry_sync(infra, unique, simulator, reconciliation_interval_seconds=0.3) as service:
        made = dossier_events(2, datetime.now(UTC))
        topics = service.settings.topics
        await service.publish(topics.intake_events, [events[0] for _, _, events in made])

        async def on_portal() -> bool:
            return len(await simulator.portal_dossiers()) == 2

        await eventually(on_portal, timeout=20)
        await simulator.admin.delete(f"/admin/records/national_portal/dossiers/{made[0][1]}")
        await eventually(on_portal, timeout=10)  # put back without anyone asking
        last = (await service.status())["last_reconciliation"]
        assert last["trigger"] == "periodic"

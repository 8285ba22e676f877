"""SLA timers are stored, not held in memory: armed while one process runs, fired by the next ones after
a restart — each exactly once although two replicas poll the same table."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import text

from tests.integration.workflow.support import Workflow, running_workflow
from tests.support.infra import Infra
from tests.support.kafka import eventually
from tests.unit.workflow.builders import submitted
from workcal import vietnam_tz
from workflow.adapters.clock import SettableClock

pytestmark = pytest.mark.integration

TZ = vietnam_tz()
MONDAY = datetime(2030, 6, 3, 9, 0, tzinfo=TZ)  # enterprise registration, 3 working days: due Wednesday 17:00
NEXT_MONDAY = datetime(2030, 6, 10, 9, 0, tzinfo=TZ)


async def unfired(workflow: Workflow) -> int:
    async with workflow.engine.connect() as conn:
        return int((await conn.execute(text("SELECT count(*) FROM timers WHERE fired_at IS NULL"))).scalar_one())


async def test_timers_survive_a_restart_and_fire_once_with_two_replicas(infra: Infra, unique: str) -> None:
    clock = SettableClock(MONDAY)
    dossiers = [submitted(at=MONDAY) for _ in range(16)]
    async with running_workflow(infra, unique, clock) as first:
        await first.publish_intake(*dossiers)
        for dossier in dossiers:
            await first.wait_for_task("SKHDT-BINHAN", dossier.dossier_id)
        assert await unfired(first) == 2 * len(dossiers)  # due-soon and overdue for each
        approved = dossiers.pop()
        assert (await first.decide(approved.dossier_id, "approve")).status_code == 200
        assert await unfired(first) == 2 * len(dossiers)  # a finished dossier's timers are gone

    async with running_workflow(infra, unique, clock) as one, running_workflow(infra, unique, clock) as two:
        assert await unfired(one) == 2 * len(dossiers)  # restarted: the timers are still there, none due yet
        clock.set(NEXT_MONDAY)  # both replicas' pollers now find every timer due at once

        async def all_fired() -> bool:
            return await unfired(one) == 0

        await eventually(all_fired, timeout=20)
        for dossier in dossiers:
            types = await two.events_of(dossier.dossier_id)
            assert types.count("DossierDueSoon") == 1, types
            assert types.count("DossierOverdue") == 1, types
            assert types.index("DossierDueSoon") < types.index("DossierOverdue")
        assert "DossierOverdue" not in await one.events_of(approved.dossier_id)
        view = (await one.client.get(f"/v1/dossiers/{dossiers[0].dossier_id}")).json()
        assert view["overdue"] is True
        tasks = (await one.client.get("/v1/tasks", params={"agency": "SKHDT-BINHAN"})).json()["tasks"]
        assert {t["dossier_id"] for t in tasks} == {d.dossier_id for d in dossiers}
        assert all(t["overdue"] for t in tasks)

        stored = await one.stored_public_events()
        published = await one.published(expect=len(stored))
        overdue = [e for e in published if e.type == "DossierOverdue"]
        assert len(overdue) == len(dossiers)
        assert all(e.payload["reason"] == "deadline_passed" for e in overdue)

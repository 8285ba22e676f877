"""SLA timers are stored, not held in memory: armed while one process runs, fired by the next ones after
a restart — each exactly once although two replicas poll the same table."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest
from sqlalchemy import text

from contracts.catalogue import load_catalogue
from eventkit.uow import SqlUnitOfWork
from tests.integration.workflow.support import Workflow, running_workflow
from tests.support.infra import Infra
from tests.support.kafka import eventually
from tests.unit.workflow.builders import submitted
from workcal import WorkCalendar, vietnam_tz
from workflow.adapters.clock import SettableClock
from workflow.adapters.sql import SqlWorkflowUnitOfWork
from workflow.domain.policies import Rules
from workflow.service_layer.context import WorkflowContext
from workflow.service_layer.timers import fire_due_timers

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


async def test_a_timer_whose_dossier_a_writer_holds_stays_due_and_fires_once_the_writer_is_done(
    infra: Infra, unique: str
) -> None:
    """The poller only tries a busy dossier's lock: waiting, it could deadlock with the writer; taking
    the busy dossier for a failed timer, it would put the timer off ten minutes."""
    clock = SettableClock(MONDAY)
    dossier = submitted(at=MONDAY)
    lock = "SELECT {}(hashtextextended('dossier:' || :d, 0))"
    async with running_workflow(infra, unique, clock) as workflow:
        await workflow.publish_intake(dossier)
        await workflow.wait_for_task("SKHDT-BINHAN", dossier.dossier_id)
        armed = await fire_times(workflow)
        ctx = WorkflowContext(rules=Rules(catalogue=load_catalogue(), calendar=WorkCalendar()), clock=clock)

        def new_uow() -> SqlWorkflowUnitOfWork:
            return SqlWorkflowUnitOfWork(SqlUnitOfWork(workflow.engine))

        async with workflow.engine.connect() as writer:
            await writer.execute(text(lock.format("pg_advisory_lock")), {"d": dossier.dossier_id})
            clock.set(NEXT_MONDAY)  # both timers due; this poll and the replica's own meet the busy dossier
            assert await asyncio.wait_for(fire_due_timers(new_uow, ctx), 10) == 0
            assert await fire_times(workflow) == armed and await unfired(workflow) == 2  # due still, not put off
            await writer.execute(text(lock.format("pg_advisory_unlock")), {"d": dossier.dossier_id})

        async def all_fired() -> bool:
            return await unfired(workflow) == 0

        await eventually(all_fired, timeout=20)
        types = await workflow.events_of(dossier.dossier_id)
        assert types.count("DossierDueSoon") == 1 and types.count("DossierOverdue") == 1, types


async def fire_times(workflow: Workflow) -> dict[str, datetime]:
    async with workflow.engine.connect() as conn:
        rows = await conn.execute(text("SELECT kind, fire_at FROM timers WHERE fired_at IS NULL"))
        return {kind: at for kind, at in rows}

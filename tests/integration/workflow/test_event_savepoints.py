"""The Kafka handlers' per-event savepoint on the real database: an event the lifecycle cannot take leaves
nothing behind while the other events of the same transaction commit, and every event of a batch uses
the same savepoint statements (so the asyncpg dialect prepares them once per connection, not per event)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.catalogue import load_catalogue
from contracts.envelope import Envelope
from contracts.events import intake
from eventkit.uow import SqlUnitOfWork
from tests.unit.workflow.builders import submitted
from workcal import WorkCalendar
from workflow.adapters.clock import SettableClock
from workflow.domain.errors import DomainError, DossierNotFound
from workflow.domain.policies import Rules
from workflow.entrypoints.consumers import _tolerant, on_fee_paid, on_withdrawal
from workflow.service_layer.context import Cause, WorkflowContext
from workflow.service_layer.ports import Task, WorkflowUnitOfWork

pytestmark = pytest.mark.integration

NOW = datetime(2030, 6, 3, 2, 0, tzinfo=UTC)


def _task(dossier_id: str, at: datetime) -> Task:
    return Task(dossier_id, "A", "C", "P", "processing", 3, "decision", at, at, at, None, False)


async def _writes_then_maybe_refuses(
    envelope: Envelope, uow: WorkflowUnitOfWork, ctx: WorkflowContext, cause: Cause
) -> None:
    """Writes a task row for the event's key, then refuses the keys marked as illegal."""
    await uow.tasks.put(_task(envelope.key, envelope.occurred_at))
    if envelope.key.startswith("illegal"):
        raise DomainError("not now")


async def test_a_refused_event_is_undone_alone_and_one_savepoint_name_serves_the_batch(
    workflow_engine: AsyncEngine,
) -> None:
    ctx = WorkflowContext(rules=Rules(catalogue=load_catalogue(), calendar=WorkCalendar()), clock=SettableClock(NOW))
    handle = _tolerant(_writes_then_maybe_refuses, ctx)
    keys = ["ok-1", "illegal-1", "ok-2", "ok-3", "illegal-2", "ok-4"]
    envelopes = [Envelope.wrap(submitted(at=NOW), key=k, producer="test") for k in keys]
    savepoints: Counter[str] = Counter()

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "SAVEPOINT" in statement:
            savepoints[statement] += 1

    event.listen(workflow_engine.sync_engine, "before_cursor_execute", count)
    try:
        async with SqlUnitOfWork(workflow_engine) as uow:
            for envelope in envelopes:
                await handle(envelope, uow)
    finally:
        event.remove(workflow_engine.sync_engine, "before_cursor_execute", count)

    async with workflow_engine.connect() as conn:
        stored = set((await conn.execute(text("SELECT dossier_id FROM tasks"))).scalars())
    assert stored == {"ok-1", "ok-2", "ok-3", "ok-4"}
    assert savepoints == {
        "SAVEPOINT workflow_event": 6,
        "RELEASE SAVEPOINT workflow_event": 6,
        "ROLLBACK TO SAVEPOINT workflow_event": 2,
    }


@pytest.mark.parametrize("work", [on_fee_paid, on_withdrawal])
async def test_a_citizen_event_for_a_dossier_never_opened_fails_to_be_dead_lettered_not_dropped(
    workflow_engine: AsyncEngine, work: Any
) -> None:
    """The dossier's submission was dead-lettered (a version this build cannot read): recorded as having
    no effect, the fee the citizen paid or the withdrawal they asked for was lost, and the dossier,
    replayed later, asked for the fee again or went on being processed."""
    ctx = WorkflowContext(rules=Rules(catalogue=load_catalogue(), calendar=WorkCalendar()), clock=SettableClock(NOW))
    payload = (
        intake.FeePaid(dossier_id="never-opened", amount=50_000, method="qr", online=True, paid_at=NOW)
        if work is on_fee_paid
        else intake.WithdrawalRequested(dossier_id="never-opened", reason="rút", requested_at=NOW)
    )
    with pytest.raises(DossierNotFound):
        async with SqlUnitOfWork(workflow_engine) as uow:
            await _tolerant(work, ctx)(Envelope.wrap(payload, key="never-opened", producer="test"), uow)

"""The repair of ended dossiers' fee lines saved before the upgrade, on the real database: the SQL query
that finds them, batches and locks shared with the consumer and another replica, and the service
running it by itself at start."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.events.common import DossierStatus
from contracts.events.intake import DossierSubmitted, FeePaid
from contracts.events.workflow import (
    DossierDueSoon,
    DossierEvent,
    DossierRefused,
    DossierStopped,
    PaymentRequested,
    WithdrawalAccepted,
)
from eventkit.db import make_engine
from eventkit.migrations import apply_migrations
from eventkit.uow import SqlUnitOfWork
from registry_sync.adapters.repository import sql_unit_of_work_factory
from registry_sync.adapters.sql_dossiers import SqlDossierStore
from registry_sync.domain.portal_record import (
    FeeLine,
    PortalRecord,
    apply_dossier_event,
    apply_fee_paid,
    apply_submitted,
)
from registry_sync.domain.portal_sync import DossierSync, SyncStatus
from registry_sync.service_layer.ended_fee_lines import EndedFeeLinesRepair, RepairCount
from registry_sync.service_layer.portal_sync import record_dossier_events
from tests.integration.registry_sync.conftest import Simulator, fast_settings, registry_sync
from tests.support.infra import Infra
from tests.support.kafka import eventually
from tests.unit.registry_sync.events import T0, lifecycle, received, submitted, wrap

pytestmark = pytest.mark.integration

NOW = datetime(2030, 6, 3, 2, 0, tzinfo=UTC)


def code_of(dossier_id: str, day: datetime = T0) -> str:
    return f"CAXANPHU-{day:%y%m%d}-{int(dossier_id[1:]) + 1:04d}"


def ending(dossier_id: str, code: str, status: DossierStatus, at: datetime) -> DossierEvent:
    common = lifecycle(dossier_id, code, at, status=status)
    if status is DossierStatus.REFUSED:
        return DossierRefused(**common, reason="Không đủ điều kiện")
    if status is DossierStatus.STOPPED:
        return DossierStopped(**common, reason="Hồ sơ giả mạo")
    return WithdrawalAccepted(**common, reason="Công dân không còn nhu cầu")


def submission(dossier_id: str, code: str, fee: int, at: datetime = T0) -> DossierSubmitted:
    event = submitted(dossier_id, code, at=at, fee=fee).parse_payload()
    assert isinstance(event, DossierSubmitted)
    return event


def as_saved_before_the_upgrade(before: PortalRecord, end: DossierEvent) -> PortalRecord:
    """``end`` folded as the build before the upgrade folded it: the fee lines left as they were."""
    return apply_dossier_event(before, end).model_copy(update={"fees": before.fees, "obligation": before.obligation})


def synced(record: PortalRecord, at: datetime = NOW) -> DossierSync:
    """As a record the portal acknowledged stands: nothing waiting to be pushed."""
    return DossierSync(
        dossier_id=record.dossier_id, record=record, changed_at=at, next_attempt_at=at, revision=1,
        synced_revision=1, status=SyncStatus.SYNCED, portal_revision=1, synced_at=at,
        correlation_id=f"corr-{record.dossier_id}", causation_id="old-build",
    )  # fmt: skip


def records_before_the_upgrade() -> tuple[dict[str, PortalRecord], dict[str, PortalRecord]]:
    """Records as the build before the upgrade saved them, and those it saved that the repair must
    change, as the event path folds their ending now."""
    saved, now = {}, {}
    # Refused at reception, the fee unpaid.
    before = apply_submitted(None, submission("d1", code_of("d1"), 200_000))
    end = ending("d1", code_of("d1"), DossierStatus.REFUSED, T0 + timedelta(hours=1))
    saved["d1"], now["d1"] = as_saved_before_the_upgrade(before, end), apply_dossier_event(before, end)
    # Still in progress, the fee unpaid: owed, left alone.
    saved["d2"] = apply_submitted(None, submission("d2", code_of("d2"), 200_000))
    # Refused, saved before the obligation and the payments' times were kept, a part paid.
    part = FeeLine(name="Lệ phí", amount_vnd=200_000, payment_method="qr", paid_online=True, paid_vnd=100_000)
    before = apply_submitted(None, submission("d3", code_of("d3"), 200_000))
    before = before.model_copy(update={"fees": (part,), "obligation": None})
    end = ending("d3", code_of("d3"), DossierStatus.REFUSED, T0 + timedelta(hours=1))
    saved["d3"], now["d3"] = as_saved_before_the_upgrade(before, end), apply_dossier_event(before, end)
    # Stopped, everything paid: nothing shown owed, left alone.
    before = apply_submitted(None, submission("d4", code_of("d4"), 100_000))
    before = apply_fee_paid(before, FeePaid(dossier_id="d4", amount=100_000, method="qr", online=True, paid_at=T0))
    saved["d4"] = as_saved_before_the_upgrade(before, ending("d4", code_of("d4"), DossierStatus.STOPPED, T0))
    # Withdrawn, a request of 300,000 paid 100,000.
    before = apply_submitted(None, submission("d5", code_of("d5"), 200_000))
    for event in (received("d5", code_of("d5")).parse_payload(),
                  PaymentRequested(**lifecycle("d5", code_of("d5"), T0 + timedelta(hours=3),
                                               status=DossierStatus.PAYMENT_REQUESTED), amount=300_000)):  # fmt: skip
        assert isinstance(event, DossierEvent)
        before = apply_dossier_event(before, event)
    fee = FeePaid(dossier_id="d5", amount=100_000, method="qr", online=True, paid_at=T0 + timedelta(hours=4))
    before = apply_fee_paid(before, fee)
    end = ending("d5", code_of("d5"), DossierStatus.WITHDRAWAL_REQUESTED, T0 + timedelta(hours=6))
    saved["d5"], now["d5"] = as_saved_before_the_upgrade(before, end), apply_dossier_event(before, end)
    return saved, now


async def stored(engine: AsyncEngine) -> dict[str, DossierSync]:
    async with engine.connect() as conn:
        store = SqlDossierStore(conn)
        return await store.get_many([f"d{i}" for i in range(100)])


async def test_the_repair_rebuilds_on_the_real_store_only_the_records_ended_and_shown_owing_and_once(
    engine: AsyncEngine, schema: str
) -> None:
    """The query finds the ended records whose lines the portal shows owed (not one still in progress,
    not one all paid, not one whose line of a part paid without a time the rebuild cannot date), a batch
    at a time; each is saved as a new revision queued for a push, and a second run finds nothing."""
    await apply_migrations(engine, schema, "registry_sync")
    saved, now = records_before_the_upgrade()
    async with engine.begin() as conn:
        await SqlDossierStore(conn).save_many([synced(record) for record in saved.values()])
    repair = EndedFeeLinesRepair(sql_unit_of_work_factory(lambda: SqlUnitOfWork(engine)), lambda: NOW, batch_size=2)
    assert await repair.run() == RepairCount(found=3, repaired=3)
    rows = await stored(engine)
    for dossier_id, record in now.items():
        row = rows[dossier_id]
        assert row.record == record, dossier_id
        assert (row.revision, row.status, row.next_attempt_at) == (2, SyncStatus.PENDING, NOW), dossier_id
        assert (row.correlation_id, row.causation_id) == (f"corr-{dossier_id}", "old-build")
    assert [(f.amount_vnd, f.paid_at is not None) for f in rows["d5"].record.fees] == [(100_000, True)]
    assert rows["d1"].record.fees == ()
    for dossier_id in ("d2", "d4"):
        assert (rows[dossier_id].record, rows[dossier_id].revision) == (saved[dossier_id], 1)
    assert await repair.run() == RepairCount()


async def test_two_replicas_and_a_consumer_at_once_repair_each_record_once_without_a_deadlock(
    engine: AsyncEngine, schema: str
) -> None:
    """Two replicas start together and find the same records while the consumer folds events of the
    same dossiers: all lock in dossier-id order, so none deadlocks, and the replica that waited reads
    the records repaired and saves none of them again (a second revision, a second portal write)."""
    await apply_migrations(engine, schema, "registry_sync")
    ids = [f"d{i}" for i in range(30)]
    syncs = []
    for dossier_id in ids:
        before = apply_submitted(None, submission(dossier_id, code_of(dossier_id), 200_000))
        end = ending(dossier_id, code_of(dossier_id), DossierStatus.REFUSED, T0 + timedelta(hours=1))
        syncs.append(synced(as_saved_before_the_upgrade(before, end)))
    async with engine.begin() as conn:
        await SqlDossierStore(conn).save_many(syncs)
    uow = sql_unit_of_work_factory(lambda: SqlUnitOfWork(engine))
    replicas = [EndedFeeLinesRepair(uow, lambda: NOW, batch_size=4) for _ in range(2)]

    async def consumer() -> None:
        """A timer of each dossier, read in batches: it locks the rows, and changes nothing."""
        for start in range(0, len(ids), 7):
            due_soon = [
                wrap(DossierDueSoon(**lifecycle(i, code_of(i), NOW, status=DossierStatus.REFUSED), due_at=NOW), i)
                for i in reversed(ids[start : start + 7])
            ]
            async with engine.begin() as conn:
                handlers_uow = SimpleNamespace(dossiers=SqlDossierStore(conn))
                await record_dossier_events(due_soon, handlers_uow, now=NOW)  # type: ignore[arg-type]

    first, second, _ = await asyncio.wait_for(asyncio.gather(*(r.run() for r in replicas), consumer()), timeout=60)
    assert first.repaired + second.repaired == len(ids)
    rows = await stored(engine)
    assert {(row.revision, row.record.fees) for row in rows.values()} == {(2, ())}
    assert await replicas[0].run() == RepairCount()


async def test_registry_sync_repairs_at_start_and_the_portal_is_sent_only_what_was_paid(
    infra: Infra, unique: str, simulator: Simulator
) -> None:
    """A record the build before the upgrade saved for a dossier refused with its fee unpaid: started,
    the service rebuilds its lines by itself and the portal worker pushes it, with no event to come."""
    settings = fast_settings(infra, unique, simulator)
    day = datetime.now(UTC)
    code = code_of("d0", day)
    before = apply_submitted(None, submission("d0", code, 200_000, at=day))
    record = as_saved_before_the_upgrade(before, ending("d0", code, DossierStatus.REFUSED, day + timedelta(seconds=1)))
    assert [f.paid_at for f in record.fees] == [None]  # shown owed
    engine = make_engine(infra.database_url, settings.schema_name, pool_size=2)
    try:
        await apply_migrations(engine, settings.schema_name, "registry_sync")
        unsent = replace(synced(record, day), portal_revision=None)  # the portal has no copy: created
        async with engine.begin() as conn:
            await SqlDossierStore(conn).save(unsent)
    finally:
        await engine.dispose()
    async with registry_sync(infra, unique, simulator):

        async def on_portal() -> dict[str, object] | None:
            return (await simulator.portal_dossiers()).get(code)

        dossier = await eventually(on_portal, timeout=20)
        assert (dossier["state"], dossier.get("fees") or []) == (3, [])

"""The repair, once after the upgrade, of the fee lines that records of dossiers ended without a result
were saved with before it, through the real handlers with in-memory stores and an in-memory portal."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from contracts.envelope import Envelope
from contracts.events.common import DossierStatus
from contracts.events.intake import FeePaid
from contracts.events.registry import PortalSyncSucceeded
from contracts.events.workflow import DossierEvent, DossierRefused, DossierStopped, PaymentRequested, WithdrawalAccepted
from registry_sync import bootstrap
from registry_sync.adapters.memory import InMemoryRegistry
from registry_sync.domain.portal_record import FeeLine, PortalRecord, apply_dossier_event, with_fee_lines_remade
from registry_sync.domain.portal_sync import SyncStatus
from registry_sync.service_layer.ended_fee_lines import EndedFeeLinesRepair, RepairCount
from registry_sync.service_layer.portal_sync import PortalPusher
from registry_sync.settings import RegistrySyncSettings
from tests.support.cancellation import InterruptedCall, stopped_when_cancelled
from tests.unit.registry_sync.events import T0, lifecycle, received, submitted, wrap
from tests.unit.registry_sync.fakes import Clock, DatabaseGoesAway, FakePortal, consume, push_due

NOWHERE = "postgresql+asyncpg://u@127.0.0.1:1/x"  # never started: nothing connects
REQUEST = "Nghĩa vụ tài chính"


def code_of(dossier_id: str) -> str:
    return f"CAXANPHU-240710-000{dossier_id[1:]}"


def ending(dossier_id: str, status: DossierStatus, hours: int = 6) -> DossierEvent:
    common = lifecycle(dossier_id, code_of(dossier_id), T0 + timedelta(hours=hours), status=status)
    if status is DossierStatus.REFUSED:
        return DossierRefused(**common, reason="Không đủ điều kiện")
    if status is DossierStatus.STOPPED:
        return DossierStopped(**common, reason="Hồ sơ giả mạo")
    return WithdrawalAccepted(**common, reason="Công dân không còn nhu cầu")


def asked(dossier_id: str, amount: int) -> Envelope:
    at = T0 + timedelta(hours=3)
    payload = PaymentRequested(
        **lifecycle(dossier_id, code_of(dossier_id), at, status=DossierStatus.PAYMENT_REQUESTED), amount=amount
    )
    return wrap(payload, dossier_id, "workflow")


def paid(dossier_id: str, amount: int) -> Envelope:
    payload = FeePaid(dossier_id=dossier_id, amount=amount, method="qr", online=True, paid_at=T0 + timedelta(hours=4))
    return wrap(payload, dossier_id, "intake")


def as_saved_before_the_upgrade(
    before: PortalRecord, end: DossierEvent, *, obligation_kept: bool = True
) -> PortalRecord:
    """``end`` folded into ``before`` as the build before the upgrade folded it: the fee lines left as
    they were (and without the obligation, as a build before it was kept saved it)."""
    ended = apply_dossier_event(before, end)
    return ended.model_copy(update={"fees": before.fees, "obligation": before.obligation if obligation_kept else None})


async def saved_and_pushed(
    registry: InMemoryRegistry, clock: Clock, pusher: PortalPusher, record: PortalRecord
) -> None:
    """``record`` saved as the consumer saves a change, and pushed to the portal."""
    async with registry.unit_of_work() as uow:
        sync = await uow.dossiers.get(record.dossier_id, for_update=True)
        assert sync is not None
        sync.change(record, at=clock(), now=clock(), correlation_id="corr-old", causation_id="old-build")
        await uow.dossiers.save(sync)
    await push_due(pusher)


async def ended_before_the_upgrade(
    registry: InMemoryRegistry,
    clock: Clock,
    pusher: PortalPusher,
    dossier_id: str,
    before: list[Envelope],
    status: DossierStatus,
    *,
    obligation_kept: bool = True,
) -> PortalRecord:
    """A dossier whose ``before`` events and ending were read and pushed by the build before the
    upgrade; returns the record as the event path folds the ending now, for comparison."""
    await consume(registry, clock, *before)
    record = registry.dossiers.rows[dossier_id].record
    if not obligation_kept:
        record = record.model_copy(update={"obligation": None})
    end = ending(dossier_id, status)
    await saved_and_pushed(registry, clock, pusher, as_saved_before_the_upgrade(record, end))
    return apply_dossier_event(record, end)


def fees_on_portal(portal: FakePortal, dossier_id: str) -> list[tuple[str, int, str | None, bool, bool]]:
    fees = portal.dossiers[code_of(dossier_id)].get("fees", [])
    return [(f["name"], f["amount_vnd"], f.get("payment_method"), f["paid_online"], "paid_at" in f) for f in fees]


@pytest.mark.parametrize(
    ("case", "fees"),
    [
        ("refused at reception, the fee unpaid", []),
        ("withdrawn, the request paid in part", [(REQUEST, 100_000, "qr", True, True)]),
        ("stopped, the request unpaid, saved before the obligation was kept", []),
    ],
)
async def test_a_dossier_that_ended_before_the_upgrade_is_pushed_again_with_only_what_was_paid(
    registry, portal, clock, pusher, case: str, fees: list[tuple[str, int, str | None, bool, bool]]
) -> None:
    """Ended without a result before the build that sends such a dossier only what was paid, its record
    kept the unpaid fee or request, and the portal showed it owed for good: the lines are only made
    again at the dossier's next event, which for an ended dossier never comes, and reconciliation
    pushes the record as it is. The repair rebuilds them as the event path now does, and the portal
    worker pushes the new revision."""
    submission = submitted("d1", code_of("d1"), fee=200_000)
    if case.startswith("refused"):
        now = await ended_before_the_upgrade(registry, clock, pusher, "d1", [submission], DossierStatus.REFUSED)
    elif case.startswith("withdrawn"):
        events = [submission, received("d1", code_of("d1")), asked("d1", 300_000), paid("d1", 100_000)]
        now = await ended_before_the_upgrade(registry, clock, pusher, "d1", events, DossierStatus.WITHDRAWAL_REQUESTED)
    else:
        events = [submission, received("d1", code_of("d1")), asked("d1", 300_000)]
        now = await ended_before_the_upgrade(
            registry, clock, pusher, "d1", events, DossierStatus.STOPPED, obligation_kept=False
        )
    assert any(not shown_paid for *_, shown_paid in fees_on_portal(portal, "d1"))  # what the old build left
    revision = registry.dossiers.rows["d1"].revision
    clock.advance(60)
    assert await EndedFeeLinesRepair(registry.unit_of_work, clock).run() == RepairCount(found=1, repaired=1)
    sync = registry.dossiers.rows["d1"]
    assert (sync.revision, sync.status, sync.changed_at) == (revision + 1, SyncStatus.PENDING, clock())
    assert sync.record == now  # as the event path folds the ending now
    assert await push_due(pusher) == 1
    assert fees_on_portal(portal, "d1") == fees
    assert registry.published(PortalSyncSucceeded.event_type)[-1].payload["status_code"] in (3, 7, 8)


async def test_a_second_run_finds_nothing_and_pushes_nothing(registry, portal, clock, pusher) -> None:
    """Once repaired, a record no longer shows anything owed: a later start, or a second replica, must
    not push the dossier again."""
    await ended_before_the_upgrade(
        registry, clock, pusher, "d1", [submitted("d1", code_of("d1"), fee=200_000)], DossierStatus.REFUSED
    )
    repair = EndedFeeLinesRepair(registry.unit_of_work, clock)
    assert await repair.run() == RepairCount(found=1, repaired=1)
    await push_due(pusher)
    writes, revision = len(portal.writes), registry.dossiers.rows["d1"].revision
    assert await repair.run() == RepairCount()
    assert (await push_due(pusher), len(portal.writes), registry.dossiers.rows["d1"].revision) == (0, writes, revision)


async def test_dossiers_still_open_or_already_right_are_left_alone(registry, portal, clock, pusher) -> None:
    """Only an ended dossier's lines change: one still in progress owes its unpaid fee, one ended since
    the upgrade already shows only what was paid, and one that paid everything shows nothing owed."""
    await consume(registry, clock, submitted("d1", code_of("d1"), fee=200_000))  # in progress, owes 200,000
    submission = submitted("d2", code_of("d2"), fee=200_000)
    await consume(registry, clock, submission, wrap(ending("d2", DossierStatus.REFUSED), "d2", "workflow"))
    events = [submitted("d3", code_of("d3"), fee=100_000), paid("d3", 100_000)]
    await ended_before_the_upgrade(registry, clock, pusher, "d3", events, DossierStatus.STOPPED)
    await push_due(pusher)
    before = {i: (s.revision, s.record) for i, s in registry.dossiers.rows.items()}
    assert await EndedFeeLinesRepair(registry.unit_of_work, clock).run() == RepairCount()
    assert {i: (s.revision, s.record) for i, s in registry.dossiers.rows.items()} == before
    assert await push_due(pusher) == 0


async def test_a_line_paid_in_part_before_payments_were_kept_is_repaired_as_the_event_path_does_and_once(
    registry, portal, clock, pusher
) -> None:
    """A record saved before the obligation and the payments' times were kept converts lossily (its
    part payment has no time, so the line of it shows no payment time either): it is repaired as its
    next event would make it, and a later run does not find it again for the time it still lacks."""
    await consume(registry, clock, submitted("d1", code_of("d1"), fee=200_000))
    old_line = FeeLine(name="Lệ phí", amount_vnd=200_000, payment_method="qr", paid_online=True, paid_vnd=100_000)
    before = registry.dossiers.rows["d1"].record.model_copy(update={"fees": (old_line,), "obligation": None})
    end = ending("d1", DossierStatus.REFUSED)
    await saved_and_pushed(registry, clock, pusher, as_saved_before_the_upgrade(before, end))
    repair = EndedFeeLinesRepair(registry.unit_of_work, clock)
    assert await repair.run() == RepairCount(found=1, repaired=1)
    assert registry.dossiers.rows["d1"].record.fees == apply_dossier_event(before, end).fees
    assert [(f.amount_vnd, f.paid_vnd, f.paid_at) for f in registry.dossiers.rows["d1"].record.fees] == [
        (100_000, 100_000, None)
    ]
    assert await repair.run() == RepairCount()


async def test_each_batch_is_locked_in_dossier_id_order_in_a_transaction_of_its_own(
    registry, portal, clock, pusher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bounded rounds, locked as the consumer, the push recorder and reconciliation lock theirs (the
    whole batch at once, in dossier-id order), so none of them deadlocks with the repair; the portal
    worker is woken after each round that saved something."""
    for dossier_id in ("d5", "d3", "d1", "d4", "d2"):
        before = [submitted(dossier_id, code_of(dossier_id), fee=50_000)]
        await ended_before_the_upgrade(registry, clock, pusher, dossier_id, before, DossierStatus.REFUSED)
    locked: list[list[str]] = []
    store, transactions = registry.dossiers, [0]
    get_many, unit_of_work = store.get_many, registry.unit_of_work

    async def get_many_locking(dossier_ids: list[str], *, for_update: bool = False) -> Any:
        assert for_update
        locked.append(list(dossier_ids))
        return await get_many(dossier_ids, for_update=for_update)

    def counted() -> Any:
        transactions[0] += 1
        return unit_of_work()

    monkeypatch.setattr(store, "get_many", get_many_locking)
    wakes: list[int] = []
    repair = EndedFeeLinesRepair(counted, clock, batch_size=2, on_repaired=lambda: wakes.append(len(locked)))
    assert await repair.run() == RepairCount(found=5, repaired=5)
    assert locked == [["d1", "d2"], ["d3", "d4"], ["d5"]]
    assert (transactions[0], wakes) == (4, [1, 2, 3])  # the last finds nothing


async def test_a_record_another_replica_repaired_meanwhile_is_not_saved_again(
    registry, portal, clock, pusher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two replicas start at once and find the same records; the second waits for the first's locks,
    then reads them repaired: saved again, each would have cost the portal a second, empty write."""
    before = [submitted("d1", code_of("d1"), fee=200_000)]
    await ended_before_the_upgrade(registry, clock, pusher, "d1", before, DossierStatus.REFUSED)
    store = registry.dossiers
    showing_unpaid = store.showing_unpaid

    async def found_then_repaired_by_the_other(*args: Any) -> list[str]:
        found = await showing_unpaid(*args)
        for dossier_id in found:  # the other replica's commit, before ours takes the locks
            sync = store.rows[dossier_id]
            sync.change(
                with_fee_lines_remade(sync.record), at=clock(), now=clock(), correlation_id="c", causation_id="c"
            )
        return found

    monkeypatch.setattr(store, "showing_unpaid", found_then_repaired_by_the_other)
    revision = store.rows["d1"].revision
    assert await EndedFeeLinesRepair(registry.unit_of_work, clock).run() == RepairCount(found=1, repaired=0)
    assert store.rows["d1"].revision == revision + 1  # the other replica's revision alone


async def test_a_failed_pass_is_tried_again_later_and_never_stops_the_service(registry, portal, clock, pusher) -> None:
    """The database away at start: the repair waits and tries again, growing its wait, instead of
    ending the service's background work (or giving up on the repair for good)."""
    before = [submitted("d1", code_of("d1"), fee=200_000)]
    await ended_before_the_upgrade(registry, clock, pusher, "d1", before, DossierStatus.REFUSED)
    database = DatabaseGoesAway(registry)
    database.go_away(2)
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    await EndedFeeLinesRepair(database, clock, sleep=sleep).run_until_done()
    assert (database.refused, waits) == (2, [10.0, 20.0])
    assert registry.dossiers.rows["d1"].record.fees == ()


async def test_the_repair_stops_when_cancelled_even_in_a_database_call_that_turns_it_into_an_error(
    registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stop landing in a database call can come out as the driver's error: taken for a failure, the
    repair would log it and wait to try again while the service's stop waited its time out."""
    interrupted = InterruptedCall(ConnectionResetError("connection lost"))
    monkeypatch.setattr(registry.dossiers, "showing_unpaid", interrupted)
    task = asyncio.create_task(EndedFeeLinesRepair(registry.unit_of_work, Clock()).run_until_done())
    assert await stopped_when_cancelled(task, interrupted.entered)


async def test_registry_sync_runs_the_repair_at_start_beside_its_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without it, the records saved before the upgrade stay as they are. A one-off that ends must not
    end the background task it runs in either: readiness reads a task that ended as stopped."""
    ran = asyncio.Event()

    class Repair(EndedFeeLinesRepair):
        async def run_until_done(self) -> None:
            ran.set()

    async def idle(self: Any) -> None:
        await asyncio.Event().wait()

    monkeypatch.setattr(bootstrap, "EndedFeeLinesRepair", Repair)
    monkeypatch.setattr(bootstrap.WorkLoop, "run", idle)
    app = bootstrap.create_app(RegistrySyncSettings(database_url=NOWHERE, kafka_bootstrap_servers="127.0.0.1:1"))
    [workers] = [job for job in app.state.runtime._background if job.__name__ == "registry_workers"]
    task = asyncio.create_task(workers())
    try:
        await asyncio.wait_for(ran.wait(), timeout=5)
        await asyncio.sleep(0.05)
        assert not task.done()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

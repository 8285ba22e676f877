"""Portal synchronisation through the real handlers with in-memory stores and an in-memory portal:
create then update, learning from 409/404, failures with reasons, changes during a push, and
reconciliation repairing what the portal lost."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from contracts.envelope import Envelope
from contracts.events.common import DossierStatus
from contracts.events.intake import FeePaid
from contracts.events.registry import PortalSyncFailed, PortalSyncSucceeded
from contracts.events.workflow import DossierDueSoon, DossierRefused, PaymentRequested
from registry_sync.adapters.memory import InMemoryRegistry
from registry_sync.domain.outcomes import CallOutcome, Rejected, Succeeded, Transient
from registry_sync.domain.portal_sync import SyncStatus
from registry_sync.domain.reconciliation import ReconciliationReport
from registry_sync.service_layer.portal_sync import (
    DossierNotSeen,
    PortalPusher,
    record_dossier_event,
    record_dossier_events,
)
from registry_sync.service_layer.reconciliation import Reconciler
from tests.support.kafka import eventually
from tests.unit.registry_sync.events import T0, lifecycle, received, result_issued, submitted, wrap
from tests.unit.registry_sync.fakes import Clock, DatabaseGoesAway, FakePortal, consume, guards, push_due

TOPIC = "registry.events"
CODE = "CAXANPHU-240710-0001"


async def test_created_on_first_sight_then_updated_on_every_later_state(registry, portal, clock, pusher) -> None:
    await consume(registry, clock, submitted("d1", CODE))
    assert await push_due(pusher) == 1
    assert portal.dossiers[CODE]["state"] == 1
    await consume(registry, clock, received("d1", CODE))
    await push_due(pusher)
    await consume(registry, clock, result_issued("d1", CODE))
    await push_due(pusher)
    assert portal.dossiers[CODE]["state"] == 9 and portal.dossiers[CODE]["revision"] == 3
    assert [op for op, _ in portal.writes] == ["create", "update", "update"]
    synced = registry.published(PortalSyncSucceeded.event_type)
    assert [(e.payload["operation"], e.payload["status_code"]) for e in synced] == [
        ("create", 1),
        ("update", 2),
        ("update", 9),
    ]
    assert registry.dossiers.rows["d1"].status is SyncStatus.SYNCED
    assert await push_due(pusher) == 0


async def test_nothing_is_pushed_until_the_portal_required_data_is_known(registry, portal, clock, pusher) -> None:
    await consume(registry, clock, received("d1", CODE))  # workflow first: no channel yet
    assert await push_due(pusher) == 0
    assert registry.dossiers.rows["d1"].record.missing() == ["channel"]
    await consume(registry, clock, submitted("d1", CODE))
    assert await push_due(pusher) == 1 and portal.dossiers[CODE]["state"] == 2


async def test_a_409_turns_a_create_into_an_update_and_a_404_the_reverse(registry, portal, clock, pusher) -> None:
    portal.dossiers[CODE] = {"code": CODE, "state": 1, "revision": 4}  # someone created it before us
    await consume(registry, clock, submitted("d1", CODE))
    await push_due(pusher)
    assert [op for op, _ in portal.writes] == ["create", "update"]
    assert registry.dossiers.rows["d1"].portal_revision == 5
    del portal.dossiers[CODE]  # the portal lost it
    await consume(registry, clock, received("d1", CODE))
    await push_due(pusher)
    assert [op for op, _ in portal.writes][2:] == ["update", "create"]
    assert portal.dossiers[CODE]["state"] == 2


async def test_a_refused_dossier_fails_with_the_reason_until_something_changes(registry, portal, clock, pusher) -> None:
    await consume(registry, clock, submitted("d1", CODE))
    portal.script.append(Rejected("422 validation_failed: received_at: required in state 2", 422, "validation_failed"))
    await push_due(pusher)
    row = registry.dossiers.rows["d1"]
    assert row.status is SyncStatus.FAILED and row.last_error.startswith("422")  # type: ignore[union-attr]
    (failed,) = registry.published(PortalSyncFailed.event_type)
    assert (failed.payload["http_status"], failed.payload["attempts"], failed.payload["status_code"]) == (422, 1, 1)
    assert await push_due(pusher) == 0  # failed stays failed ...
    await consume(registry, clock, received("d1", CODE))
    assert await push_due(pusher) == 1  # ... until a new state arrives
    assert registry.dossiers.rows["d1"].status is SyncStatus.SYNCED


async def test_outage_backs_off_and_resumes_with_the_same_keys(registry, portal, clock, pusher) -> None:
    await consume(registry, clock, submitted("d1", CODE))
    portal.script.extend([Transient("503", 503), Transient("timeout: ReadTimeout")])
    await push_due(pusher)
    clock.advance(1)
    await push_due(pusher)
    clock.advance(2)
    await push_due(pusher)
    keys = [key for _, key in portal.writes]
    assert keys == [keys[0]] * 3  # a retry of a maybe-applied create must be recognisable as one
    assert registry.dossiers.rows["d1"].status is SyncStatus.SYNCED
    assert registry.published(PortalSyncFailed.event_type) == []


async def test_the_lag_counts_from_the_oldest_change_the_portal_did_not_have(registry, portal, clock, pusher) -> None:
    """Submitted at 08:30 during a portal outage, received at 09:30, pushed a second later: the
    portal went an hour without the dossier, not a second."""
    await consume(registry, clock, submitted("d1", CODE))
    portal.script.append(Transient("503", 503))
    await push_due(pusher)
    clock.advance(3600)
    await consume(registry, clock, received("d1", CODE))
    clock.advance(1)
    await push_due(pusher)
    (synced,) = registry.published(PortalSyncSucceeded.event_type)
    assert (synced.payload["status_code"], synced.payload["lag_seconds"]) == (2, 3601.0)


async def test_a_change_during_a_push_is_pushed_next(registry, portal, clock, pusher) -> None:
    await consume(registry, clock, submitted("d1", CODE))
    (claimed,) = await pusher.claim(10)
    received_at = clock() + timedelta(seconds=2)
    await consume(registry, clock, received("d1", CODE, at=received_at))  # arrives while the create is in flight
    assert await pusher.claim(10) == []  # the lease keeps a second push from overtaking the first
    await pusher.push(claimed)
    row = registry.dossiers.rows["d1"]
    assert row.status is SyncStatus.PENDING and row.synced_revision == 1 and row.revision == 2
    assert row.unsynced_since == received_at  # the change still to push, not the one pushed
    clock.advance(5)
    await push_due(pusher)
    assert portal.dossiers[CODE]["state"] == 2 and registry.dossiers.rows["d1"].status is SyncStatus.SYNCED
    lags = [e.payload["lag_seconds"] for e in registry.published(PortalSyncSucceeded.event_type)]
    assert lags == [0.0, (clock() - received_at).total_seconds()]


async def test_reconciliation_repushes_what_the_portal_lost_or_holds_stale(registry, portal, clock, pusher) -> None:
    codes = [f"CAXANPHU-240710-{n:04d}" for n in range(1, 6)]
    for n, code in enumerate(codes):
        await consume(registry, clock, submitted(f"d{n}", code), received(f"d{n}", code))
    await push_due(pusher)
    portal.dossiers["ZZOTHER-240710-0001"] = {"state": 4, "revision": 1}  # not ours
    del portal.dossiers[codes[1]]
    portal.dossiers[codes[3]]["state"] = 1
    clock.advance(10)  # synced before the run, by more than the clocks may differ
    reconciler = Reconciler(
        registry.unit_of_work,
        portal,
        pusher.guards["national_portal"],
        pusher.guards.policy,
        clock,
        page_size=2,
        chunk_size=2,
    )
    report = await reconciler.run("on_demand")
    assert (report.local_dossiers, report.in_sync, report.missing_on_portal, report.stale_on_portal) == (5, 3, 1, 1)
    assert (report.portal_dossiers, report.unknown_to_us, report.repushed) == (5, 1, 2)
    assert report.listing_complete and report.error is None
    await push_due(pusher)
    assert portal.dossiers[codes[1]]["state"] == 2 and portal.dossiers[codes[3]]["state"] == 2
    repushed = [e for e in registry.published(PortalSyncSucceeded.event_type) if e.payload["repush"]]
    assert sorted(e.payload["operation"] for e in repushed) == ["create", "update"]
    clock.advance(10)
    again = await reconciler.run("on_demand")
    assert again.in_sync == 5 and again.repushed == 0
    assert (await registry.reconciliations.latest()).id == 2  # type: ignore[union-attr]


async def test_a_dossier_pushed_while_the_listing_is_read_is_not_judged_by_it(registry, clock) -> None:
    """The listing's page was read before the worker created the dossier on the portal: it is not
    missing there, nor to be pushed again as lost (which forgot the portal's revision, and with it
    the If-Match that keeps an older push still in flight from landing over a newer one). The worker
    runs on another replica, whose clock is two seconds behind."""
    behind = Clock()
    pusher = PortalPusher(registry.unit_of_work, FakePortal(), guards(), lambda p, k: k, TOPIC, behind)

    class PushedMeanwhile(FakePortal):
        async def list_page(self, *, after: str | None, limit: int) -> CallOutcome:
            page = await super().list_page(after=after, limit=limit)
            clock.advance(1)
            behind.now = clock() - timedelta(seconds=2)
            await push_due(pusher)  # the portal worker, concurrently
            return page

    portal = PushedMeanwhile()
    pusher.portal = portal
    await consume(registry, clock, submitted("d1", CODE))
    clock.advance(1)
    guard = pusher.guards["national_portal"]
    report = await Reconciler(registry.unit_of_work, portal, guard, pusher.guards.policy, clock).run("on_demand")
    assert CODE in portal.dossiers
    assert (report.missing_on_portal, report.pending, report.repushed) == (0, 1, 0)
    row = registry.dossiers.rows["d1"]
    assert (row.status, row.generation, row.portal_revision) == (SyncStatus.SYNCED, 0, 1)


async def reconcile_without_sleeping(
    registry: InMemoryRegistry, portal: FakePortal, clock: Clock, pusher: PortalPusher
) -> tuple[ReconciliationReport, list[float]]:
    """One on-demand reconciliation whose waits between page attempts are noted, not slept."""
    sleeps: list[float] = []

    async def no_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    guard = pusher.guards["national_portal"]
    reconciler = Reconciler(registry.unit_of_work, portal, guard, pusher.guards.policy, clock, sleep=no_sleep)
    return await reconciler.run("on_demand"), sleeps


async def test_reconciliation_judges_nothing_it_could_not_list(registry, portal, clock, pusher) -> None:
    await consume(registry, clock, submitted("d1", CODE))
    await push_due(pusher)
    portal.list_failures.extend([Transient("503", 503)] * 3)
    report, sleeps = await reconcile_without_sleeping(registry, portal, clock, pusher)
    assert report.not_judged == 1 and report.repushed == 0 and not report.listing_complete
    assert report.error is not None and report.error.startswith("portal listing failed: 503")
    assert len(sleeps) == 2


async def test_a_listing_waits_as_long_as_the_portal_asks(registry, portal, clock, pusher) -> None:
    """A 429 with Retry-After: 30 was answered 5 s later, against the portal's word."""
    await consume(registry, clock, submitted("d1", CODE))
    await push_due(pusher)
    portal.list_failures.extend([Transient("429", 429, retry_after=30.0), Transient("429", 429, retry_after=600.0)])
    clock.advance(10)  # synced before the run, by more than the clocks may differ
    report, sleeps = await reconcile_without_sleeping(registry, portal, clock, pusher)
    assert report.listing_complete and report.in_sync == 1
    assert sleeps == [30.0, 60.0]  # as asked, up to a minute


@pytest.mark.parametrize("before", ["nothing", "workflow's reception", "the same, saved by an older build"])
async def test_a_payment_for_a_dossier_not_recorded_yet_fails_to_be_retried_not_dropped(
    registry, clock, before: str
) -> None:
    """Its submission dead-lettered (or late), the payment was logged and dropped for good: replaying
    the submission left the portal's fee unpaid. With a record workflow's events made (another
    topic), it was taken as the whole fee: the submission's fee line never added, shown paid in full."""
    if before != "nothing":
        await consume(registry, clock, received("d1", CODE))
    if before.endswith("older build"):  # which knows no `submitted` and drops it
        row = registry.dossiers.rows["d1"]
        row.record = row.record.model_copy(update={"submitted": None})
    paid = wrap(FeePaid(dossier_id="d1", amount=50_000, method="qr", online=True, paid_at=T0), "d1", "intake")
    with pytest.raises(DossierNotSeen, match="FeePaid for dossier d1"):
        await consume(registry, clock, paid)
    await consume(registry, clock, submitted("d1", CODE, fee=50_000))  # the submission replayed
    await consume(registry, clock, paid)  # then the payment
    (fee,) = registry.dossiers.rows["d1"].record.fees
    assert fee.paid_at is not None and fee.payment_method == "qr"


async def test_a_push_the_portal_refused_is_pushed_again_a_day_later_not_every_run(
    registry, portal, clock, pusher
) -> None:
    """Every run pushed it again: the same body, the same refusal, a portal write and a failure
    event each time (96 a day). One that failed for want of an answer is still pushed every run."""
    await consume(registry, clock, submitted("d1", CODE), submitted("d2", CODE.replace("0001", "0002")))
    portal.script.extend([Rejected("422 validation_failed: applicant unknown", 422), Transient("503", 503)])
    await push_due(pusher)  # d1 refused; d2 answered 503, then given up
    row = registry.dossiers.rows["d2"]
    row.reject("gave up after 9 attempts: 503", clock(), http_status=503)
    # Given up on a 412 whose revision could not be read back: its status alone read as a refusal.
    await consume(registry, clock, submitted("d3", CODE.replace("0001", "0003")))
    await push_due(pusher)
    registry.dossiers.rows["d3"].reject("gave up after 9 attempts: 412 revision_mismatch", clock(), http_status=412)
    reconciler = reconciler_of(registry, portal, clock, pusher)
    for retried in (2, 0, 0):  # a run every quarter of an hour; d2's and d3's pushes go through
        clock.advance(900)
        report = await reconciler.run("periodic")
        assert (report.refused_waiting, report.failed_retried) == (1, retried)
        await push_due(pusher)
    assert registry.dossiers.rows["d2"].status is SyncStatus.SYNCED
    assert len(registry.published(PortalSyncFailed.event_type)) == 1
    clock.advance(24 * 3600)
    report = await reconciler.run("periodic")
    assert (report.refused_waiting, report.failed_retried) == (0, 1)
    assert registry.dossiers.rows["d3"].status is SyncStatus.SYNCED


@pytest.mark.parametrize("revision", [0, -1, True, "3", 2**63])
async def test_a_success_naming_no_usable_revision_is_recorded_without_one(registry, clock, revision: object) -> None:
    """A revision of 0 failed the success event (revisions count from 1): nothing was recorded, and the
    dossier was pushed again every lease, for ever."""

    class OddPortal(FakePortal):
        async def create(self, body: dict[str, Any], **kwargs: Any) -> CallOutcome:
            await super().create(body, **kwargs)
            return Succeeded({"code": body["code"], "revision": revision}, 201)

    pusher = PortalPusher(registry.unit_of_work, OddPortal(), guards(), lambda p, k: k, TOPIC, clock)
    await consume(registry, clock, submitted("d1", CODE))
    await push_due(pusher)
    row = registry.dossiers.rows["d1"]
    assert (row.status, row.portal_revision) == (SyncStatus.SYNCED, None)
    (synced,) = registry.published(PortalSyncSucceeded.event_type)
    assert synced.payload["portal_revision"] is None


async def test_an_empty_page_that_is_not_the_last_is_read_past(registry, portal, clock, pusher) -> None:
    """A cursor listing may answer a page with no items and a next cursor: the run failed on it
    (an IndexError), every run."""
    await consume(registry, clock, submitted("d1", CODE))
    await push_due(pusher)
    portal.list_failures.append(Succeeded({"items": [], "total": 1, "next_after": "A"}))
    clock.advance(10)  # synced before the run, by more than the clocks may differ
    report, _ = await reconcile_without_sleeping(registry, portal, clock, pusher)
    assert report.listing_complete and report.in_sync == 1 and report.error is None


async def test_changes_within_the_settle_time_go_in_one_push(registry, portal, clock, pusher) -> None:
    for envelope in (submitted("d1", CODE), received("d1", CODE)):
        async with registry.unit_of_work() as uow:
            await record_dossier_event(envelope, uow, now=clock(), settle_seconds=0.5)
    assert await push_due(pusher) == 0  # still settling
    clock.advance(0.5)
    assert await push_due(pusher) == 1
    assert [op for op, _ in portal.writes] == ["create"] and portal.dossiers[CODE]["state"] == 2
    async with registry.unit_of_work() as uow:
        await record_dossier_event(result_issued("d1", CODE), uow, now=clock(), settle_seconds=0.5)
    assert await push_due(pusher) == 0  # a synced dossier's next change settles too
    clock.advance(0.5)
    assert await push_due(pusher) == 1 and portal.dossiers[CODE]["state"] == 9


async def test_a_batch_of_events_is_folded_as_one_by_one_with_one_save_per_dossier(clock) -> None:
    """The consumer hands registry-sync a transaction's events at once: same records, fewer writes."""
    events = [submitted("d1", CODE), submitted("d2", "CAXANPHU-240710-0002"), received("d1", CODE),
              result_issued("d1", CODE)]  # fmt: skip
    one_by_one, batched = InMemoryRegistry(), InMemoryRegistry()
    await consume(one_by_one, clock, *events)
    saves: list[str] = []
    store = batched.dossiers
    save = store.save

    async def counted(sync) -> None:  # type: ignore[no-untyped-def]
        saves.append(sync.dossier_id)
        await save(sync)

    store.save = counted  # type: ignore[method-assign]
    async with batched.unit_of_work() as uow:
        await record_dossier_events(events, uow, now=clock())
    assert sorted(saves) == ["d1", "d2"]
    assert batched.dossiers.rows == one_by_one.dossiers.rows
    assert batched.dossiers.rows["d1"].revision == 3


async def test_an_outage_during_a_push_does_not_cost_the_push(registry: InMemoryRegistry, clock: Clock) -> None:
    database = DatabaseGoesAway(registry)

    class GoneWhenAnswered(FakePortal):
        async def create(
            self, body: dict[str, Any], *, idempotency_key: str, correlation_id: str | None
        ) -> CallOutcome:
            database.go_away(2)  # the database is gone when the portal answers
            return await super().create(body, idempotency_key=idempotency_key, correlation_id=correlation_id)

    portal = GoneWhenAnswered()
    pusher = PortalPusher(database, portal, guards(), lambda p, k: k, TOPIC, clock, rand=lambda: 1.0)
    await consume(registry, clock, submitted("d1", CODE))
    assert await push_due(pusher) == 1
    assert database.refused == 2
    assert registry.dossiers.rows["d1"].status is SyncStatus.SYNCED  # recorded once it was back
    clock.advance(3600)  # long after any lease: nothing left to push, nothing pushed again
    assert await push_due(pusher) == 0 and len(portal.writes) == 1


async def test_a_slow_push_keeps_its_lease_and_a_stalled_one_leaves_retries_to_the_holder(
    registry, portal, clock
) -> None:
    """A push running past its lease renews it (no second push overtakes it); a push that lost its
    lease (stalled past it, another push took over) does not reschedule the dossier over the holder."""
    answer = asyncio.Event()

    class SlowPortal(FakePortal):
        """The first push waits for ``answer``; a later one is answered from the script at once."""

        async def create(
            self, body: dict[str, Any], *, idempotency_key: str, correlation_id: str | None
        ) -> CallOutcome:
            if not self.writes:
                self.writes.append(("create", idempotency_key))
                await answer.wait()
                return Succeeded({**body, "revision": 1}, 201)
            return await super().create(body, idempotency_key=idempotency_key, correlation_id=correlation_id)

    slow = SlowPortal()
    slow.script.append(Transient("503", 503))  # the stalled push's answer
    pusher = PortalPusher(registry.unit_of_work, slow, guards(), lambda p, k: k, TOPIC, clock, lease_seconds=0.3)
    await consume(registry, clock, submitted("d1", CODE))
    (stalled,) = await pusher.claim(10)
    clock.advance(1)  # the stalled push's lease is long gone before it even starts
    (holder,) = await pusher.claim(10)
    holding = asyncio.create_task(pusher.push(holder))
    for _ in range(3):
        clock.advance(0.2)

        async def renewed(since=registry.dossiers.rows["d1"].next_attempt_at) -> bool:  # type: ignore[no-untyped-def]
            return registry.dossiers.rows["d1"].next_attempt_at > since

        await eventually(renewed, timeout=5, interval=0.01)
    assert await pusher.claim(10) == []  # the holder's push still runs: nobody overtakes it
    await pusher.push(stalled)  # answered 503 while the holder's push runs
    row = registry.dossiers.rows["d1"]
    assert row.next_attempt_at == holder.next_attempt_at and row.attempts == 0 and not holding.done()
    answer.set()
    await holding
    assert registry.dossiers.rows["d1"].status is SyncStatus.SYNCED and len(slow.writes) == 2


async def test_a_push_whose_answer_was_lost_cannot_land_over_a_newer_one(registry, portal, clock, pusher) -> None:
    """The reception's push times out but is still in flight at the portal; the result's push lands
    first. Named by revision (If-Match), the late one is refused there instead of putting state 2
    back over state 9 until reconciliation noticed."""
    await consume(registry, clock, submitted("d1", CODE))
    await push_due(pusher)
    await consume(registry, clock, received("d1", CODE))
    portal.script.append(Transient("timeout, still in flight"))
    await push_due(pusher)
    assert portal.in_flight and portal.dossiers[CODE]["state"] == 1
    await consume(registry, clock, result_issued("d1", CODE))
    clock.advance(60)
    await push_due(pusher)
    assert (portal.dossiers[CODE]["state"], portal.dossiers[CODE]["revision"]) == (9, 2)
    [late] = portal.apply_in_flight()
    assert isinstance(late, Rejected) and late.status == 412
    assert portal.dossiers[CODE]["state"] == 9


@pytest.mark.parametrize("read_back", ["refused", "the revision we named"])
async def test_a_412_without_the_portal_s_revision_backs_off_and_gives_up(registry, portal, clock, read_back) -> None:
    """The portal does not tell a revision other than the one we named (it refuses to, or a lagging
    replica answers the old one): each retry at once would name the same one."""
    pusher = PortalPusher(
        registry.unit_of_work, portal, guards(max_attempts=3), lambda p, k: k, TOPIC, clock, rand=lambda: 1.0
    )
    await consume(registry, clock, submitted("d1", CODE))
    await push_due(pusher)
    portal.dossiers[CODE]["revision"] = 7  # another writer
    await consume(registry, clock, received("d1", CODE))

    async def unhelpful(code: str) -> CallOutcome:
        if read_back == "refused":
            return Rejected("404 not_found", 404, "not_found")
        return Succeeded({"code": code, "revision": 1})

    portal.revision = unhelpful  # type: ignore[method-assign]
    pushes = []
    for _ in range(10):
        pushes.append(await push_due(pusher))
        clock.advance(0.001)
    assert pushes[:2] == [1, 0]  # backed off, not asked again at once
    row = registry.dossiers.rows["d1"]
    assert row.status is SyncStatus.PENDING and row.last_error is not None and "read back" in row.last_error
    clock.advance(3600)
    while await push_due(pusher):
        clock.advance(3600)
    (failed,) = registry.published(PortalSyncFailed.event_type)
    assert (failed.payload["http_status"], failed.payload["attempts"]) == (412, 3)


async def test_a_revision_the_portal_holds_that_we_did_not_write_is_written_over(
    registry, portal, clock, pusher
) -> None:
    await consume(registry, clock, submitted("d1", CODE))
    await push_due(pusher)
    portal.dossiers[CODE]["revision"] = 7  # another writer, or an answer of ours we never got
    await consume(registry, clock, received("d1", CODE))
    await push_due(pusher)  # a 412: the portal's revision is read back, and the push goes again at once
    assert registry.dossiers.rows["d1"].portal_revision == 7
    await push_due(pusher)
    assert (portal.dossiers[CODE]["state"], portal.dossiers[CODE]["revision"]) == (2, 8)
    assert registry.dossiers.rows["d1"].status is SyncStatus.SYNCED
    assert registry.dossiers.rows["d1"].portal_revision == 8


async def test_a_push_that_outlived_its_lease_does_not_write_over_the_newer_one(
    registry, portal, clock, pusher
) -> None:
    """Push A (state 2) is claimed, its lease runs out, push B (state 9) is claimed and lands first.
    A's update then meets a 412, and since a newer version of ours exists, it writes nothing over it."""
    await consume(registry, clock, submitted("d1", CODE))
    await push_due(pusher)
    await consume(registry, clock, received("d1", CODE))
    [stale] = await pusher.claim(10)
    await consume(registry, clock, result_issued("d1", CODE))
    clock.advance(60)  # A's lease is long gone
    assert await push_due(pusher) == 1
    assert (portal.dossiers[CODE]["state"], portal.dossiers[CODE]["revision"]) == (9, 2)
    await pusher.push(stale)
    assert portal.dossiers[CODE]["state"] == 9
    assert await push_due(pusher) == 0 and portal.dossiers[CODE]["state"] == 9


class _Stop(Exception):
    """Ends a periodic loop in a test."""


async def periodic_waits(reconciler: Reconciler, clock: Clock, *, waits: int, interval: float = 900) -> list[float]:
    """Run ``reconciler.periodic(interval)`` until it has waited ``waits`` times: what it waited, each
    wait passing on ``clock`` at once."""
    seen: list[float] = []

    async def note_then_time_passes(seconds: float) -> None:
        seen.append(seconds)
        clock.advance(seconds)
        if len(seen) == waits:
            raise _Stop

    reconciler.sleep = note_then_time_passes
    with pytest.raises(_Stop):
        await reconciler.periodic(interval)
    return seen


def reconciler_of(registry: InMemoryRegistry, portal: FakePortal, clock: Clock, pusher: PortalPusher) -> Reconciler:
    guard = pusher.guards["national_portal"]
    return Reconciler(registry.unit_of_work, portal, guard, pusher.guards.policy, clock)


async def test_periodic_reconciliation_is_due_an_interval_after_the_last_one_recorded(
    registry, portal, clock, pusher
) -> None:
    """Waiting a whole interval from the process's start, a service restarted more often than the
    interval (deploys, a crash loop) never reconciled; replicas each ran their own."""
    reconciler = reconciler_of(registry, portal, clock, pusher)
    await reconciler.run("on_demand")  # recorded: the last run, by this replica or another
    clock.advance(600)
    waits = await periodic_waits(reconciler, clock, waits=3)
    assert 300 <= waits[0] <= 300 + 45  # the rest of the interval since that run, plus a little jitter
    assert (await registry.reconciliations.latest()).trigger == "periodic"  # type: ignore[union-attr]
    assert 900 <= waits[1] <= 900 + 45  # then an interval after the run it made


async def test_with_no_reconciliation_recorded_the_first_is_due_an_interval_after_start(
    registry, portal, clock, pusher
) -> None:
    waits = await periodic_waits(reconciler_of(registry, portal, clock, pusher), clock, waits=2)
    assert 900 <= waits[0] <= 900 + 45
    assert (await registry.reconciliations.latest()).trigger == "periodic"  # type: ignore[union-attr]


async def test_a_reconciliation_dated_ahead_by_a_replica_s_clock_does_not_stop_periodic_runs(
    registry, portal, clock, pusher
) -> None:
    reconciler = reconciler_of(registry, portal, clock, pusher)
    clock.advance(86_400)
    await reconciler.run("on_demand")  # a replica a day ahead recorded it
    clock.advance(-86_400)
    waits = await periodic_waits(reconciler, clock, waits=2)
    assert waits[0] <= 45  # due at once (plus jitter), not never
    assert (await registry.reconciliations.latest()).trigger == "periodic"  # type: ignore[union-attr]


async def test_a_refused_revision_with_a_newer_one_waiting_pushes_the_newer_one(registry, portal, clock, pusher):
    """The portal refused the reception's state while the result was already waiting: the result may
    be what it wants, and failed, the dossier waited for a reconciliation with the portal stale."""
    await consume(registry, clock, submitted("d1", CODE))
    await push_due(pusher)
    await consume(registry, clock, received("d1", CODE))
    (claimed,) = await pusher.claim(10)
    await consume(registry, clock, result_issued("d1", CODE))  # arrives while the update is in flight
    portal.script.append(Rejected("422 validation_failed: appointment_at: required in state 2", 422))
    await pusher.push(claimed)
    assert registry.dossiers.rows["d1"].status is SyncStatus.PENDING
    await push_due(pusher)
    assert portal.dossiers[CODE]["state"] == 9 and registry.dossiers.rows["d1"].status is SyncStatus.SYNCED
    assert registry.published(PortalSyncFailed.event_type) == []


async def test_a_refusal_naming_a_citizen_s_number_is_published_masked(registry, portal, clock, pusher) -> None:
    await consume(registry, clock, submitted("d1", CODE))
    portal.script.append(Rejected("422 validation_failed: applicant 036190001234 unknown", 422))
    await push_due(pusher)
    (failed,) = registry.published(PortalSyncFailed.event_type)
    assert "036190001234" not in failed.payload["reason"] and "03********34" in failed.payload["reason"]
    assert "036190001234" not in (registry.dossiers.rows["d1"].last_error or "")


async def test_an_event_that_changes_nothing_the_portal_carries_costs_no_push(registry, portal, clock, pusher) -> None:
    """A due-soon timer a day after the reception: each such event was a full portal update."""
    await consume(registry, clock, submitted("d1", CODE), received("d1", CODE))
    await push_due(pusher)
    revision = registry.dossiers.rows["d1"].revision
    at = T0 + timedelta(days=1)
    due_soon = DossierDueSoon(**lifecycle("d1", CODE, at, status=DossierStatus.PROCESSING), due_at=at)
    await consume(registry, clock, wrap(due_soon, "d1", "workflow"))
    assert await push_due(pusher) == 0 and [op for op, _ in portal.writes] == ["create"]
    assert registry.dossiers.rows["d1"].revision == revision


async def test_a_part_payment_costs_no_push_and_still_counts_toward_the_whole(registry, portal, clock, pusher) -> None:
    """A part of a requested 500,000 VND paid changes only what we keep (paid so far), not what the
    portal is sent: the identical dossier was written again, and its extra PortalSyncSucceeded counted
    in reporting's syncs and lag."""
    at = T0 + timedelta(hours=3)
    ask = PaymentRequested(**lifecycle("d1", CODE, at, status=DossierStatus.PAYMENT_REQUESTED), amount=500_000)
    await consume(registry, clock, submitted("d1", CODE), received("d1", CODE), wrap(ask, "d1", "workflow"))
    await push_due(pusher)
    writes, revision = len(portal.writes), registry.dossiers.rows["d1"].revision
    synced = len(registry.published(PortalSyncSucceeded.event_type))

    def paid(amount: int) -> Envelope:
        return wrap(FeePaid(dossier_id="d1", amount=amount, method="qr", online=True, paid_at=at), "d1", "intake")

    await consume(registry, clock, paid(100_000))
    assert await push_due(pusher) == 0 and len(portal.writes) == writes
    assert len(registry.published(PortalSyncSucceeded.event_type)) == synced
    row = registry.dossiers.rows["d1"]
    assert (row.revision, row.status, row.record.fees[0].paid_vnd) == (revision, SyncStatus.SYNCED, 100_000)
    await consume(registry, clock, paid(400_000))  # the rest: now the portal is told it is paid
    assert await push_due(pusher) == 1
    assert portal.dossiers[CODE]["fees"][0]["paid_at"] == "20240710113000"


async def test_a_dossier_refused_at_reception_is_pushed_again_without_the_fee_it_no_longer_owes(
    registry, portal, clock, pusher
) -> None:
    """An online dossier submitted with a 200,000 VND fee unpaid, then refused at reception: the
    portal kept showing the fee unpaid, where intake showed nothing owed (it takes no payment for a
    dossier that ended without a result) and reporting counted no obligation."""
    await consume(registry, clock, submitted("d1", CODE, fee=200_000))
    await push_due(pusher)
    assert [(f["amount_vnd"], "paid_at" in f) for f in portal.dossiers[CODE]["fees"]] == [(200_000, False)]
    refused = DossierRefused(**lifecycle("d1", CODE, T0 + timedelta(hours=1), status=DossierStatus.REFUSED),
                             reason="Không đủ điều kiện")  # fmt: skip
    await consume(registry, clock, wrap(refused, "d1", "workflow"))
    assert await push_due(pusher) == 1
    assert (portal.dossiers[CODE]["state"], portal.dossiers[CODE].get("fees", [])) == (3, [])


async def test_reconciliation_locks_a_chunk_in_dossier_id_order_as_the_consumer_does(
    registry, portal, clock, pusher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It locked each dossier on its own, in code order, while the consumer and the push recorder lock
    theirs in dossier-id order: each could hold a row the other waited for, a deadlock that cost the
    run (never recorded, started over)."""
    codes = {"d3": "CAXANPHU-240710-0001", "d2": "CAXANPHU-240710-0002", "d1": "CAXANPHU-240710-0003"}
    for dossier_id, code in codes.items():
        await consume(registry, clock, submitted(dossier_id, code))
    await push_due(pusher)
    del portal.dossiers[codes["d2"]]  # lost: repushed, saved under the locks
    locked: list[str] = []
    store = registry.dossiers
    get, get_many = store.get, store.get_many

    async def get_locking(dossier_id: str, *, for_update: bool = False) -> Any:
        locked.extend([dossier_id] if for_update else [])
        return await get(dossier_id, for_update=for_update)

    async def get_many_locking(dossier_ids: list[str], *, for_update: bool = False) -> Any:
        locked.extend(dossier_ids if for_update else [])
        return await get_many(dossier_ids, for_update=for_update)

    monkeypatch.setattr(store, "get", get_locking)
    monkeypatch.setattr(store, "get_many", get_many_locking)
    clock.advance(10)  # synced before the run, by more than the clocks may differ
    guard = pusher.guards["national_portal"]
    report = await Reconciler(registry.unit_of_work, portal, guard, pusher.guards.policy, clock).run("on_demand")
    assert locked == ["d1", "d2", "d3"]
    assert (report.local_dossiers, report.in_sync, report.missing_on_portal, report.repushed) == (3, 2, 1, 1)
    assert registry.dossiers.rows["d2"].generation == 1

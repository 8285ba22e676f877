"""Keeping the national portal in step with every dossier: consumer handlers fold intake's and
workflow's events into our copy of the dossier and queue it; a worker pushes the whole dossier
(create the first time, update afterwards) through the portal's guard and records the outcome
event in the transaction that marks the push done."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from contracts.envelope import Envelope
from contracts.events.intake import BundleSubmitted, DossierSubmitted, FeePaid, SupplementProvided
from contracts.events.registry import PortalSyncFailed, PortalSyncSucceeded
from contracts.events.workflow import DossierEvent
from eventkit.batching import GroupWriter
from eventkit.db import outlasting_outages
from eventkit.logging import get_logger
from registry_sync.adapters.portal import DocumentNames, NationalPortal, portal_body, same_on_portal
from registry_sync.domain.outcomes import CallOutcome, Rejected, Succeeded, Transient
from registry_sync.domain.portal_record import (
    PortalRecord,
    apply_bundle_step,
    apply_dossier_event,
    apply_fee_paid,
    apply_submitted,
    apply_supplement_provided,
    utc,
)
from registry_sync.domain.portal_sync import DossierSync, PortalOperation, SyncStatus
from registry_sync.service_layer.commands import PRODUCER
from registry_sync.service_layer.guard import Guards
from registry_sync.service_layer.leases import lease_kept, left_to_holder
from registry_sync.service_layer.unit_of_work import Clock, RegistryUnitOfWork, UnitOfWorkFactory

log = get_logger(__name__)
PORTAL = "national_portal"


def sync_stream(dossier_id: str) -> str:
    return f"portal-sync-{dossier_id}"


async def record_dossier_event(
    envelope: Envelope, uow: RegistryUnitOfWork, *, now: datetime, settle_seconds: float = 0.0
) -> None:
    """Consumer handler for one of intake's and workflow's dossier events (see the batch below)."""
    await record_dossier_events([envelope], uow, now=now, settle_seconds=settle_seconds)


async def record_dossier_events(
    envelopes: Sequence[Envelope], uow: RegistryUnitOfWork, *, now: datetime, settle_seconds: float = 0.0
) -> None:
    """Consumer handler for intake's and workflow's dossier events, a transaction's worth at once.

    The dossiers they touch are read (and locked, in id order) in one statement, the events folded
    in order, and each changed dossier saved once. A dossier with no push queued is pushed
    ``settle_seconds`` after its first new change rather than at once: a dossier's events come in
    bursts (submission and bundle, reception and the step it starts, approval and hand-over), and
    every change folded in during the wait rides on the same push of the whole dossier instead of
    costing one portal call (and its bookkeeping) each."""
    due = now + timedelta(seconds=settle_seconds)  # below, only when a new change is due
    folds = [fold for envelope in envelopes for fold in _folds_of(envelope)]
    if not folds:
        return
    current = await uow.dossiers.get_many(sorted({f.dossier_id for f in folds}), for_update=True)
    changed: dict[str, DossierSync] = {}
    for f in folds:
        sync = current.get(f.dossier_id)
        if f.known and (sync is None or not sync.record.submission_recorded):
            # A record workflow's events made (another topic) has no fee line yet for it to settle.
            raise DossierNotSeen(f.envelope.type, f.dossier_id)
        record = f.apply(sync.record if sync else None)
        if sync is None:
            sync = DossierSync(dossier_id=f.dossier_id, record=record, changed_at=f.at, next_attempt_at=due)
        envelope = f.envelope
        if sync.change(
            record, at=f.at, now=due, correlation_id=envelope.correlation_id, causation_id=str(envelope.event_id),
            seen_by_portal=not same_on_portal(sync.record, record),
        ):  # fmt: skip
            current[f.dossier_id] = changed[f.dossier_id] = sync
    await uow.dossiers.save_many(list(changed.values()))


class DossierNotSeen(Exception):
    """A payment or a supplement for a dossier whose submission has not been recorded: it carries no
    dossier code, so it cannot start a record. Failing, it is retried, then dead-lettered, to be
    replayed after the submission (a dead letter itself, say); dropped, the portal showed the fee
    unpaid and the documents missing for good."""

    def __init__(self, event_type: str, dossier_id: str) -> None:
        super().__init__(f"{event_type} for dossier {dossier_id}, whose submission is not recorded yet")


Fold = Callable[[PortalRecord | None], PortalRecord]


@dataclass(frozen=True)
class _DossierFold:
    """What one event changes in one dossier's record; ``known``: the event carries no dossier
    code, so it can only amend a dossier we already have."""

    envelope: Envelope
    dossier_id: str
    at: datetime
    apply: Fold
    known: bool = False


def _folds_of(envelope: Envelope) -> list[_DossierFold]:
    event = envelope.parse_payload()
    if isinstance(event, BundleSubmitted):
        at = utc(event.submitted_at)
        return [
            _DossierFold(
                envelope, step.dossier_id, at, _bundle_step(event, step.dossier_id, step.code, step.procedure_code)
            )
            for step in event.steps
        ]
    if isinstance(event, DossierSubmitted):
        submitted = event
        return [
            _DossierFold(envelope, event.dossier_id, utc(event.submitted_at), lambda r: apply_submitted(r, submitted))
        ]
    if isinstance(event, DossierEvent):
        changed = event
        return [_DossierFold(envelope, event.dossier_id, utc(event.at), lambda r: apply_dossier_event(r, changed))]
    if isinstance(event, FeePaid):
        fee = event
        return [
            _DossierFold(envelope, fee.dossier_id, utc(fee.paid_at), _amend(lambda r: apply_fee_paid(r, fee)), True)
        ]
    if isinstance(event, SupplementProvided):
        added = event
        fold = _amend(lambda r: apply_supplement_provided(r, added))
        return [_DossierFold(envelope, added.dossier_id, utc(added.provided_at), fold, True)]
    return []


def _amend(apply: Callable[[PortalRecord], PortalRecord]) -> Fold:
    def fold(record: PortalRecord | None) -> PortalRecord:
        assert record is not None, "a known-dossier fold only folds into a record it has"
        return apply(record)

    return fold


def _bundle_step(event: BundleSubmitted, dossier_id: str, code: str, procedure_code: str) -> Fold:
    return lambda record: apply_bundle_step(record, event, dossier_id, code, procedure_code)


@dataclass(frozen=True)
class _Pushed:
    """A push that has been answered (or not tried: ``outcome`` None while the breaker is open)."""

    sync: DossierSync
    operation: PortalOperation
    outcome: CallOutcome | None
    probe_in: float | None
    #: After a 412: the revision the portal holds (read back), to name in the next update.
    held_revision: int | None = None


@dataclass
class PortalPusher:
    """Pushes one claimed dossier to the portal and records what came of it.

    Pushes run concurrently (up to the portal's concurrency); their outcomes are recorded by a
    :class:`~eventkit.batching.GroupWriter`, so the pushes answered while one transaction commits
    are recorded together in the next: one transaction, the dossiers locked and saved in one
    statement each, instead of a transaction of five statements per push."""

    uow: UnitOfWorkFactory
    portal: NationalPortal
    guards: Guards
    document_names: DocumentNames
    topic: str
    clock: Clock
    #: A claim's lease, renewed while the push runs; recording waits out outages this long.
    lease_seconds: float = 15.0
    outage_seconds: float = 120.0
    rand: Callable[[], float] = field(default=random.random)
    #: Units of work for one statement (the claim): no BEGIN and COMMIT.
    one_statement: UnitOfWorkFactory | None = None
    max_batch: int = 64

    def __post_init__(self) -> None:
        self._finishing = GroupWriter(self._finish_all, name="portal-finish", max_batch=self.max_batch)

    async def stop(self) -> None:
        """End the writer of push outcomes before the engine it writes on is disposed; an outcome not
        recorded yet is pushed again once its lease runs out, as after a crash."""
        await self._finishing.stop()

    async def claim(self, limit: int) -> list[DossierSync]:
        now = self.clock()
        async with (self.one_statement or self.uow)() as uow:  # one UPDATE … RETURNING
            return await uow.dossiers.claim_due(now, limit, now + timedelta(seconds=self.lease_seconds))

    async def push(self, sync: DossierSync) -> None:
        try:
            body = portal_body(sync.record, self.document_names)
        except ValueError as exc:
            refused = Rejected(str(exc), error="incomplete")
            await self._finishing.put(_Pushed(sync, PortalOperation.CREATE, refused, None))
            return
        guard = self.guards[PORTAL]
        done_as = [sync.operation]

        held: list[int | None] = [None]

        async def attempt() -> CallOutcome:
            outcome, done_as[0], held[0] = await self._write(sync, body)
            return outcome

        async with lease_kept(lambda: self._renew(sync), every=self.lease_seconds / 3, what=sync.dossier_id):
            outcome = await guard.call(attempt)
        pushed = _Pushed(sync, done_as[0], outcome, guard.breaker.seconds_until_probe(), held[0])
        # The portal has it: a database outage now must not cost the push (see CommandExecutor).
        await outlasting_outages(
            lambda: self._finishing.put(pushed), for_seconds=self.outage_seconds, what="portal push outcome"
        )

    async def _renew(self, sync: DossierSync) -> bool:
        until = self.clock() + timedelta(seconds=self.lease_seconds)
        async with (self.one_statement or self.uow)() as uow:
            renewed = await uow.dossiers.renew([(sync.dossier_id, sync.next_attempt_at)], until)
        if sync.dossier_id in renewed:
            sync.lease(until)
        return sync.dossier_id in renewed

    async def _write(self, sync: DossierSync, body: dict[str, Any]) -> tuple[CallOutcome, PortalOperation, int | None]:
        """Create or update as we believe; the portal's 409 / 404 tells us we believed wrong.

        An update names the portal's revision after our last write (``If-Match``). An earlier push of
        ours whose answer we never got (a timeout) may still be in flight at the portal: with the
        revision named, it cannot land after this one and put the older state back, as it could
        before. A 412 says the portal holds a revision we did not write (that push landed, another
        writer came, or a push of ours that outlived its lease wrote a newer version): we read the
        revision it holds and return it with the 412, and the outcome's recording decides (see
        :meth:`_settle`). Returns the outcome, the operation and that revision."""
        operation = sync.operation
        for _ in range(3):
            key = sync.idempotency_key(operation)
            if operation is PortalOperation.CREATE:
                outcome = await self.portal.create(body, idempotency_key=key, correlation_id=sync.correlation_id)
                if isinstance(outcome, Rejected) and outcome.error == "dossier_exists":
                    operation = PortalOperation.UPDATE
                    continue
            else:
                outcome = await self.portal.update(
                    sync.code, body, idempotency_key=key, correlation_id=sync.correlation_id,
                    if_match=sync.portal_revision,
                )  # fmt: skip
                if isinstance(outcome, Rejected) and outcome.status == 404:
                    operation = PortalOperation.CREATE
                    continue
                if _revision_mismatch(outcome):
                    held = await self.portal.revision(sync.code)
                    revision = held.body.get("revision") if isinstance(held, Succeeded) else None
                    if isinstance(held, Transient):
                        return held, operation, None
                    return outcome, operation, revision if isinstance(revision, int) else None
            return outcome, operation, None
        return outcome, operation, None

    async def _finish_all(self, pushes: list[_Pushed]) -> None:
        """Record the outcomes of ``pushes`` in one transaction (a dossier may appear twice: a push
        that outlived its lease and the one after it; they are applied in the order answered)."""
        now = self.clock()
        finished: list[tuple[DossierSync, PortalSyncSucceeded | PortalSyncFailed]] = []
        async with self.uow() as uow:
            current = await uow.dossiers.get_many(sorted({p.sync.dossier_id for p in pushes}), for_update=True)
            changed: dict[str, DossierSync] = {}
            for pushed in pushes:
                sync = current.get(pushed.sync.dossier_id)
                if sync is None or sync.status is not SyncStatus.PENDING:
                    continue
                event = self._settle(sync, pushed, now)
                changed[sync.dossier_id] = sync
                if event is not None:
                    finished.append((sync, event))
            await uow.dossiers.save_many(list(changed.values()))
            versions = await uow.events.versions([sync_stream(sync.dossier_id) for sync, _ in finished])
            for sync, event in finished:
                envelope = Envelope.wrap(
                    event,
                    key=sync.dossier_id,
                    producer=PRODUCER,
                    correlation_id=sync.correlation_id,
                    causation_id=sync.causation_id,
                )
                stream = sync_stream(sync.dossier_id)
                versions[stream] = await uow.record(stream, versions[stream], [envelope], self.topic)
        for sync, event in finished:
            log.info(
                "portal sync finished",
                dossier_id=sync.dossier_id,
                correlation_id=sync.correlation_id,
                outcome=event.event_type,
                status=sync.status.value,
            )

    def _settle(
        self, current: DossierSync, pushed: _Pushed, now: datetime
    ) -> PortalSyncSucceeded | PortalSyncFailed | None:
        """Fold one push's outcome into the dossier's sync state; the event to record, if any."""
        sent, outcome = pushed.sync, pushed.outcome
        if left_to_holder(current.next_attempt_at, sent.next_attempt_at, outcome):
            return None
        if outcome is None:
            current.postpone(now + timedelta(seconds=max(pushed.probe_in or 0.0, 0.05)))
            return None
        current.attempted(now)
        attempts = current.attempts
        if isinstance(outcome, Succeeded):
            revision = outcome.body.get("revision")
            # Revisions count from 1 (the event says so): another answer is no revision we can name in
            # If-Match. Taken as it was, it failed the success event, nothing was recorded, and the
            # dossier was pushed again every lease, for ever.
            valid = isinstance(revision, int) and not isinstance(revision, bool) and 1 <= revision < 2**63
            portal_revision = revision if valid else None
            lag = current.pushed(sent, portal_revision, now)
            return PortalSyncSucceeded(
                dossier_id=current.dossier_id,
                code=sent.code,
                status_code=_state(sent),
                operation=pushed.operation.value,
                lag_seconds=lag,
                synced_at=now,
                portal_revision=portal_revision,
                repush=sent.generation > 0,
            )
        if isinstance(outcome, Rejected) and _revision_mismatch(outcome):
            # The portal holds a revision we did not write. If a newer version of ours is waiting (or
            # was written by a push that outlived its lease), it goes next, naming what the portal
            # holds now. Else ours is the newest state we have: write it over that revision at once.
            learned = pushed.held_revision is not None and pushed.held_revision != sent.portal_revision
            if current.revision != sent.revision or learned:
                if current.revision == sent.revision:
                    current.portal_revision = pushed.held_revision
                current.postpone(now)
                return None
            # ... unless the portal would not tell it (the read-back refused, no revision in it, or the
            # very one we named: a lagging replica, another precondition): asking again at once names
            # the same revision, a loop against the portal. Backed off like an outage, given up in time.
            outcome = Transient(f"{outcome.reason}; the portal's revision could not be read back", outcome.status)
        if isinstance(outcome, Rejected) and current.revision != sent.revision:
            current.postpone(now)  # a newer version is waiting; it may be what the portal wants
            return None
        if isinstance(outcome, Rejected):
            current.reject(outcome.reason, now, http_status=outcome.status)
            return self._failed(current, sent, now, attempts, outcome.status)
        if isinstance(outcome, Transient) and current.retry_later(outcome, self.guards.policy, now, self.rand):
            return self._failed(current, sent, now, attempts, outcome.status)
        return None

    @staticmethod
    def _failed(
        current: DossierSync, pushed: DossierSync, now: datetime, attempts: int, http_status: int | None
    ) -> PortalSyncFailed:
        return PortalSyncFailed(
            dossier_id=current.dossier_id,
            code=pushed.code,
            status_code=_state(pushed),
            reason=current.last_error or "failed",
            failed_at=now,
            attempts=attempts,
            http_status=http_status,
        )


def _state(sync: DossierSync) -> int:
    assert sync.record.state is not None  # only ready dossiers are pushed
    return sync.record.state


def _revision_mismatch(outcome: CallOutcome | None) -> bool:
    return isinstance(outcome, Rejected) and outcome.status == 412

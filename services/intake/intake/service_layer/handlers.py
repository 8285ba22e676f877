"""Command handlers: submissions and citizen actions, each one transaction (events, outbox, view,
sequence and idempotency key committed together or not at all). A submission is one statement that
also takes its codes (see pending_codes)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contracts.envelope import Envelope, EventPayload
from contracts.events.intake import DossierSubmitted
from eventkit.eventstore import ConcurrencyConflict, retrying_conflicts
from eventkit.logging import get_logger
from intake.domain.actions import decide
from intake.domain.codes import receipt_day
from intake.domain.commands import CitizenAction, ProvideSupplement, RequestWithdrawal, SubmitBundle, SubmitDossier
from intake.domain.errors import DossierNotFound, IdempotencyKeyReused, RetryableConflict, applicant_key
from intake.domain.problems import InvalidInput
from intake.domain.receipts import ActionReceipt, BundleReceipt, DossierReceipt
from intake.domain.rules import IntakeRules
from intake.domain.submission import PlannedDossier, bundle_event, plan_bundle, plan_dossier, submitted_event
from intake.domain.tracking import own_change, submitted_entry
from intake.service_layer.pending_codes import PendingCodes
from intake.service_layer.ports import IntakeUnitOfWork, NewBundle, NewDossier, NewSubmission, StoredReply

log = get_logger(__name__)

PRODUCER = "intake"
#: Attempts of one request when a concurrent writer got in the way (deadlock, optimistic conflict).
MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class IntakeContext:
    """What handlers need, built once by bootstrap."""

    rules: IntakeRules
    topic: str
    clock: Callable[[], datetime]
    uow: Callable[[], IntakeUnitOfWork]


@dataclass(frozen=True)
class IdempotencyKey:
    """The client's key and a digest of the request it came with."""

    key: str
    request_hash: str


@dataclass(frozen=True)
class Reply:
    status_code: int
    body: dict[str, Any]
    replayed: bool = False


Work = Callable[[IntakeUnitOfWork], Awaitable[dict[str, Any]]]


def _replay(stored: StoredReply, key: IdempotencyKey) -> Reply:
    if stored.request_hash != key.request_hash:
        raise IdempotencyKeyReused("this Idempotency-Key was used for a different request")
    return Reply(stored.status_code, stored.body, replayed=True)


async def _retrying(attempt: Callable[[], Awaitable[Reply]]) -> Reply:
    """Run the request again when a concurrent writer got in the way (deadlock, optimistic conflict)."""
    try:
        return await retrying_conflicts(
            attempt, attempts=MAX_ATTEMPTS, conflicts=(RetryableConflict, ConcurrencyConflict), what="intake request"
        )
    except ConcurrencyConflict as exc:
        raise RetryableConflict(str(exc)) from exc


async def _in_transaction(ctx: IntakeContext, key: IdempotencyKey | None, status_code: int, work: Work) -> Reply:
    """Run ``work`` in one transaction, answering a retried Idempotency-Key with the stored reply."""

    async def attempt() -> Reply:
        async with ctx.uow() as uow:
            if key is not None:
                stored = await uow.dossiers.claim_key(key.key, key.request_hash)
                if stored is not None:
                    return _replay(stored, key)
            body = await work(uow)
            if key is not None:
                await uow.dossiers.store_reply(key.key, status_code, body)
            return Reply(status_code, body)

    return await _retrying(attempt)


async def _stored_or_raise(ctx: IntakeContext, key: IdempotencyKey | None, error: InvalidInput) -> Reply:
    """The reply stored under ``key``, for a submission found invalid: a retry of one accepted
    before (a birthday at midnight, a catalogue edition since) gets its receipt, not a 422 for a
    dossier that exists. Else ``error``; the key taken to look is given back."""
    if key is None:
        raise error
    async with ctx.uow() as uow:
        stored = await uow.dossiers.claim_key(key.key, key.request_hash)
        if stored is None:
            raise error  # leaving the unit of work unfinished: the claim is rolled back
    return _replay(stored, key)


async def _submit(ctx: IntakeContext, submission: NewSubmission, key: IdempotencyKey | None) -> tuple[Reply, list[str]]:
    """Write a submission (one statement, see pending_codes); the reply, and the codes taken (none for a replay)."""
    taken: list[str] = []

    async def attempt() -> Reply:
        outcome = await ctx.uow().submit(submission)  # not entered: the statement is its own transaction
        if isinstance(outcome, StoredReply):
            assert key is not None
            return _replay(outcome, key)
        taken[:] = outcome
        return Reply(submission.status_code, submission.codes.fill_json(submission.reply, outcome))

    return await _retrying(attempt), taken


def _row(plan: PlannedDossier, event: DossierSubmitted, position: int | None = None) -> NewDossier:
    return NewDossier(
        dossier_id=plan.dossier_id,
        code=event.code,
        procedure_code=plan.procedure.code,
        channel=event.channel,
        receiving_agency=event.receiving_agency,
        competent_agency=plan.competent_agency,
        status=plan.status.value,
        status_code=plan.status.code,
        subject_key=plan.subject_key,
        submitted_at=event.submitted_at,
        received_at=plan.received_at,
        due_at=plan.due_at,
        fee=plan.procedure.fee,
        timeline=[submitted_entry(event).as_dict()],
        bundle_id=event.bundle_id,
        bundle_step=plan.step_id,
        bundle_position=position,
        delivery=event.delivery.method,
        applicant_key=applicant_key(event.applicant.id_number, event.applicant.phone),
    )


def _receipt(plan: PlannedDossier, code: str, now: datetime, delivery: str) -> DossierReceipt:
    return DossierReceipt(
        dossier_id=plan.dossier_id,
        code=code,
        procedure_code=plan.procedure.code,
        status=plan.status.value,
        status_code=plan.status.code,
        competent_agency=plan.competent_agency,
        submitted_at=now,
        received_at=plan.received_at,
        due_at=plan.due_at,
        step_id=plan.step_id,
        result_delivery=delivery,
    )


def _wrap(ctx: IntakeContext, payload: EventPayload, key: str, correlation_id: str | None, now: datetime) -> Envelope:
    return Envelope.wrap(payload, key=key, producer=PRODUCER, correlation_id=correlation_id, occurred_at=now)


def _submission(
    cmd: SubmitDossier | SubmitBundle,
    ctx: IntakeContext,
    now: datetime,
    codes: PendingCodes,
    key: IdempotencyKey | None,
    **writes: Any,
) -> NewSubmission:
    return NewSubmission(
        agency=cmd.receiving_agency,
        day=receipt_day(now),
        codes=codes,
        topic=ctx.topic,
        status_code=201,
        idempotency_key=key.key if key else None,
        request_hash=key.request_hash if key else None,
        **writes,
    )


async def submit_dossier(
    cmd: SubmitDossier, ctx: IntakeContext, key: IdempotencyKey | None = None, correlation_id: str | None = None
) -> Reply:
    """Validate, record DossierSubmitted with the next code of the receiving agency's day."""
    now = ctx.clock()
    try:
        plan = plan_dossier(cmd, ctx.rules, now)  # invalid input costs no database round-trip, unless keyed
    except InvalidInput as error:
        return await _stored_or_raise(ctx, key, error)
    codes = PendingCodes(1)
    event = submitted_event(
        plan, codes.placeholder(0), channel=cmd.channel, receiving_agency=cmd.receiving_agency,
        applicant=cmd.applicant, catalogue_version=ctx.rules.catalogue.version, submitted_at=now,
        delivery=cmd.delivery,
    )
    submission = _submission(
        cmd, ctx, now, codes, key,
        dossiers=[_row(plan, event)],
        bundle=None,
        envelopes=[_wrap(ctx, event, plan.dossier_id, correlation_id, now)],
        reply=_receipt(plan, event.code, now, cmd.delivery.method).as_dict(),
    )
    reply, taken = await _submit(ctx, submission, key)
    if taken:
        log.info("dossier submitted", dossier_id=plan.dossier_id, code=taken[0], procedure=plan.procedure.code)
    return reply


async def submit_bundle(
    cmd: SubmitBundle, ctx: IntakeContext, key: IdempotencyKey | None = None, correlation_id: str | None = None
) -> Reply:
    """One dossier per applicable step (consecutive codes of the receiving agency), then BundleSubmitted."""
    now = ctx.clock()
    try:
        plan = plan_bundle(cmd, ctx.rules, now)
    except InvalidInput as error:
        return await _stored_or_raise(ctx, key, error)
    correlation_id = correlation_id or plan.bundle_id
    codes = PendingCodes(len(plan.dossiers))
    placeholders = codes.placeholders
    events = [
        submitted_event(
            dossier, code, channel=cmd.channel, receiving_agency=cmd.receiving_agency, applicant=cmd.applicant,
            catalogue_version=ctx.rules.catalogue.version, submitted_at=now, bundle_id=plan.bundle_id,
            delivery=cmd.delivery,
        )
        for dossier, code in zip(plan.dossiers, placeholders, strict=True)
    ]
    pairs = list(zip(plan.dossiers, events, strict=True))
    bundle = bundle_event(plan, placeholders, cmd, catalogue_version=ctx.rules.catalogue.version, submitted_at=now)
    receipts = [_receipt(d, c, now, cmd.delivery.method) for d, c in zip(plan.dossiers, placeholders, strict=True)]
    submission = _submission(
        cmd, ctx, now, codes, key,
        dossiers=[_row(dossier, event, i) for i, (dossier, event) in enumerate(pairs)],
        bundle=NewBundle(
            plan.bundle_id, plan.definition.bundle_type, cmd.channel, cmd.receiving_agency, now, plan.due_at
        ),
        envelopes=[
            *(_wrap(ctx, event, dossier.dossier_id, correlation_id, now) for dossier, event in pairs),
            _wrap(ctx, bundle, plan.bundle_id, correlation_id, now),
        ],
        reply=BundleReceipt(plan.bundle_id, bundle.bundle_type, now, plan.due_at, receipts).as_dict(),
    )
    reply, taken = await _submit(ctx, submission, key)
    if taken:
        log.info("bundle submitted", bundle_id=plan.bundle_id, bundle_type=bundle.bundle_type, codes=taken)
    return reply


async def act(
    action: CitizenAction, ctx: IntakeContext, key: IdempotencyKey | None = None, correlation_id: str | None = None
) -> Reply:
    """Append the citizen action's event to the dossier's stream and show it on the timeline.

    Supplements and withdrawals are requests the workflow still has to act on (202); payments and
    ratings are facts recorded as they are (201)."""
    now = ctx.clock()

    async def work(uow: IntakeUnitOfWork) -> dict[str, Any]:
        state = await uow.dossiers.state(action.dossier_ref)
        if state is None:
            raise DossierNotFound(f"no dossier {action.dossier_ref!r}")
        event = decide(action, state, now, ctx.rules.catalogue)
        stream = await uow.events.load(state.dossier_id)
        envelope = _wrap(ctx, event, state.dossier_id, correlation_id, now)
        await uow.record(state.dossier_id, stream.version, [envelope], ctx.topic)
        change = own_change(event)
        if change is not None:
            await uow.dossiers.apply(change)
        log.info("citizen action recorded", dossier_id=state.dossier_id, event_type=event.event_type)
        return ActionReceipt(str(envelope.event_id), event.event_type, state.dossier_id, state.code, now).as_dict()

    status_code = 202 if isinstance(action, ProvideSupplement | RequestWithdrawal) else 201
    return await _in_transaction(ctx, key, status_code, work)

"""Kafka handlers: turn intake's and registry-sync's events into commands.

An event the lifecycle cannot take (a supplement for a dossier no longer waiting for one, a reply for a
command that was already answered) is logged and has no effect; its savepoint is rolled back so nothing
half-done commits, and the inbox still records it so it is not retried for ever.

An event for a dossier workflow never opened is not one of those: the dossier's own submission comes
first on its partition, so it can only be missing because it was dead-lettered (a version this build
cannot read). The event fails like any other and is dead-lettered behind it, to be replayed after it:
recorded as having no effect, a citizen's payment, withdrawal or supplement was lost for good.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from contracts.envelope import Envelope
from contracts.events import intake, registry
from contracts.events.common import DossierStatus
from eventkit.consumer import Dispatcher, Handler
from eventkit.logging import get_logger
from eventkit.uow import SqlUnitOfWork
from workflow.adapters.sql import SqlWorkflowUnitOfWork
from workflow.domain.commands import (
    CompleteRegistryCommand,
    ConfirmPayment,
    FailRegistryCommand,
    OpenDossier,
    ProvideSupplement,
    StartBundle,
    WithdrawDossier,
)
from workflow.domain.errors import DomainError, DossierNotFound
from workflow.domain.internal_events import DossierOpened
from workflow.domain.saga import BundleSaga, StepRef
from workflow.service_layer import handlers, sagas
from workflow.service_layer.context import Cause, WorkflowContext
from workflow.service_layer.ports import WorkflowUnitOfWork

log = get_logger(__name__)

Work = Callable[[Envelope, WorkflowUnitOfWork, WorkflowContext, Cause], Awaitable[None]]


# One savepoint name for every event. SQLAlchemy's ``begin_nested`` numbers its savepoints per connection
# (sa_savepoint_1, _2, … one per event of a batch), and the asyncpg dialect prepares every distinct SQL
# string: a batch of n events prepared 2n new statements, which also pushed the handlers' own statements
# out of the per-connection cache (100 entries) so they were prepared again. Reusing one name is legal:
# each savepoint is released (or rolled back to and released) before the next event's is taken.
_SAVEPOINT = "SAVEPOINT workflow_event"
_RELEASE = "RELEASE SAVEPOINT workflow_event"
_ROLLBACK = "ROLLBACK TO SAVEPOINT workflow_event"


def _tolerant(work: Work, ctx: WorkflowContext) -> Handler:
    async def handle(envelope: Envelope, uow: SqlUnitOfWork) -> None:
        conn = uow.conn
        await conn.exec_driver_sql(_SAVEPOINT)
        try:
            await work(envelope, SqlWorkflowUnitOfWork.joined(uow), ctx, Cause.of(envelope))
        except DossierNotFound:
            raise
        except DomainError as exc:
            await conn.exec_driver_sql(_ROLLBACK)
            await conn.exec_driver_sql(_RELEASE)
            log.warning(
                "event has no effect",
                event_type=envelope.type,
                dossier_id=envelope.key,
                reason=str(exc),
                correlation_id=envelope.correlation_id,
            )
        else:
            await conn.exec_driver_sql(_RELEASE)

    return handle


async def on_dossier_submitted(envelope: Envelope, uow: WorkflowUnitOfWork, ctx: WorkflowContext, cause: Cause) -> None:
    e = envelope.parse_payload()
    assert isinstance(e, intake.DossierSubmitted)
    opened = DossierOpened(
        dossier_id=e.dossier_id,
        code=e.code,
        procedure_code=e.procedure_code,
        channel=e.channel,
        receiving_agency=e.receiving_agency,
        competent_agency=ctx.rules.route(e.procedure_code, e.receiving_agency, e.form, e.competent_agency),
        fee=e.fee,
        form=e.form,
        submitted_at=e.submitted_at,
        due_at=e.due_at,
        bundle_id=e.bundle_id,
        bundle_step=e.bundle_step,
        applicant_id_number=e.applicant.id_number,
        documents=e.documents,
        delivery=e.delivery,
    )
    received_at = None if e.status is DossierStatus.REGISTERED else (e.received_at or e.submitted_at)
    await handlers.open_dossier(OpenDossier(opened, received_at), uow, ctx, cause)


async def on_bundle_submitted(envelope: Envelope, uow: WorkflowUnitOfWork, ctx: WorkflowContext, cause: Cause) -> None:
    e = envelope.parse_payload()
    assert isinstance(e, intake.BundleSubmitted)
    saga = BundleSaga(
        bundle_id=e.bundle_id,
        bundle_type=e.bundle_type,
        channel=e.channel,
        receiving_agency=e.receiving_agency,
        form=e.form,
        steps=[StepRef(**s.model_dump()) for s in e.steps],
        submitted_at=e.submitted_at,
        correlation_id=envelope.correlation_id,
        applicant_id_number=e.applicant.id_number,
        delivery=e.delivery,
    )
    await sagas.start_bundle(StartBundle(saga), uow, ctx, cause)


async def on_supplement(envelope: Envelope, uow: WorkflowUnitOfWork, ctx: WorkflowContext, cause: Cause) -> None:
    e = envelope.parse_payload()
    assert isinstance(e, intake.SupplementProvided)
    await handlers.provide_supplement(ProvideSupplement(e.dossier_id, tuple(e.documents)), uow, ctx, cause)


async def on_fee_paid(envelope: Envelope, uow: WorkflowUnitOfWork, ctx: WorkflowContext, cause: Cause) -> None:
    e = envelope.parse_payload()
    assert isinstance(e, intake.FeePaid)
    await handlers.confirm_payment(ConfirmPayment(e.dossier_id, e.amount, e.online), uow, ctx, cause)


async def on_withdrawal(envelope: Envelope, uow: WorkflowUnitOfWork, ctx: WorkflowContext, cause: Cause) -> None:
    e = envelope.parse_payload()
    assert isinstance(e, intake.WithdrawalRequested)
    await handlers.withdraw(WithdrawDossier(e.dossier_id, e.reason), uow, ctx, cause)


async def on_registry_succeeded(
    envelope: Envelope, uow: WorkflowUnitOfWork, ctx: WorkflowContext, cause: Cause
) -> None:
    e = envelope.parse_payload()
    assert isinstance(e, registry.RegistryCommandSucceeded)
    await handlers.complete_registry_command(
        CompleteRegistryCommand(e.dossier_id, e.command_id, e.result), uow, ctx, cause
    )


async def on_registry_failed(envelope: Envelope, uow: WorkflowUnitOfWork, ctx: WorkflowContext, cause: Cause) -> None:
    e = envelope.parse_payload()
    assert isinstance(e, registry.RegistryCommandFailed)
    await handlers.fail_registry_command(FailRegistryCommand(e.dossier_id, e.command_id, e.reason_vi), uow, ctx, cause)


class BundlesFirst(Dispatcher):
    """Takes the bundles of a transaction's events first, in id order. Each event locks its bundle
    when it comes to it; two consumers' transactions (intake's and the registries' events) that
    came to the same two bundles in opposite orders deadlocked, and PostgreSQL broke the tie after
    a second's wait by failing one of them (seen in every benchmark run).

    Most events name their bundle; a citizen's (a fee, a supplement, a withdrawal) names only its
    dossier, whose bundle is looked up when the transaction holds more than that one event."""

    async def prepare(self, envelopes: Sequence[Envelope], uow: SqlUnitOfWork) -> None:
        if len(envelopes) < 2:
            return  # one event locks at most one bundle
        named = {str(e.payload["bundle_id"]) for e in envelopes if e.payload.get("bundle_id")}
        # Events with no bundle_id field at all (a standalone dossier's have one, null).
        unnamed = {str(e.payload["dossier_id"]) for e in envelopes
                   if "bundle_id" not in e.payload and e.payload.get("dossier_id")}  # fmt: skip
        bundles = SqlWorkflowUnitOfWork.joined(uow).bundles
        if unnamed:
            named |= await bundles.of_dossiers(sorted(unnamed))
        if len(named) > 1:
            await bundles.lock_in_order(sorted(named))


def intake_dispatcher(ctx: WorkflowContext) -> Dispatcher:
    return BundlesFirst(
        {
            "DossierSubmitted": _tolerant(on_dossier_submitted, ctx),
            "BundleSubmitted": _tolerant(on_bundle_submitted, ctx),
            "SupplementProvided": _tolerant(on_supplement, ctx),
            "FeePaid": _tolerant(on_fee_paid, ctx),
            "WithdrawalRequested": _tolerant(on_withdrawal, ctx),
        }
    )


def registry_dispatcher(ctx: WorkflowContext) -> Dispatcher:
    return BundlesFirst(
        {
            "RegistryCommandSucceeded": _tolerant(on_registry_succeeded, ctx),
            "RegistryCommandFailed": _tolerant(on_registry_failed, ctx),
        }
    )

"""Command handlers: load the dossier (and lock its bundle first, so concurrent saga work on one
bundle never deadlocks), decide through the domain, save, then let the saga react."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from contracts.events import workflow as wf
from contracts.events.common import DossierStatus
from eventkit.auth import Forbidden
from eventkit.eventstore import retrying_conflicts
from eventkit.logging import get_logger
from workflow.domain import policies, results
from workflow.domain.commands import (
    CompleteRegistryCommand,
    ConfirmPayment,
    FailRegistryCommand,
    MakeDecision,
    OpenDossier,
    ProvideSupplement,
    WithdrawDossier,
)
from workflow.domain.dossier import Dossier
from workflow.domain.errors import IllegalTransition, InvalidDecision, StaleDecision
from workflow.domain.lifecycle import FINISHED, TERMINAL
from workflow.domain.state import DossierState
from workflow.service_layer import sagas
from workflow.service_layer.context import Cause, WorkflowContext
from workflow.service_layer.dossiers import load, load_existing, save
from workflow.service_layer.ports import UnitOfWorkFactory, WorkflowUnitOfWork

log = get_logger(__name__)

Change = Callable[[Dossier], None]


async def change(
    uow: WorkflowUnitOfWork, ctx: WorkflowContext, cause: Cause, dossier_id: str, decide: Change
) -> DossierState:
    """The one path every change of an existing dossier takes."""
    state = await load_existing(uow, dossier_id)
    saga = await uow.bundles.lock(state.bundle_id) if state.bundle_id else None
    dossier = Dossier(state, ctx.now())
    decide(dossier)
    decided = list(dossier.pending)
    await save(uow, dossier, ctx, cause)
    if saga is not None and decided:
        await sagas.after_step_change(saga, dossier.state, decided, uow, ctx, cause)
    return dossier.state


async def open_dossier(command: OpenDossier, uow: WorkflowUnitOfWork, ctx: WorkflowContext, cause: Cause) -> None:
    """Take charge of a submitted dossier; a redelivered or already opened one is left alone."""
    opened = command.opened
    saga = await uow.bundles.lock(opened.bundle_id) if opened.bundle_id else None
    state = await load(uow, opened.dossier_id)
    if state.exists:
        log.info("dossier already opened", dossier_id=opened.dossier_id)
        return
    dossier = Dossier(state, ctx.now())
    policies.take_charge(dossier, command, ctx.rules)
    await save(uow, dossier, ctx, cause)
    if saga is not None:
        await sagas.after_dossier_opened(saga, dossier.state, uow, ctx, cause)


#: Transactions an official's decision gets (see make_decision).
DECISION_ATTEMPTS = 3


async def make_decision(
    command: MakeDecision, uow_factory: UnitOfWorkFactory, ctx: WorkflowContext, cause: Cause
) -> DossierState:
    """An official's decision, in a transaction of its own; DossierNotFound, IllegalTransition,
    InvalidDecision, Forbidden when the dossier is not in the hands of an agency the official acts
    for, or ConcurrencyConflict when the dossier kept changing under it.

    The decision names no version of the dossier: another writer appending between its read and its
    append (a fee paid, a registry's answer) means it is decided again on the newer state, as it
    would have been had it come a moment later. The domain checks it against that state again.

    An approval that issues a personal identification number, or numbers a paper the official did
    not number, records each as issued in the same transaction. A number another child or paper
    already holds (the random part of an identification number is six digits: a province issuing
    thousands a year draws the same one now and then) is drawn again, as the next of the dossier's
    candidates; an identification number the official stated is a 422 instead."""
    draw = 0
    issued: list[str] = []
    seen: list[DossierStatus | None] = [None]  # the status the decision met, to name in a refusal

    def decide(dossier: Dossier) -> None:
        state = dossier.state
        seen[0] = state.status
        if command.acting_for is not None:
            holder = policies.responsible_agency(state)
            if holder not in command.acting_for:
                decided = state.status in TERMINAL or (
                    state.status is DossierStatus.PROCESSED and command.decision != "return_result"
                )
                if decided and command.acting_for & {state.competent_agency, state.agency}:
                    # The agency that decided it, deciding again (an approval retried after it was
                    # recorded, and the result went to the counter): told the dossier is done (409),
                    # not that it is in another agency's hands.
                    raise IllegalTransition(command.decision, state.status, "the dossier has been decided")
                if command.decision in _COUNTER_DECISIONS and state.receiving_agency in command.acting_for:
                    # The counter's own step, retried after the dossier moved past it (an acceptance
                    # clicked twice, a hand-over recorded already): the lifecycle's answer (409), not
                    # a refusal of the counter that received the dossier.
                    raise IllegalTransition(command.decision, state.status)
                raise Forbidden(
                    f"official {command.official_id} does not act for {holder}, which holds this dossier now"
                )
        if command.expected_version is not None and state.version != command.expected_version:
            raise StaleDecision(command.expected_version)
        policies.decide(dossier, replace(command, number_draw=draw), ctx.rules)
        issued[:] = [
            issued_key(name, str(value))
            for e in dossier.pending
            if isinstance(e, wf.ResultIssued)
            for name, value in e.data.items()
            if name == ID_NUMBER or (results.numbered(name) and name not in command.result)
        ]

    async def attempt() -> DossierState:
        nonlocal draw
        while True:
            try:
                async with uow_factory() as uow:
                    state = await change(uow, ctx, cause, command.dossier_id, decide)
                    for number in issued:
                        if not await uow.id_numbers.claim(str(number), command.dossier_id):
                            raise _NumberTaken(str(number))
                    return state
            except _NumberTaken as taken:
                if ID_NUMBER in command.result and str(taken) == command.result[ID_NUMBER]:
                    raise InvalidDecision(f"result.{ID_NUMBER}", f"{taken} is another person's number") from None
                if draw >= MAX_NUMBER_DRAWS:  # a province, sex and birth year with nearly every number taken
                    raise IllegalTransition(
                        command.decision, seen[0], f"no free identification number after {draw + 1} draws"
                    ) from None
                log.info("identification number already issued: drawing another", dossier_id=command.dossier_id)
                draw += 1

    return await retrying_conflicts(attempt, attempts=DECISION_ATTEMPTS, what=f"decision on {command.dossier_id}")


#: Decisions the receiving counter makes: taking an online dossier in, handing the result over.
_COUNTER_DECISIONS = frozenset({"accept", "return_result"})

#: The result field holding a personal identification number workflow issues.
ID_NUMBER = "personal_id_number"
#: Draws before an approval gives up on finding a free number: each is taken with a chance of about
#: (numbers issued for that province, sex and birth year) in a million.
MAX_NUMBER_DRAWS = 20


def issued_key(name: str, number: str) -> str:
    """How an issued number is kept: an identification number as it is (one person's, whatever paper
    carries it), a paper's number with its field (two kinds of paper may share a number)."""
    return number if name == ID_NUMBER else f"{name}:{number}"


class _NumberTaken(Exception):
    """The identification number an approval drew is another dossier's (rolls the attempt back)."""


async def provide_supplement(
    command: ProvideSupplement, uow: WorkflowUnitOfWork, ctx: WorkflowContext, cause: Cause
) -> None:
    await change(uow, ctx, cause, command.dossier_id, lambda d: d.take_documents(ctx.rules.calendar, command.documents))


async def confirm_payment(command: ConfirmPayment, uow: WorkflowUnitOfWork, ctx: WorkflowContext, cause: Cause) -> None:
    def pay(dossier: Dossier) -> None:
        if dossier.confirm_payment(command.amount, command.online):  # the citizen paid as the dossier ended
            log.warning("payment for a dossier that ended without a result: a refund is due",
                        dossier_id=command.dossier_id, status=dossier.state.status, amount=command.amount)  # fmt: skip

    await change(uow, ctx, cause, command.dossier_id, pay)


async def withdraw(command: WithdrawDossier, uow: WorkflowUnitOfWork, ctx: WorkflowContext, cause: Cause) -> None:
    await change(uow, ctx, cause, command.dossier_id, lambda d: d.answer_withdrawal(command.reason))


async def complete_registry_command(
    command: CompleteRegistryCommand, uow: WorkflowUnitOfWork, ctx: WorkflowContext, cause: Cause
) -> None:
    """The registry did the step: its result is the dossier's result. A reply to a command the dossier no
    longer waits for (a duplicate, or one that crossed a withdrawal) changes nothing."""

    def issue(dossier: Dossier) -> None:
        state = dossier.state
        if not _awaits(state, command.command_id):
            return
        procedure = ctx.rules.procedure(state.procedure_code)
        name = procedure.result.document_name_vi if procedure else "Kết quả giải quyết"
        code = results.result_code(state.code, len(state.results) + 1)
        dossier.issue_result(name, dict(command.result), code, official_id=None)

    await change(uow, ctx, cause, command.dossier_id, issue)


async def fail_registry_command(
    command: FailRegistryCommand, uow: WorkflowUnitOfWork, ctx: WorkflowContext, cause: Cause
) -> None:
    """The registry could not do it: processing stops with its reason (and the bundle ends partially)."""

    def stop(dossier: Dossier) -> None:
        if _awaits(dossier.state, command.command_id):
            dossier.stop(f"hệ thống quốc gia không thực hiện được: {command.reason}")

    await change(uow, ctx, cause, command.dossier_id, stop)


def _awaits(state: DossierState, command_id: str) -> bool:
    if state.pending_command_id == command_id and state.status not in FINISHED:
        return True
    log.info("registry reply without a waiting command", dossier_id=state.dossier_id, command_id=command_id)
    return False


__all__ = ["IllegalTransition", "change"]

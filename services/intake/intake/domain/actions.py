"""Citizen actions on a submitted dossier: whether each is allowed now, and the event it appends."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contracts import obligation
from contracts.catalogue import Catalogue
from contracts.events.common import DossierStatus
from contracts.events.intake import (
    FeePaid,
    IntakeEvent,
    SatisfactionRated,
    SupplementProvided,
    WithdrawalRequested,
)
from intake.domain.commands import CitizenAction, PayFee, ProvideSupplement, RateSatisfaction, RequestWithdrawal
from intake.domain.errors import ActionNotAllowed
from intake.domain.problems import FieldProblem, InvalidInput
from intake.domain.submission import listed_document_problems
from intake.domain.tracking import ENDED

#: No money is taken for a dossier that ended without a result: refused, stopped or withdrawn.
_NOT_PAYABLE = frozenset({DossierStatus.REFUSED, DossierStatus.STOPPED, DossierStatus.WITHDRAWAL_REQUESTED})

#: Statuses only a dossier an agency took into processing reaches: a bundle's step in one was handled,
#: whichever came first of its own events and its bundle's (on another partition).
PAST_RECEPTION = frozenset(
    {
        DossierStatus.PROCESSING,
        DossierStatus.SUPPLEMENT_REQUESTED,
        DossierStatus.PAYMENT_REQUESTED,
        DossierStatus.PROCESSED,
        DossierStatus.RETURNED,
    }
)


def taken_on(row: Mapping[str, Any]) -> bool:
    """An agency has the dossier (a row of intake's dossiers): received it, at the counter or by an
    official's acceptance, and, a bundle's step, its bundle started it or it went on past reception (its
    own events and its bundle's travel on different partitions: either may come first). As
    PostgresDossiers.state's SQL decides it."""
    started = row["bundle_id"] is None or row["step_started_at"] is not None or row["status"] in PAST_RECEPTION
    return row["received_at"] is not None and started


@dataclass(frozen=True)
class DossierState:
    """What the citizen-view knows about a dossier that the action rules need."""

    dossier_id: str
    code: str
    procedure_code: str
    status: DossierStatus
    awaiting_supplement: bool
    rated: bool
    withdrawal_requested: bool
    fee: int = 0
    paid: int = 0
    #: What workflow's payment requests asked for; None for a dossier from before intake counted them.
    requested: int | None = 0
    #: An agency handled it: received it (at the counter, or an official accepted it online; a bundle's
    #: step once its bundle started it), or an official refused it at reception (not workflow, ending a
    #: failed bundle's waiting steps).
    handled: bool = True
    #: The document kinds the pending supplement request names (form 02); empty if none is known.
    requested_documents: tuple[str, ...] = ()

    @property
    def owed(self) -> int | None:
        return amount_owed(self.fee, self.requested, self.paid)


def amount_owed(fee: int, requested: int | None, paid: int) -> int | None:
    """What the citizen still owes (`contracts.obligation.amount_owed`); None if not known (a dossier
    from before intake counted the requests)."""
    return None if requested is None else obligation.amount_owed(fee, requested, paid)


def payable(status: DossierStatus) -> bool:
    """Whether the dossier takes a payment at all (not once it ended without a result)."""
    return status not in _NOT_PAYABLE


def decide(action: CitizenAction, state: DossierState, now: datetime, catalogue: Catalogue) -> IntakeEvent:
    """The event for ``action`` on a dossier in ``state``; ActionNotAllowed says why not, InvalidInput
    which documents of a supplement its procedure does not list."""
    if isinstance(action, ProvideSupplement):
        # Not tied to awaiting_supplement: the citizen reacts to workflow's request, which may reach the
        # citizen before it reaches this view. Workflow matches supplements to its requests.
        if state.status in ENDED:
            raise ActionNotAllowed(f"dossier {state.code} is {state.status.value}: it takes no more documents")
        # Workflow accepts the withdrawal, or refuses it because the result exists: either way the
        # documents would come too late, and workflow may already have ended the dossier.
        if state.withdrawal_requested:
            raise ActionNotAllowed(f"withdrawal of dossier {state.code} was requested: it takes no more documents")
        procedure = catalogue.procedures.get(state.procedure_code)  # absent only from a later edition
        if procedure is not None and (problems := listed_document_problems(procedure, action.documents)):
            raise InvalidInput(problems)
        # It answers the request: the clock resumes with it, and a second request would make the
        # dossier overdue (766), so it brings what the request names (the view may not know the
        # request yet: then it is taken as it is), of what the procedure lists (a kind a later edition
        # dropped could be brought by no supplement, and the dossier would wait for ever).
        named = {kind for kind in state.requested_documents if procedure is None or procedure.document(kind)}
        missing = sorted(named - {d.kind for d in action.documents})
        if state.awaiting_supplement and missing:
            message = f"the supplement request asks for {missing}: bring them with it"
            raise InvalidInput([FieldProblem("$.documents", message, "requested_document_missing")])
        return SupplementProvided(
            dossier_id=state.dossier_id, documents=action.documents, note=action.note, provided_at=now
        )
    if isinstance(action, PayFee):
        if not payable(state.status):
            raise ActionNotAllowed(f"dossier {state.code} is {state.status.value}: nothing to pay")
        if state.withdrawal_requested:  # no money is taken for a dossier about to end without a result
            raise ActionNotAllowed(f"withdrawal of dossier {state.code} was requested: nothing to pay")
        owed = state.owed
        if owed is not None and owed <= 0:
            raise ActionNotAllowed(f"nothing is owed on dossier {state.code}")
        if owed is not None and action.amount > owed:
            problem = FieldProblem("$.amount", f"more than the {owed} VND owed", "more_than_owed")
            raise InvalidInput([problem])
        return FeePaid(
            dossier_id=state.dossier_id, amount=action.amount, method=action.method, online=action.online, paid_at=now
        )
    if isinstance(action, RateSatisfaction):
        if state.rated:
            raise ActionNotAllowed(f"dossier {state.code} has already been rated")
        # Nobody has handled it: nothing to be satisfied with (an online dossier still awaiting
        # acceptance, or withdrawn or stopped before it was accepted, or refused by workflow as its
        # bundle ended). One an official refused at reception was handled: a complaint counts.
        if not state.handled:
            raise ActionNotAllowed(f"dossier {state.code} has not been received yet: nothing to rate")
        return SatisfactionRated(
            dossier_id=state.dossier_id, score=action.score, complaint=action.complaint, rated_at=now
        )
    if isinstance(action, RequestWithdrawal):
        if state.status in ENDED:
            raise ActionNotAllowed(f"dossier {state.code} is {state.status.value}: nothing to withdraw")
        if state.withdrawal_requested:
            raise ActionNotAllowed(f"withdrawal of dossier {state.code} was already requested")
        return WithdrawalRequested(dossier_id=state.dossier_id, reason=action.reason, requested_at=now)
    raise TypeError(f"not a citizen action: {action!r}")

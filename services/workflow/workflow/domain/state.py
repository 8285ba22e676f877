"""A dossier's state: the fold of its events. Rebuilding from the same events gives the same state.

``evolve`` applies one stored event without judging it (it was legal when it was appended; the
transition table is enforced when events are decided, in :mod:`workflow.domain.dossier`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from contracts.envelope import Envelope, EventPayload
from contracts.events import registry as reg
from contracts.events import workflow as wf
from contracts.events.common import Delivery, Document, DossierStatus
from workflow.domain.internal_events import DocumentsReceived, DossierOpened, DossierReleased


@dataclass(frozen=True)
class ControlSheetLine:
    """One line of the processing control sheet (form 06): who held the dossier, from when, until when."""

    step: str
    agency: str
    started_at: datetime
    step_due_at: datetime | None
    official_id: str | None = None
    ended_at: datetime | None = None
    outcome: str | None = None
    reason: str | None = None  # why the step began, when an official said (a verification)


@dataclass(frozen=True)
class IssuedResult:
    result_code: str
    document_name: str
    data: dict[str, Any]
    issued_at: datetime
    qr_code: str | None = None


@dataclass
class DossierState:
    """Everything decisions need to know about one dossier."""

    dossier_id: str
    version: int = 0
    correlation_id: str | None = None
    status: DossierStatus | None = None
    code: str = ""
    procedure_code: str = ""
    channel: str = "counter"
    receiving_agency: str = ""
    competent_agency: str = ""
    agency: str = ""
    official_id: str | None = None
    fee: int = 0
    form: dict[str, Any] = field(default_factory=dict)
    submitted_at: datetime | None = None
    announced_due_at: datetime | None = None
    received_at: datetime | None = None
    due_at: datetime | None = None
    step_due_at: datetime | None = None
    bundle_id: str | None = None
    bundle_step: str | None = None
    applicant_id_number: str | None = None
    delivery: Delivery = field(default_factory=Delivery)
    held: bool = False
    acceptance_due_at: datetime | None = None  # set when a supplement reopens the acceptance window
    documents: list[Document] = field(default_factory=list)  # as submitted, then each supplement's
    acceptance_overdue: bool = False
    supplement_requests: int = 0
    paused_since: datetime | None = None
    resume_status: DossierStatus | None = None
    paused_seconds: float = 0.0
    payment_amount: int | None = None
    #: What the citizen paid, and what officials asked for, over the dossier's life (VND).
    paid_total: int = 0
    requested_total: int = 0
    pending_command_id: str | None = None
    due_soon_notified: bool = False
    warned_due_at: datetime | None = None  # the appointment the last due-soon warning was for
    overdue: bool = False
    apologized: bool = False
    results: list[IssuedResult] = field(default_factory=list)
    ended_at: datetime | None = None
    on_time: bool | None = None
    control_sheet: list[ControlSheetLine] = field(default_factory=list)
    history: list[tuple[str, datetime, DossierStatus | None]] = field(default_factory=list)

    @property
    def exists(self) -> bool:
        """Opened: a bundle's own stream (the same store, keyed by bundle id) has events but is no dossier."""
        return self.status is not None

    @property
    def clock_paused(self) -> bool:
        return self.paused_since is not None

    @property
    def verified(self) -> bool:
        """The case needed verification: the law's longer limit applies (a verification step began)."""
        return any(line.step == VERIFICATION_STEP for line in self.control_sheet)

    @property
    def agencies(self) -> set[str]:
        """The agencies the dossier concerns: the counter that received it, the competent one, and
        every one that held it (its officials see it, now and at any earlier instant)."""
        held = {line.agency for line in self.control_sheet}
        return {self.receiving_agency, self.competent_agency, self.agency, *held} - {""}

    @property
    def ended_late(self) -> bool:
        """Ended after its appointment, or after its current step's end: a bundle step's appointment is
        the bundle's date, so one that overran its own step's time ended "on time" all the same."""
        if self.on_time is False:
            return True
        return self.ended_at is not None and self.step_due_at is not None and self.ended_at > self.step_due_at

    @property
    def at_reception(self) -> bool:
        """Not yet taken into processing: registered, received, or sent back for a supplement before
        an official accepted it. Rejected there, it is refused, not stopped."""
        if self.status is DossierStatus.SUPPLEMENT_REQUESTED:
            return self.resume_status is DossierStatus.REGISTERED
        return self.status in (DossierStatus.REGISTERED, DossierStatus.RECEIVED)

    @property
    def waiting_for_registry(self) -> bool:
        return self.pending_command_id is not None

    def _close_line(self, at: datetime, outcome: str, official_id: str | None = None) -> None:
        if self.control_sheet and self.control_sheet[-1].ended_at is None:
            last = self.control_sheet[-1]
            self.control_sheet[-1] = replace(
                last, ended_at=at, outcome=outcome, official_id=official_id or last.official_id
            )

    def _move_appointment(self, due_at: datetime) -> None:
        """The appointment moved (a supplement's pause, a later bundle step, a verification, an apology
        letter); a later date gets its own due-soon warning."""
        if self.due_at is None or due_at > self.due_at:
            self.due_soon_notified = False
        self.due_at = due_at

    def _move_step_end(self, step_due_at: datetime) -> None:
        """The current step's statutory end moved (by a supplement's pause): the task list and the open
        line of the control sheet show the new one."""
        self.step_due_at = step_due_at
        if self.control_sheet and self.control_sheet[-1].ended_at is None:
            self.control_sheet[-1] = replace(self.control_sheet[-1], step_due_at=step_due_at)

    def _touch_line(self, official_id: str | None) -> None:
        if official_id and self.control_sheet and self.control_sheet[-1].ended_at is None:
            self.control_sheet[-1] = replace(self.control_sheet[-1], official_id=official_id)


#: The control sheet's step for a case that needs verification (xác minh): it starts at the agency
#: holding the dossier and moves the appointment to the law's longer limit.
VERIFICATION_STEP = "verification"


def fold(dossier_id: str, envelopes: Iterable[Envelope]) -> DossierState:
    """The state after ``envelopes`` (oldest first); version 0 when there are none."""
    state = DossierState(dossier_id)
    for envelope in envelopes:
        state.correlation_id = state.correlation_id or envelope.correlation_id
        payload = envelope.parse_payload()
        if payload is not None:
            evolve(state, payload, envelope.occurred_at)
        state.version += 1
    return state


def evolve(state: DossierState, event: EventPayload, occurred_at: datetime) -> None:
    """Apply one event to ``state`` in place (the version is the caller's business)."""
    if isinstance(event, wf.DossierEvent):
        _apply_lifecycle(state, event)
        state.status = event.status
        moved = event.agency != state.agency
        state.agency = event.agency
        # The official holding it: whoever acted, else the one before (a timer acts for no one) unless
        # it changed agency. A forward names the official who sent it, not one of the agency it went to.
        if isinstance(event, wf.DossierForwarded):
            state.official_id = None
        else:
            state.official_id = event.official_id or (None if moved else state.official_id)
        state.history.append((event.event_type, event.at, event.status))
    elif isinstance(event, DossierOpened):
        _apply_opened(state, event)
        state.history.append((event.event_type, event.submitted_at, state.status))
    elif isinstance(event, DossierReleased):
        state.held = False
        state.form = dict(event.inputs)
        state.history.append((event.event_type, event.at, state.status))
    elif isinstance(event, DocumentsReceived):
        state.documents.extend(event.documents)
        state.history.append((event.event_type, event.at, state.status))
    elif isinstance(event, reg.RegistryCommandRequested):
        state.pending_command_id = event.command_id
        state.history.append((event.event_type, event.requested_at, state.status))


def _apply_opened(state: DossierState, e: DossierOpened) -> None:
    state.status = DossierStatus.REGISTERED
    state.code, state.procedure_code, state.channel = e.code, e.procedure_code, e.channel
    state.receiving_agency, state.competent_agency = e.receiving_agency, e.competent_agency
    state.agency = e.receiving_agency
    state.fee, state.form, state.submitted_at = e.fee, dict(e.form), e.submitted_at
    state.announced_due_at = e.due_at
    state.bundle_id, state.bundle_step = e.bundle_id, e.bundle_step
    state.applicant_id_number = e.applicant_id_number
    state.delivery = e.delivery
    state.documents = list(e.documents)
    state.held = e.bundle_id is not None


def _apply_lifecycle(state: DossierState, e: wf.DossierEvent) -> None:
    if isinstance(e, wf.DossierReceived):
        state.received_at, state.due_at = e.at, e.due_at
        state.control_sheet.append(
            ControlSheetLine(
                "reception", state.receiving_agency, state.submitted_at or e.at, None, e.official_id, e.at, "received"
            )
        )
    elif isinstance(e, wf.DossierStepStarted):
        state._close_line(e.at, "moved on")
        state.step_due_at = e.step_due_at
        if e.due_at is not None:
            state._move_appointment(e.due_at)
        state.control_sheet.append(
            ControlSheetLine(e.step, e.agency, e.at, e.step_due_at, e.official_id, reason=e.reason)
        )
    elif isinstance(e, wf.DossierForwarded):
        state._close_line(e.at, f"forwarded to {e.agency}", e.official_id)
    elif isinstance(e, wf.SupplementRequested):
        state.resume_status = state.status
        state.supplement_requests = e.request_number
        state.paused_since = e.at
        state._touch_line(e.official_id)
    elif isinstance(e, wf.SupplementReceived):
        state.paused_since, state.resume_status = None, None
        state.paused_seconds += e.paused_seconds
        state.documents.extend(e.documents)
        if state.due_at is not None:
            state._move_appointment(e.due_at)
        else:  # sent back before acceptance: a fresh window to accept it in, timed afresh
            state.acceptance_due_at = e.due_at
            state.acceptance_overdue = False
        if e.step_due_at is not None:
            state._move_step_end(e.step_due_at)
    elif isinstance(e, wf.PaymentRequested):
        state.payment_amount = e.amount
        state.requested_total += e.amount
        state._touch_line(e.official_id)
    elif isinstance(e, wf.PaymentConfirmed):
        state.paid_total += e.amount
    elif isinstance(e, wf.ResultIssued):
        state.results.append(IssuedResult(e.result_code, e.document_name, dict(e.data), e.at, e.qr_code))
        state.pending_command_id = None
        state.ended_at, state.on_time = e.at, e.on_time
        state._close_line(e.at, "result issued", e.official_id)
    elif isinstance(e, wf.DossierRefused | wf.DossierStopped | wf.WithdrawalAccepted):
        state.pending_command_id = None
        state.ended_at, state.on_time = e.at, e.on_time
        state.held = False  # a step ended while held waits for nothing: it said "earlier bundle step" for ever
        state._close_line(e.at, e.event_type, e.official_id)
    elif isinstance(e, wf.DossierDueSoon):
        state.due_soon_notified = True
        state.warned_due_at = e.due_at
    elif isinstance(e, wf.DossierOverdue):
        state.overdue = True
    elif isinstance(e, wf.AcceptanceOverdue):
        state.acceptance_overdue = True
    elif isinstance(e, wf.ApologyLetterIssued):
        state._move_appointment(e.new_due_at)  # always later: the letter is refused otherwise
        state.apologized = True
        state._touch_line(e.official_id)

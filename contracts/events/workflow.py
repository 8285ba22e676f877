"""Events on ``workflow.events``, written by the workflow service: the dossier lifecycle,
deadlines, officials' decisions and bundle sagas. Keyed by dossier id (bundle events by
bundle id).

Every dossier event carries the status it leaves the dossier in, so a consumer can follow
the national lifecycle without knowing every event type.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Self

from pydantic import Field, model_validator

from contracts.envelope import EventPayload
from contracts.events.common import Document, DossierStatus, Frozen, ResultDelivery


class WorkflowEvent(EventPayload):
    topic_role = "workflow_events"


class DossierEvent(WorkflowEvent):
    """Fields every dossier lifecycle event has."""

    dossier_id: str = Field(description="The dossier; the events' key.")
    code: str = Field(description="Dossier code.")
    status: DossierStatus = Field(description="Status after this event.")
    status_code: int = Field(description="National status code 1–10 of ``status``.", ge=1, le=10)
    at: datetime = Field(description="When it happened.")
    agency: str = Field(description="Agency holding the dossier after this event.")
    official_id: str | None = Field(default=None, description="Official who acted, if a person did.")
    bundle_id: str | None = Field(default=None, description="The linked bundle the dossier belongs to, if any.")

    @model_validator(mode="after")
    def _code_of_status(self) -> Self:
        # Registry-sync sends the code to the national portal, workflow folds the status: one event
        # carrying two states would leave the portal and our views apart, unnoticed.
        if self.status_code != self.status.code:
            raise ValueError(f"status_code {self.status_code} is not the code of {self.status.value!r}")
        return self


class DossierReceived(DossierEvent):
    """Accepted at reception; the statutory clock runs from here."""

    event_type = "DossierReceived"
    procedure_code: str = Field(description="Procedure code.")
    due_at: datetime = Field(description="Appointment date (statutory end).")


class DossierRefused(DossierEvent):
    """Refused at reception (form 03)."""

    event_type = "DossierRefused"
    reason: str = Field(description="Why.")
    on_time: bool | None = Field(
        default=None,
        description="Ended by the appointment date (766 rules); None if no appointment was set, and for a step"
        " that never started (not judged).",
    )
    step_started: bool = Field(
        default=True,
        description="False for a step of an online bundle refused before it started because an earlier step"
        " failed: no agency ever had it, so it is no one's resolved dossier (true in events from before this"
        " field).",
    )


class DossierStepStarted(DossierEvent):
    """A processing step began: a line of the processing control sheet (form 06)."""

    event_type = "DossierStepStarted"
    step: str = Field(description="Step name, e.g. 'reception', 'appraisal', 'approval'.")
    step_due_at: datetime = Field(description="Statutory end of this step.")
    due_at: datetime | None = Field(
        default=None,
        description="The dossier's new appointment, when starting this step moved it: a later step of a bundle"
        " received at the counter, whose date moves by the office time earlier steps waited for the citizen's"
        " supplements; a verification step, to the law's longer limit (absent otherwise, and in events from"
        " before this field).",
    )
    reason: str | None = Field(default=None, description="Why the step began, when an official says: a verification's.")


class RequestedDocument(Frozen):
    """A document an official asks the citizen to supply."""

    kind: str = Field(description="Kind from the procedure's required documents.")
    name: str = Field(description="Its name in Vietnamese, as form 02 prints it.")


class SupplementRequested(DossierEvent):
    """An official asked for more documents (form 02); the clock pauses."""

    event_type = "SupplementRequested"
    reason: str = Field(description="What is missing.")
    request_number: int = Field(description="1 for the first request; a second makes the dossier overdue.")
    documents: list[RequestedDocument] = Field(
        default_factory=list, description="The documents asked for, when the official named them."
    )


class SupplementReceived(DossierEvent):
    """The citizen's supplement arrived; the clock resumes with the due date moved."""

    event_type = "SupplementReceived"
    paused_seconds: float = Field(description="Working time the clock was paused.", ge=0)
    due_at: datetime = Field(
        description="New appointment date; for a dossier sent back before acceptance, the end of its new"
        " acceptance window instead (it has no appointment yet)."
    )
    documents: list[Document] = Field(default_factory=list, description="The documents the citizen supplied.")
    step_due_at: datetime | None = Field(
        default=None,
        description="The current step's statutory end, moved by the pause as the appointment is (absent in"
        " events from before this field, and before acceptance).",
    )


class PaymentRequested(DossierEvent):
    """A financial obligation was notified."""

    event_type = "PaymentRequested"
    amount: int = Field(description="Amount in VND.", gt=0)


class PaymentConfirmed(DossierEvent):
    """The obligation was met; processing continues."""

    event_type = "PaymentConfirmed"
    amount: int = Field(description="Amount in VND.", ge=0)
    online: bool = Field(description="Paid online.")
    refund_due: bool = Field(
        default=False,
        description="Paid as the dossier ended without a result (refused, stopped, withdrawn): owed back.",
    )
    outstanding: int | None = Field(
        default=None,
        ge=0,
        description="What is still owed after it: the fee, or what officials asked for if more, less everything"
        " paid (0 once it is owed back). Above 0, a part payment. None from producers before this field.",
    )


class WithdrawalAccepted(DossierEvent):
    """The citizen's withdrawal was accepted; the dossier ends."""

    event_type = "WithdrawalAccepted"
    reason: str = Field(description="The citizen's reason.")
    on_time: bool | None = Field(
        default=None,
        description="Ended by the appointment date (766 rules); None if no appointment was set, and for a step"
        " that never started (not judged).",
    )
    step_started: bool = Field(
        default=True,
        description="False for a bundle step withdrawn while it waited for an earlier step: its agency never had"
        " it, so it is no one's resolved dossier (true in events from before this field).",
    )


class WithdrawalRefused(DossierEvent):
    """The citizen asked to withdraw a dossier that can no longer be withdrawn (its result was issued
    first, or it had ended); it stays as it was."""

    event_type = "WithdrawalRefused"
    reason: str = Field(description="Why it cannot be withdrawn.")


class DossierStopped(DossierEvent):
    """Processing stopped (form 05)."""

    event_type = "DossierStopped"
    reason: str = Field(description="Why.")
    on_time: bool | None = Field(
        default=None,
        description="Ended by the appointment date (766 rules); None if no appointment was set, and for a step"
        " that never started (not judged).",
    )
    step_started: bool = Field(
        default=True,
        description="False for a bundle step stopped before it started because an earlier step failed: its"
        " agency never had it, so it is no one's resolved dossier (true in events from before this field).",
    )


class DossierForwarded(DossierEvent):
    """Moved to another agency."""

    event_type = "DossierForwarded"
    from_agency: str = Field(description="Agency that held it.")
    reason: str | None = Field(default=None, description="Why.")


class ResultIssued(DossierEvent):
    """Processed: the result is ready (status 9)."""

    event_type = "ResultIssued"
    result_code: str = Field(description="<dossier code>-KQ<n>.")
    procedure_code: str | None = Field(default=None, description="Procedure the result is for.")
    document_name: str = Field(description="Name of the result document.")
    data: dict[str, Any] = Field(description="What the step produced, e.g. personal_id_number.")
    on_time: bool = Field(description="Finished by the appointment date (766 rules).")
    qr_code: str | None = Field(
        default=None,
        description=(
            "Text of the QR code the result paper carries: compact JSON with the dossier code (ma_ho_so),"
            " procedure code (ma_thu_tuc), applicant's identification number (so_dinh_danh), document name"
            " (ten_giay_to) and result code (ma_ket_qua). None when the applicant is not known."
        ),
    )


class ResultReturned(DossierEvent):
    """The result was handed to the citizen (status 10)."""

    event_type = "ResultReturned"
    delivery: ResultDelivery | None = Field(
        default=None, description="How: at the counter, posted, or online (at once, with no official)."
    )


class DossierDueSoon(DossierEvent):
    """The appointment date is near (SLA timer)."""

    event_type = "DossierDueSoon"
    due_at: datetime = Field(description="Appointment date.")


class DossierOverdue(DossierEvent):
    """The appointment date passed with the dossier unfinished (SLA timer)."""

    event_type = "DossierOverdue"
    due_at: datetime = Field(description="The missed appointment date.")
    reason: str | None = Field(
        default=None,
        description="'deadline_passed' (the SLA timer) or 'second_supplement_request' (the 766 rule: more "
        "than one supplement request counts as overdue).",
    )


class AcceptanceOverdue(DossierEvent):
    """An online dossier was neither accepted nor sent back for a supplement within 8 working hours of
    its submission (a timer). Its status does not change: it still waits for an official."""

    event_type = "AcceptanceOverdue"
    deadline: datetime = Field(description="When it should have been accepted or sent back.")


class ApologyLetterIssued(DossierEvent):
    """Form 04: a letter of apology with a new return date."""

    event_type = "ApologyLetterIssued"
    reason: str = Field(description="Why the appointment will be missed.")
    previous_due_at: datetime = Field(description="The appointment that will be missed.")
    new_due_at: datetime = Field(description="The new return date.")


class BundleEvent(WorkflowEvent):
    bundle_id: str = Field(description="The bundle; the events' key.")
    bundle_type: str = Field(description="Bundle definition.")
    at: datetime = Field(description="When it happened.")


class BundleStepStarted(BundleEvent):
    """The saga started a step with the data earlier steps produced."""

    event_type = "BundleStepStarted"
    step_id: str = Field(description="Step id.")
    dossier_id: str = Field(description="The step's dossier.")
    inputs: dict[str, Any] = Field(description="Data handed to the step.")


class BundleCompleted(BundleEvent):
    """Every step of the bundle has its result."""

    event_type = "BundleCompleted"
    results: dict[str, dict[str, Any]] = Field(description="Each step's result data, by step id.")


class BundlePartiallyCompleted(BundleEvent):
    """A step was rejected or failed; the bundle ends with the steps done so far."""

    event_type = "BundlePartiallyCompleted"
    failed_step: str = Field(description="Step that was rejected or failed.")
    reason: str = Field(description="Why.")
    completed_steps: list[str] = Field(description="Steps that did complete.")

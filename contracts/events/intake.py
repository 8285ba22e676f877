"""Events on ``intake.events``, written by the intake service: submissions and citizen actions.

Keyed by dossier id (bundle events by bundle id).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from contracts.envelope import EventPayload
from contracts.events.common import Applicant, Channel, Delivery, Document, DossierStatus, Frozen


class IntakeEvent(EventPayload):
    topic_role = "intake_events"


class DossierSubmitted(IntakeEvent):
    """A citizen's dossier was accepted by the API and given a code."""

    event_type = "DossierSubmitted"

    dossier_id: str = Field(description="Dossier id (UUID); the events' key.")
    code: str = Field(description="Dossier code <agency code>-YYMMDD-NNNN.")
    procedure_code: str = Field(description="Procedure code from the catalogue.")
    catalogue_version: str = Field(description="Version of the catalogue the dossier was checked against.")
    channel: Channel = Field(description="online (channel 2), counter (1) or postal (3).")
    receiving_agency: str = Field(description="Code of the agency whose counter/portal received it.")
    competent_agency: str = Field(description="Code of the agency competent to decide (routing).")
    applicant: Applicant = Field(description="Who submitted it.")
    form: dict[str, Any] = Field(description="The procedure's form, as submitted (validated).")
    documents: list[Document] = Field(
        description="Document components; a bundle step's: those supplied of its kinds and those the bundle produces."
    )
    fee: int = Field(description="Fee in VND; 0 for a procedure without a financial obligation.", ge=0)
    status: DossierStatus = Field(description="registered (online, awaiting acceptance) or received.")
    submitted_at: datetime = Field(description="When the request arrived.")
    received_at: datetime | None = Field(description="When it was received (None while only registered).")
    due_at: datetime | None = Field(description="Appointment date from the statutory time (None if registered).")
    bundle_id: str | None = Field(default=None, description="The linked bundle it belongs to, if any.")
    bundle_step: str | None = Field(default=None, description="Its step id within that bundle.")
    delivery: Delivery = Field(default_factory=Delivery, description="How the citizen receives the result.")


class BundleStep(Frozen):
    """One step of a submitted bundle and the dossier created for it."""

    step_id: str = Field(description="Step id from the bundle definition.")
    procedure_code: str = Field(description="The step's procedure.")
    dossier_id: str = Field(description="The dossier created for the step.")
    code: str = Field(description="That dossier's code.")
    documents: list[Document] = Field(
        default_factory=list, description="That dossier's document components (as its DossierSubmitted lists them)."
    )


class BundleSubmitted(IntakeEvent):
    """A linked one-stop submission: one form, one dossier per applicable step."""

    event_type = "BundleSubmitted"

    bundle_id: str = Field(description="Bundle id (UUID); this event's key.")
    bundle_type: str = Field(description="Bundle definition, e.g. 'birth' or 'death'.")
    catalogue_version: str = Field(description="Catalogue version of the bundle definition.")
    channel: Channel = Field(description="Submission channel.")
    receiving_agency: str = Field(description="Receiving agency code.")
    applicant: Applicant = Field(description="Who submitted it.")
    form: dict[str, Any] = Field(description="The bundle's combined form.")
    steps: list[BundleStep] = Field(description="Applicable steps in order (conditions already applied).")
    submitted_at: datetime = Field(description="When the request arrived.")
    delivery: Delivery = Field(default_factory=Delivery, description="How the citizen receives every step's result.")


class SupplementProvided(IntakeEvent):
    """The citizen sent the documents an official asked for."""

    event_type = "SupplementProvided"

    dossier_id: str = Field(description="The dossier.")
    documents: list[Document] = Field(description="Documents added.")
    note: str | None = Field(default=None, description="The citizen's note.")
    provided_at: datetime = Field(description="When they arrived.")


class FeePaid(IntakeEvent):
    """A fee or charge was paid."""

    event_type = "FeePaid"

    dossier_id: str = Field(description="The dossier.")
    amount: int = Field(description="Amount in VND.", gt=0)
    method: Literal["qr", "bank_transfer", "card", "e_wallet", "cash"] = Field(description="How it was paid.")
    online: bool = Field(description="Paid through an online payment service (counts for the index).")
    paid_at: datetime = Field(description="When it was paid.")


class SatisfactionRated(IntakeEvent):
    """The citizen rated how the dossier was handled."""

    event_type = "SatisfactionRated"

    dossier_id: str = Field(description="The dossier.")
    score: int = Field(description="1 (very dissatisfied) to 5 (very satisfied).", ge=1, le=5)
    complaint: str | None = Field(default=None, description="A complaint or dislike, if any.")
    rated_at: datetime = Field(description="When the rating was given.")


class WithdrawalRequested(IntakeEvent):
    """The citizen asked to withdraw the dossier."""

    event_type = "WithdrawalRequested"

    dossier_id: str = Field(description="The dossier.")
    reason: str = Field(description="The citizen's reason.")
    requested_at: datetime = Field(description="When it was asked.")

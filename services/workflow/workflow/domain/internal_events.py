"""Events workflow stores in a dossier's stream but never publishes.

They carry what the aggregate needs to know about itself that is no other service's business in
this form: the dossier's static data as intake submitted it (form included), and the inputs the
bundle saga resolved when it released a step. Published events stay as the contracts define them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from contracts.envelope import EventPayload
from contracts.events.common import Channel, Delivery, Document


class DossierOpened(EventPayload):
    """Workflow took charge of a dossier submitted to intake (or listed in a submitted bundle)."""

    event_type = "WorkflowDossierOpened"

    dossier_id: str = Field(description="The dossier.")
    code: str = Field(description="Dossier code.")
    procedure_code: str = Field(description="Procedure code.")
    channel: Channel = Field(description="Submission channel.")
    receiving_agency: str = Field(description="Agency whose counter or portal received it.")
    competent_agency: str = Field(description="Agency competent to decide it (routing).")
    fee: int = Field(default=0, description="Fee in VND.")
    form: dict[str, Any] = Field(default_factory=dict, description="The procedure's form.")
    submitted_at: datetime = Field(description="When it was submitted.")
    due_at: datetime | None = Field(default=None, description="Appointment date intake announced, if any.")
    bundle_id: str | None = Field(default=None, description="Its bundle, if any.")
    bundle_step: str | None = Field(default=None, description="Its step in that bundle.")
    applicant_id_number: str | None = Field(default=None, description="The applicant's, for the result's QR code.")
    documents: list[Document] = Field(default_factory=list, description="Its document components, as submitted.")
    delivery: Delivery = Field(default_factory=Delivery, description="How the citizen receives the result.")


class DossierReleased(EventPayload):
    """The bundle saga started this dossier's step with the data earlier steps produced."""

    event_type = "WorkflowDossierReleased"

    bundle_id: str = Field(description="The bundle.")
    step_id: str = Field(description="The step.")
    inputs: dict[str, Any] = Field(description="The step's form, resolved from the bundle form and results.")
    at: datetime = Field(description="When the step started.")


class DocumentsReceived(EventPayload):
    """Documents the citizen sent while no supplement was awaited: after the last one was answered (the
    second of two sent one after the other), or unasked. Kept with the dossier's documents for the
    official to see; they change nothing else."""

    event_type = "WorkflowDocumentsReceived"

    documents: list[Document] = Field(description="The documents the citizen sent.")
    at: datetime = Field(description="When they arrived.")

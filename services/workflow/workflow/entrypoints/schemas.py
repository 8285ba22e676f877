"""Request and response bodies of the officials' API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt, field_validator

from contracts.catalogue import Procedure
from contracts.events.common import Delivery, Document
from contracts.text import shown_text
from workflow.domain.commands import Decision
from workflow.domain.saga import BundleSaga
from workflow.domain.state import DossierState
from workflow.service_layer.ports import Task

#: The largest obligation an official may state: ten thousand billion VND, above any fee or land-use
#: levy, and far inside the 64-bit sums the read models keep.
MAX_AMOUNT_VND = 10**13
#: The working calendar knows Vietnam's holidays from and up to here; a date outside cannot be checked
#: (and one in year 1 at +14:00 overflowed turning it into Vietnam time: a 500).
CALENDAR_START = datetime(2000, 1, 1, tzinfo=UTC)
CALENDAR_END = datetime(2100, 1, 1, tzinfo=UTC)


class DecisionCreate(BaseModel):
    """An official's decision on a dossier."""

    model_config = ConfigDict(extra="forbid")

    decision: Decision = Field(description="What the official decides.")
    official_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="The official deciding: the bearer token's official, so it may be left out; a different one"
        " is refused (403). Required when the service runs without authentication (development).",
    )
    reason: str | None = Field(
        default=None, max_length=2000, description="Required for reject, request_supplement and extend."
    )
    to_agency: str | None = Field(default=None, max_length=24, description="forward: the agency code to send it to.")
    amount: StrictInt | None = Field(  # JSON's own number: true was 1 VND, "100" was 100
        default=None,
        gt=0,
        le=MAX_AMOUNT_VND,
        description="request_payment: VND; default the procedure's fee.",
    )
    new_due_at: AwareDatetime | None = Field(
        default=None,
        ge=CALENDAR_START,
        lt=CALENDAR_END,
        description="extend: the new return date (form 04), on a working day the calendar knows (2000 to 2099).",
    )
    result: dict[str, Any] = Field(
        default_factory=dict, description="approve: result data the official states; other fields are produced."
    )
    documents: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="request_supplement: kinds of the procedure's documents the citizen must supply (form 02).",
    )

    @field_validator("reason", mode="before")
    @classmethod
    def _shown(cls, value: Any) -> Any:
        """The reason as the citizen will read it on forms 02 to 05 and the portal: composed, without
        characters that show nothing. Taken raw, a zero-width space passed for the reason a
        supplement request or a stop requires, and a bell reached the portal's history."""
        return shown_text(value) if isinstance(value, str) else value


class ResultPublic(BaseModel):
    result_code: str
    document_name: str
    data: dict[str, Any]
    issued_at: datetime
    qr_code: str | None = Field(default=None, description="What the QR code on the result paper encodes (JSON).")


class ControlSheetLinePublic(BaseModel):
    """A line of the processing control sheet (form 06)."""

    step: str
    agency: str
    official_id: str | None
    started_at: datetime
    step_due_at: datetime | None
    ended_at: datetime | None
    outcome: str | None
    reason: str | None = None


class HistoryEntry(BaseModel):
    type: str
    at: datetime
    status: str | None


class DossierPublic(BaseModel):
    """A dossier as workflow knows it (at ``as_of`` when asked for a past instant)."""

    dossier_id: str
    code: str
    procedure_code: str
    status: str | None
    status_code: int | None
    version: int
    agency: str
    official_id: str | None
    receiving_agency: str
    competent_agency: str
    channel: str
    received_at: datetime | None
    due_at: datetime | None
    step_due_at: datetime | None
    waiting_for: str | None
    supplement_requests: int
    paused_seconds: float
    overdue: bool
    apology_letter: bool
    on_time: bool | None
    ended_at: datetime | None
    bundle_id: str | None
    bundle_step: str | None
    results: list[ResultPublic]
    documents: list[Document] = Field(description="Its components: as submitted, then each supplement's.")
    missing_documents: list[str] = Field(description="Kinds the procedure makes mandatory that it does not have.")
    delivery: Delivery = Field(description="How the citizen receives the result (postal: with the address).")
    control_sheet: list[ControlSheetLinePublic]
    history: list[HistoryEntry]
    as_of: datetime | None = None

    @classmethod
    def of(
        cls,
        state: DossierState,
        procedure: Procedure | None,
        *,
        as_of: datetime | None = None,
        acceptance_due: datetime | None = None,
    ) -> DossierPublic:
        """``procedure``: the dossier's, from the catalogue (None if unknown to it: nothing is missing);
        ``acceptance_due``: the statutory end of its reception, for an online dossier an official accepts."""
        held = {d.kind for d in state.documents}
        sheet = [ControlSheetLinePublic(**line.__dict__) for line in state.control_sheet]
        if acceptance_due is not None:  # form 06 gives every step's statutory end, reception's too
            sheet = [
                line.model_copy(update={"step_due_at": acceptance_due})
                if line.step == "reception" and line.step_due_at is None
                else line
                for line in sheet
            ]
        mandatory = [d.kind for d in procedure.required_documents if d.mandatory] if procedure else []
        return cls(
            dossier_id=state.dossier_id,
            code=state.code,
            procedure_code=state.procedure_code,
            status=state.status.value if state.status else None,
            status_code=state.status.code if state.status else None,
            version=state.version,
            agency=state.agency,
            official_id=state.official_id,
            receiving_agency=state.receiving_agency,
            competent_agency=state.competent_agency,
            channel=state.channel,
            received_at=state.received_at,
            due_at=state.due_at,
            step_due_at=state.step_due_at,
            waiting_for=_waiting_for(state),
            supplement_requests=state.supplement_requests,
            paused_seconds=state.paused_seconds,
            overdue=state.overdue,
            apology_letter=state.apologized,
            on_time=state.on_time,
            ended_at=state.ended_at,
            bundle_id=state.bundle_id,
            bundle_step=state.bundle_step,
            results=[ResultPublic(**r.__dict__) for r in state.results],
            documents=list(state.documents),
            missing_documents=[kind for kind in mandatory if kind not in held],
            delivery=state.delivery,
            control_sheet=sheet,
            history=[HistoryEntry(type=t, at=at, status=s.value if s else None) for t, at, s in state.history],
            as_of=as_of,
        )


def _waiting_for(state: DossierState) -> str | None:
    status = state.status.value if state.status else None
    if state.held:
        return "earlier_bundle_step"
    if state.waiting_for_registry:
        return "registry"
    return {
        "registered": "acceptance",
        "processing": "decision",
        "supplement_requested": "citizen_supplement",
        "payment_requested": "citizen_payment",
        "processed": "result_return",
    }.get(status or "")


#: What a task waits for: a registered online dossier its acceptance (8 working hours), a dossier in
#: processing the agency's decision, a processed one the counter handing its result to the citizen.
WaitingFor = Literal["acceptance", "decision", "result_return"]
#: What builds before migration 0004 wrote (one may still run beside this one during a deploy).
_OLD_TASK_NAMES = {"return": "result_return"}


class TaskPublic(BaseModel):
    dossier_id: str
    code: str
    procedure_code: str
    status: str
    status_code: int
    waiting_for: WaitingFor
    due_at: datetime
    appointment_at: datetime | None
    since: datetime
    bundle_id: str | None
    overdue: bool
    delivery: Literal["counter", "postal"] | None = Field(
        default=None, description="result_return: hand the result over at the counter, or post it to the citizen."
    )

    @classmethod
    def of(cls, task: Task) -> TaskPublic:
        fields = {k: v for k, v in task.__dict__.items() if k != "agency"}
        fields["waiting_for"] = _OLD_TASK_NAMES.get(task.waiting_for, task.waiting_for)
        return cls(**fields)


class TaskListPublic(BaseModel):
    agency: str
    tasks: list[TaskPublic]
    next: str | None = Field(
        default=None, description="A full page: pass this as `after` for the next one (opaque). None: the last page."
    )


class BundlePublic(BaseModel):
    """A bundle saga: each step's dossier, what started, what each produced, how it ended."""

    bundle_id: str
    bundle_type: str
    status: str
    steps: list[dict[str, Any]]
    results: dict[str, dict[str, Any]]
    failed_step: str | None
    reason: str | None

    @classmethod
    def of(cls, saga: BundleSaga) -> BundlePublic:
        steps = [
            {**s.model_dump(), "started": s.step_id in saga.started, "completed": s.step_id in saga.results}
            for s in saga.steps
        ]
        return cls(
            bundle_id=saga.bundle_id,
            bundle_type=saga.bundle_type,
            status=saga.status,
            steps=steps,
            results=saga.results,
            failed_step=saga.failed_step,
            reason=saga.reason,
        )

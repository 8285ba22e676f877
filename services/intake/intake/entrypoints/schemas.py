"""Request and response bodies of the HTTP API (``XCreate`` in, ``XPublic`` out)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from contracts.catalogue import Agency, BundleDefinition, Procedure
from contracts.events.common import ResultDelivery
from eventkit.http import ErrorBody
from intake.domain.text import tidied, visible

ID_NUMBER = r"^[0-9]{12}$"


def _shown(text: str) -> str:
    if not visible(text):
        raise ValueError("must not be blank (white space and invisible characters only)")
    return text


#: Text that must show something: "   " or a zero-width space is no name and no reason.
Shown = Annotated[str, AfterValidator(_shown)]


def _none_if_blank(text: str | None) -> str | None:
    return text if text is not None and visible(text) else None


#: Optional text that counts when it shows something: a complaint of a zero-width space is none (the
#: index counts complaints), a note of blanks is no note.
ShownOrNone = Annotated[str | None, AfterValidator(_none_if_blank)]


class Strict(BaseModel):
    """Unknown fields are an error: a misspelt optional field must not be dropped in silence. Text is
    taken in Unicode's composed form (NFC), whichever way the citizen's keyboard wrote it. Flags and
    amounts take JSON's own types (``StrictBool``, ``StrictInt``): ``"yes"`` or ``1`` for a flag the
    index counts, or ``true`` for an amount, is a 422, not a guess recorded as a fact. Invisible format
    characters (zero-width spaces, direction overrides) are dropped and spaces taken as one, none at
    the ends of a line (:func:`~intake.domain.text.tidied`)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _tidied(cls, data: Any) -> Any:
        return tidied(data)


#: What people put between a phone number's digits.
_PHONE_SEPARATORS = str.maketrans("", "", " .-()")


def _phone_digits(value: Any) -> Any:
    """The number without its separators: written as people write it ("0912 345 678", "(024) 3825
    1234"), a counter submission failed with a 422 over an optional contact field."""
    return value.translate(_PHONE_SEPARATORS) if isinstance(value, str) else value


class ApplicantCreate(Strict):
    id_number: str = Field(pattern=ID_NUMBER, description="12-digit personal identification number.")
    full_name: Shown = Field(min_length=1, max_length=100, description="Full name with diacritics.")
    phone: Annotated[str | None, BeforeValidator(_phone_digits)] = Field(
        None,
        pattern=r"^\+?[0-9]{8,15}$",
        description="Contact phone number (this platform sends no SMS itself); spaces, dots, dashes and"
        " brackets between the digits are left out: '0912 345 678' is '0912345678'.",
    )
    email: str | None = Field(None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", description="E-mail.")


class DocumentCreate(Strict):
    kind: str = Field(min_length=1, max_length=64, description="A kind from the procedure's required_documents.")
    digitized: StrictBool = Field(description="Supplied electronically (số hóa).")
    reused: StrictBool = Field(description="Taken from data the citizen already supplied.")
    from_national_store: StrictBool = Field(False, description="Taken from the citizen's national document store.")


Channel = Literal["online", "counter", "postal"]


class DeliveryCreate(Strict):
    method: ResultDelivery = Field(
        "counter",
        description=(
            "How the citizen receives the result: at the receiving counter, by post (bưu chính công ích), or "
            "online (the electronic result to the citizen's portal account, as soon as it is issued; only"
            " for a procedure offered online whole, online_level full, and a bundle whose every step is)."
        ),
    )
    address: Shown | None = Field(
        None, min_length=5, max_length=300, description="postal (required, and only then): the address to post to."
    )


class DossierCreate(Strict):
    procedure_code: str = Field(max_length=20, description="Procedure code, e.g. '1.001193'.", examples=["1.001193"])
    channel: Channel = Field(description="online (portal), counter or postal.")
    receiving_agency: str = Field(max_length=24, description="Code of the agency receiving it.")
    applicant: ApplicantCreate
    form: dict[str, Any] = Field(description="The procedure's form; its JSON Schema is in GET /v1/procedures/{code}.")
    documents: list[DocumentCreate] = Field(default_factory=list, max_length=50, description="Document components.")
    result_delivery: DeliveryCreate = Field(default_factory=DeliveryCreate, description="Default: at the counter.")


class BundleCreate(Strict):
    bundle_type: str = Field(max_length=40, description="'birth' or 'death' (GET /v1/bundle-types).")
    channel: Channel = Field(description="online (portal), counter or postal.")
    receiving_agency: str = Field(max_length=24, description="Code of the agency receiving it.")
    applicant: ApplicantCreate
    form: dict[str, Any] = Field(description="The bundle's combined form (GET /v1/bundle-types/{type}).")
    documents: list[DocumentCreate] = Field(
        default_factory=list,
        max_length=50,
        description="The documents the applicant supplies: kinds from the bundle type's supplied_documents.",
    )
    result_delivery: DeliveryCreate = Field(
        default_factory=DeliveryCreate, description="How every step's result is received; default: at the counter."
    )


class SupplementCreate(Strict):
    documents: list[DocumentCreate] = Field(min_length=1, max_length=50, description="Documents supplied.")
    note: ShownOrNone = Field(None, max_length=1000, description="A note to the official.")


class PaymentCreate(Strict):
    amount: StrictInt = Field(gt=0, le=10_000_000_000, description="Amount paid, in VND.")
    method: Literal["qr", "bank_transfer", "card", "e_wallet", "cash"] = Field(description="How it was paid.")
    online: StrictBool = Field(description="Paid through an online payment service (never in cash).")

    @field_validator("online")
    @classmethod
    def _cash_is_not_online(cls, online: bool, info: ValidationInfo) -> bool:
        # The index scores dossiers paid online: cash taken at the counter is never one.
        if online and info.data.get("method") == "cash":
            raise PydanticCustomError("cash_online", "cash is never an online payment")
        return online


class RatingCreate(Strict):
    score: StrictInt = Field(ge=1, le=5, description="1 very dissatisfied … 5 very satisfied.")
    complaint: ShownOrNone = Field(None, max_length=2000, description="A complaint or dislike, if any.")


class WithdrawalCreate(Strict):
    reason: Shown = Field(min_length=1, max_length=1000, description="Why the citizen withdraws the dossier.")


class DossierReceiptPublic(BaseModel):
    dossier_id: str
    code: str = Field(description="<agency code>-YYMMDD-NNNN.")
    procedure_code: str
    status: str = Field(description="registered (online, awaiting acceptance) or received.")
    status_code: int = Field(description="1 registered, 2 received.")
    competent_agency: str
    submitted_at: str
    received_at: str | None
    due_at: str | None = Field(description="Appointment date; null until received.")
    result_delivery: ResultDelivery = Field(
        "counter", description="How the result will be received: at the receiving counter, by post, or online."
    )
    step_id: str | None = Field(None, description="The bundle step (bundle receipts only).")


class BundleReceiptPublic(BaseModel):
    bundle_id: str
    bundle_type: str
    submitted_at: str
    due_at: str | None = Field(description="Statutory limit of the whole bundle; null until received.")
    dossiers: list[DossierReceiptPublic]


class ActionReceiptPublic(BaseModel):
    event_id: str = Field(description="Id of the event appended to intake.events.")
    event_type: str
    dossier_id: str
    code: str
    at: str


class NamedRef(BaseModel):
    code: str
    name_vi: str | None


class HandlerPublic(BaseModel):
    agency: NamedRef | None
    official_id: str | None


class TimelineEntryPublic(BaseModel):
    at: str
    event: str
    status: str | None
    status_code: int | None
    agency: NamedRef | None
    official_id: str | None
    note: str


class ResultPublic(BaseModel):
    result_code: str = Field(description="<dossier code>-KQ<n>.")
    document_name: str
    issued_at: str
    on_time: bool
    data: dict[str, str] = Field(
        default_factory=dict,
        description="What the result issued that this view may show: identification numbers, masked "
        "(03********88). The full data is on the result document.",
    )


class BundleRef(BaseModel):
    bundle_id: str
    step_id: str | None


class DossierPublic(BaseModel):
    dossier_id: str
    code: str
    procedure: NamedRef
    channel: str
    status: str
    status_code: int
    receiving_agency: NamedRef | None
    competent_agency: NamedRef | None
    current_handler: HandlerPublic
    submitted_at: str
    received_at: str | None
    due_at: str | None
    overdue: bool
    result_delivery: ResultDelivery = Field(
        "counter", description="How the result is received: at the receiving counter, by post, or online."
    )
    awaiting_supplement: bool
    requested_documents: list[str] = Field(
        default_factory=list,
        description="The document kinds the pending supplement request names (form 02): a supplement brings them.",
    )
    withdrawal_requested: bool = Field(
        description="The citizen asked to withdraw it (supplements and payments are refused from then on, 409);"
        " workflow's acceptance ends the dossier (status withdrawal_requested, 7), its refusal makes this false again."
    )
    fee: int
    requested_amount: int | None = Field(
        description="What officials asked the citizen to pay (form of financial obligation), in VND; null for a"
        " dossier from before these were counted."
    )
    paid_amount: int
    owed: int | None = Field(
        description="What the citizen still has to pay, in VND: the fee, or what officials asked for if more, less"
        " what was paid; 0 once the dossier ended without a result or while its withdrawal is asked for; null when"
        " not known."
    )
    rated: bool
    bundle: BundleRef | None
    result: ResultPublic | None
    results: list[ResultPublic]
    portal_sync: dict[str, Any] | None
    timeline: list[TimelineEntryPublic]


class BundleStepPublic(BaseModel):
    step_id: str
    procedure: NamedRef
    dossier_id: str
    code: str
    status: str
    status_code: int
    started_at: str | None
    due_at: str | None
    result_code: str | None
    result: ResultPublic | None = Field(None, description="The step's latest result.")


class BundlePublic(BaseModel):
    bundle_id: str
    bundle_type: str
    name_vi: str | None
    status: Literal["submitted", "processing", "completed", "partially_completed"]
    channel: str
    receiving_agency: NamedRef | None
    submitted_at: str
    due_at: str | None
    ended_at: str | None
    failed_step: str | None
    reason: str | None
    steps: list[BundleStepPublic]


class ProcedureList(BaseModel):
    catalogue_version: str
    items: list[Procedure]


class AgencyList(BaseModel):
    catalogue_version: str
    items: list[Agency]


class BundleTypeList(BaseModel):
    catalogue_version: str
    items: list[BundleDefinition]


class ErrorPublic(ErrorBody):
    """The shared error body; a 409 duplicate_dossier also names the open dossier to its own applicant."""

    existing_code: str | None = Field(
        None,
        description="409 duplicate_dossier: the open dossier's code, when the request's applicant (ID number and phone)"
        " is that dossier's applicant; null otherwise, and the detail then names no dossier either.",
    )

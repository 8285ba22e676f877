"""What a citizen (through the portal or a counter) asks intake to do."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from contracts.events.common import Applicant, Channel, Delivery, Document

PaymentMethod = Literal["qr", "bank_transfer", "card", "e_wallet", "cash"]


@dataclass(frozen=True)
class SubmitDossier:
    """One dossier for one procedure."""

    procedure_code: str
    channel: Channel
    receiving_agency: str
    applicant: Applicant
    form: dict[str, Any]
    documents: list[Document] = field(default_factory=list)
    delivery: Delivery = field(default_factory=Delivery)


@dataclass(frozen=True)
class SubmitBundle:
    """A linked one-stop submission: one combined form, one dossier per applicable step."""

    bundle_type: str
    channel: Channel
    receiving_agency: str
    applicant: Applicant
    form: dict[str, Any]
    documents: list[Document] = field(default_factory=list)  # those the applicant supplies (see the bundle)
    delivery: Delivery = field(default_factory=Delivery)


@dataclass(frozen=True)
class ProvideSupplement:
    """Send the documents an official asked for."""

    dossier_ref: str
    documents: list[Document]
    note: str | None = None


@dataclass(frozen=True)
class PayFee:
    """Pay a fee or charge of the dossier."""

    dossier_ref: str
    amount: int
    method: PaymentMethod
    online: bool


@dataclass(frozen=True)
class RateSatisfaction:
    """Rate how the dossier was handled (1–5), optionally with a complaint."""

    dossier_ref: str
    score: int
    complaint: str | None = None


@dataclass(frozen=True)
class RequestWithdrawal:
    """Ask to withdraw the dossier."""

    dossier_ref: str
    reason: str


CitizenAction = ProvideSupplement | PayFee | RateSatisfaction | RequestWithdrawal

"""What a dossier synchronised to the national public-service portal carries (DOMAIN.md,
"Synchronising to the national portal"), and the rules the portal checks across fields.

Dates travel as ``yyyyMMddHHmmss`` in Vietnam time; they are validated as real moments and
stored as sent, so a GET returns exactly what the province told the portal.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints

from registry_sim.common import Code, IdNumber, Name, Strict, Text
from registry_sim.errors import SimError

PORTAL_TIME_FORMAT = "%Y%m%d%H%M%S"
_DOSSIER_CODE = re.compile(r"^(?P<agency>[A-Za-z0-9._-]{1,40})-(?P<date>[0-9]{6})-(?P<seq>[0-9]{4,})$")


def _portal_time(value: str) -> str:
    if not re.fullmatch(r"[0-9]{14}", value):
        raise ValueError("must be 14 digits, yyyyMMddHHmmss")
    datetime.strptime(value, PORTAL_TIME_FORMAT)  # ValueError names an impossible date
    return value


def check_dossier_code(value: str) -> str:
    """``<agency code>-YYMMDD-NNNN`` with a real receipt date."""
    match = _DOSSIER_CODE.fullmatch(value)
    if not match:
        raise ValueError("must be <agency code>-YYMMDD-NNNN")
    datetime.strptime(match["date"], "%y%m%d")
    return value


PortalTime = Annotated[
    str, AfterValidator(_portal_time), Field(description="yyyyMMddHHmmss", examples=["20240315143000"])
]
DossierCode = Annotated[str, AfterValidator(check_dossier_code), Field(examples=["000.00.12.H40-240315-0001"])]
State = Annotated[int, Field(ge=1, le=10, description="National lifecycle state 1–10.")]
Url = Annotated[str, StringConstraints(pattern=r"^https?://\S+$", max_length=2000)]


class Applicant(Strict):
    full_name: Name
    id_number: IdNumber | None = None


class Supplement(Strict):
    requested_at: PortalTime
    supplied_at: PortalTime | None = None
    reason: Text | None = None


class SubmittedDocument(Strict):
    code: Code | None = None
    name: Text
    digitised: bool = False
    reused: bool = False
    from_national_store: bool = False
    file_url: Url | None = None


class Fee(Strict):
    name: Text
    amount_vnd: int = Field(ge=0)
    payment_method: Code | None = None
    paid_online: bool = False
    paid_at: PortalTime | None = None


class ResultDocument(Strict):
    code: Code  # <dossier code>-KQ<n>
    name: Text
    file_url: Url | None = None
    signed: bool = False


class HistoryEntry(Strict):
    official: Name
    title: Name | None = None
    at: PortalTime
    content: Text
    state: State
    step_deadline: PortalTime | None = None
    department: Name | None = None


class PortalDossier(Strict):
    """A dossier as a province synchronises it; the whole dossier is sent on create and on update."""

    code: DossierCode
    procedure_code: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,2}\.[0-9]{6}$")]
    agency_code: Code | None = None
    channel: Literal[1, 2, 3] = Field(description="1 counter, 2 online, 3 postal.")
    state: State
    applicant: Applicant | None = None
    submitted_at: PortalTime | None = None
    received_at: PortalTime | None = None
    appointment_at: PortalTime | None = None
    finished_at: PortalTime | None = None
    returned_at: PortalTime | None = None
    supplements: list[Supplement] = Field(default_factory=list, max_length=100)
    documents: list[SubmittedDocument] = Field(default_factory=list, max_length=500)
    fees: list[Fee] = Field(default_factory=list, max_length=100)
    results: list[ResultDocument] = Field(default_factory=list, max_length=100)
    history: list[HistoryEntry] = Field(default_factory=list, max_length=1000)
    national_databases: list[Code] = Field(
        default_factory=list, max_length=20, description="National databases consulted, e.g. population."
    )


#: States in which the dossier must have been received (not 1 new, 3 refused, 7 withdrawal, nor 5: an
#: online dossier may be sent back for a supplement before it is accepted).
_RECEIVED_STATES = {2, 4, 6, 8, 9, 10}


def check_rules(dossier: PortalDossier) -> None:
    """Cross-field rules; timestamps of one fixed-width format compare correctly as strings."""
    if dossier.state in _RECEIVED_STATES and dossier.received_at is None:
        raise SimError.invalid("received_at", f"required in state {dossier.state}")
    if dossier.state in (9, 10) and dossier.finished_at is None:
        raise SimError.invalid("finished_at", f"required in state {dossier.state}")
    if dossier.state == 10 and dossier.returned_at is None:
        raise SimError.invalid("returned_at", "required in state 10")
    ordered = [("submitted_at", "received_at"), ("received_at", "appointment_at"), ("finished_at", "returned_at")]
    for earlier, later in ordered:
        first, second = getattr(dossier, earlier), getattr(dossier, later)
        if first is not None and second is not None and second < first:
            raise SimError.invalid(later, f"is before {earlier}")
    prefix = f"{dossier.code}-KQ"
    for i, result in enumerate(dossier.results):
        if not re.fullmatch(re.escape(prefix) + "[0-9]{1,3}", result.code):
            raise SimError.invalid(f"results[{i}].code", f"must be {prefix}<n>")

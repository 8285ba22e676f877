"""The registry operations registry-sync can perform, one per (system, operation) pair of the
procedure catalogue's ``performer`` (and a few the issue names that no procedure uses yet), each
mapped to one method of one system's adapter.

Every method takes an :class:`OperationCall` (the command's data, which is the procedure's form
as the catalogue defines it, plus context from the dossier) and returns an outcome whose
success body is the result data the catalogue's ``result.data_fields`` promise.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from contracts import citizen_id
from registry_sync.adapters.http_client import ExternalHttpClient, header_safe_key
from registry_sync.domain.outcomes import CallOutcome, Rejected, Succeeded, Transient


@dataclass(frozen=True)
class OperationCall:
    """One attempt at a command: its data, the idempotency key, and what we know of the dossier."""

    data: Mapping[str, Any]
    idempotency_key: str
    correlation_id: str | None = None
    #: Which attempt this is, 1 for the first: a retry, hours later, may find the system forgot the key.
    attempt: int = 1
    applicant_full_name: str | None = None
    applicant_id_number: str | None = None
    agency_code: str | None = None

    @property
    def reference(self) -> str:
        """The command's name for its write, kept by the system with what it makes (its idempotency
        key, header-safe): how a write is recognised as ours when read back."""
        return header_safe_key(self.idempotency_key)

    def get(self, path: str, default: Any = None) -> Any:
        """A value of ``data`` by dotted path, or ``default``."""
        return value_at(self.data, path, default)

    def require(self, path: str, why: str = "") -> Any:
        """A value the external system cannot do without; missing → :class:`MissingData`."""
        value = self.get(path)
        if value is None or value == "":
            raise MissingData(path, why)
        return value

    def applicant(self, relationship: str | None) -> dict[str, Any]:
        """The dossier's applicant as a declarant/recipient; its number only if well formed."""
        if not self.applicant_full_name:
            raise ApplicantUnknown("applicant.full_name", "the dossier's applicant is not known yet")
        person: dict[str, Any] = {"full_name": self.applicant_full_name}
        if self.applicant_id_number and citizen_id.is_valid(self.applicant_id_number):
            person["id_number"] = self.applicant_id_number
        if relationship is not None:
            person["relationship"] = relationship
        return person


def value_at(data: Any, path: str, default: Any = None) -> Any:
    """The value at dotted ``path`` in nested mappings, or ``default`` where the path leads nowhere."""
    value = data
    for key in path.split("."):
        if not isinstance(value, Mapping) or key not in value:
            return default
        value = value[key]
    return value


class MissingData(ValueError):
    """The command lacks something the external system requires: no call can succeed."""

    def __init__(self, path: str, why: str = "") -> None:
        super().__init__(f"data.{path}: required{f' ({why})' if why else ''}")
        self.path = path


class ApplicantUnknown(MissingData):
    """The dossier's applicant, from intake's events (another topic), has not reached us yet."""


def id_number(value: Any, path: str) -> str:
    """A well-formed identification number from the data, or :class:`MissingData`."""
    if not isinstance(value, str) or not citizen_id.is_valid(value):
        raise MissingData(path, "a well-formed 12-digit identification number")
    return value


def drop_none(values: dict[str, Any]) -> dict[str, Any]:
    """The external APIs are strict: send optional fields only when we have them."""
    return {k: v for k, v in values.items() if v is not None}


#: The most result data one command carries on (identification numbers, dates, an address: a few
#: hundred bytes). A system answering more is broken; its answer, put in the event, could outgrow what
#: the broker takes.
MAX_RESULT_BYTES = 64 * 1024


def mapped(
    outcome: CallOutcome, result: Callable[[dict[str, Any]], dict[str, Any]], *, required: tuple[str, ...] = ()
) -> CallOutcome:
    """A success whose body is the result data (catalogue ``data_fields``) taken from the answer; a
    refusal if that data is over :data:`MAX_RESULT_BYTES`, lacks a ``required`` field (what the write
    made: a card's number, a registration's), or carries a malformed identification number.

    Taken as it came, a 201 ``{}`` or a 202 "queued" completed the step: the citizen got a health
    insurance card with no number, and the step counted as processed."""
    if not isinstance(outcome, Succeeded):
        return outcome
    data = drop_none(result(outcome.body))
    size = len(orjson.dumps(data))
    if size > MAX_RESULT_BYTES:
        reason = f"{outcome.status} with {size} bytes of result data, over the {MAX_RESULT_BYTES} a result may hold"
        return Rejected(reason, outcome.status, "result_too_large")
    missing = [name for name in required if data.get(name) in (None, "")]
    malformed = [
        name for name, value in data.items() if name.endswith("id_number") and not citizen_id.is_valid(str(value))
    ]
    if missing or malformed:
        what = [*(f"no {name}" for name in missing), *(f"a malformed {name}" for name in malformed)]
        reason = f"{outcome.status} with {' and '.join(what)}: the system's answer does not say what it did"
        return Rejected(reason, outcome.status, "incomplete_result")
    return Succeeded(data, outcome.status, outcome.replayed)


async def post(
    client: ExternalHttpClient, path: str, body: dict[str, Any], call: OperationCall, *, key_suffix: str = ""
) -> CallOutcome:
    """A write to a national system under the command's idempotency key, so that a retried attempt is
    the same request there; ``key_suffix`` names a second write the same command makes."""
    return await client.call(
        "POST",
        path,
        json=body,
        idempotency_key=f"{call.idempotency_key}{key_suffix}",
        correlation_id=call.correlation_id,
    )


@dataclass(frozen=True)
class ReadBack:
    """Where a write is found again: a GET answering ``{"items": [...]}``, each item carrying the
    caller's reference at the dotted path ``reference_at``."""

    path: str
    params: Mapping[str, str] = field(default_factory=dict)
    reference_at: str = "reference"

    def ours(self, item: Any, reference: str) -> bool:
        return bool(value_at(item, self.reference_at) == reference)


#: The system's answer to a key it holds for another body: our first attempt was made, with other data.
KEY_REUSED = "idempotency_key_reused"


async def post_referenced(
    client: ExternalHttpClient, path: str, body: dict[str, Any], call: OperationCall
) -> CallOutcome:
    """A write sent with the command's idempotency key as its ``reference``, which the system keeps with
    what it makes, so that the write can be recognised as ours when read back."""
    outcome = await post(client, path, {**body, "reference": call.reference}, call)
    if isinstance(outcome, Rejected) and (outcome.error == KEY_REUSED or _refuses_reference(outcome)):
        # First sent by a build that sent no reference (a retry across the upgrade): the system holds
        # that body under the key, and answers it again only for the same body. Or the system takes no
        # reference in this write (a registry simulator older than registry-sync): the write goes
        # without, as it did before, rather than failing every command.
        outcome = await post(client, path, body, call)
    return outcome


def _refuses_reference(outcome: Rejected) -> bool:
    return outcome.status == 422 and "reference" in outcome.reason


async def post_once(
    client: ExternalHttpClient, path: str, body: dict[str, Any], call: OperationCall, *, done: str, read_back: ReadBack
) -> CallOutcome:
    """A write the system makes once per person (a death, a card, an allowance, the end of a
    residence), sent with the command's idempotency key as its ``reference``, which the system keeps.

    The system forgets idempotency keys after hours; we retry for a day. A retry after it forgot,
    of a write it had made (its answer lost to a timeout, an outage of ours), meets the refusal
    ``done`` ("card exists", "already paid"). Then the person's records are read back, and if one
    carries our reference the write was ours: the command succeeded, with that record. A record made
    by someone else, or a read-back the system refuses, leaves the refusal as it was; a read-back that
    fails for now is retried (the write first again, under the same key).

    The key still held for another body (the first attempt went without the applicant, who arrived
    before the retry; a release changed what the body carries) is read back the same way: the first
    attempt was made. Refused, the step stopped while the card existed."""
    outcome = await post_referenced(client, path, body, call)
    if not (isinstance(outcome, Rejected) and outcome.error in (done, KEY_REUSED)):
        return outcome
    found = await client.call("GET", read_back.path, params=dict(read_back.params), correlation_id=call.correlation_id)
    if isinstance(found, Transient):
        return found
    items = found.body.get("items") if isinstance(found, Succeeded) else None
    for item in items if isinstance(items, list) else ():
        if read_back.ours(item, call.reference):
            return Succeeded(item, 200, replayed=True)
    return outcome


Operation = Callable[[OperationCall], Awaitable[CallOutcome]]


class RegistryOperations(Protocol):
    """The port the command worker uses."""

    def supports(self, system: str, operation: str) -> bool: ...

    async def perform(self, system: str, operation: str, call: OperationCall) -> CallOutcome: ...


class OperationTable:
    """:class:`RegistryOperations` over a table of (system, operation) → adapter method."""

    def __init__(self, table: Mapping[tuple[str, str], Operation]) -> None:
        self._table = dict(table)

    def operations(self) -> list[tuple[str, str]]:
        return sorted(self._table)

    def supports(self, system: str, operation: str) -> bool:
        return (system, operation) in self._table

    async def perform(self, system: str, operation: str, call: OperationCall) -> CallOutcome:
        method = self._table.get((system, operation))
        if method is None:
            return Rejected(f"unsupported operation {operation!r} on {system}", error="unsupported_operation")
        try:
            return await method(call)
        except MissingData as exc:
            return Rejected(str(exc), error="missing_data", awaits_dossier=isinstance(exc, ApplicantUnknown))

"""The national public-service portal: its interface, its HTTP adapter, and the translation of
our :class:`PortalRecord` into the portal's dossier (DOMAIN.md "Synchronising to the national
portal"; dates as ``yyyyMMddHHmmss`` in Vietnam time, as the real portal takes them)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Protocol

from registry_sync.adapters.http_client import ExternalHttpClient
from registry_sync.adapters.operations import drop_none
from registry_sync.domain.outcomes import CallOutcome
from registry_sync.domain.portal_record import PortalRecord

VIETNAM = timezone(timedelta(hours=7), "ICT")
PORTAL_TIME_FORMAT = "%Y%m%d%H%M%S"
CHANNEL_CODES = {"counter": 1, "online": 2, "postal": 3}
#: States in which the portal requires the dossier to have been received.
#: States only a received dossier can be in. Not 5: an online dossier may be sent back for a supplement
#: before it is accepted, and then it has no reception date to send.
RECEIVED_STATES = frozenset({2, 4, 6, 8, 9, 10})

DocumentNames = Callable[[str, str], str]
"""(procedure code, document kind) → the document's name, from the procedure catalogue."""


def portal_time(moment: datetime | None) -> str | None:
    """``yyyyMMddHHmmss`` in Vietnam time (a naive datetime is taken as UTC)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(VIETNAM).strftime(PORTAL_TIME_FORMAT)


def portal_body(record: PortalRecord, document_name: DocumentNames) -> dict[str, Any]:
    """The whole dossier as the portal takes it on create and on update."""
    if record.missing():
        raise ValueError(f"dossier {record.code} lacks {', '.join(record.missing())}")
    assert record.state is not None and record.channel is not None and record.procedure_code is not None
    received = record.received_at
    if received is None and record.state in RECEIVED_STATES:
        # Workflow said it was received without the reception event reaching us: the first
        # history line in a received state is the best date we have.
        received = next((h.at for h in record.history if h.state in RECEIVED_STATES), record.submitted_at)
    finished = record.finished_at or (record.returned_at if record.state == 10 else None)
    body: dict[str, Any] = {
        "code": record.code,
        "procedure_code": record.procedure_code,
        "agency_code": record.agency_code,
        "channel": CHANNEL_CODES[record.channel],
        "state": record.state,
        # No "applicant": DOMAIN.md lists what a synced dossier carries, and no applicant. The name and
        # the identification number (kept for the registry commands) went to an outside system for
        # nothing the portal needs, as personal data never should.
        "submitted_at": portal_time(record.submitted_at),
        "received_at": portal_time(received),
        "appointment_at": portal_time(record.appointment_at),
        "finished_at": portal_time(finished),
        "returned_at": portal_time(record.returned_at),
        "supplements": [
            drop_none(
                {
                    "requested_at": portal_time(s.requested_at),
                    "supplied_at": portal_time(s.supplied_at),
                    "reason": s.reason or None,
                }
            )
            for s in record.supplements
        ],
        "documents": [
            {
                "code": d.kind[:64],
                "name": document_name(record.procedure_code, d.kind),
                "digitised": d.digitised,
                "reused": d.reused,
                "from_national_store": d.from_national_store,
            }
            for d in record.documents
        ],
        "fees": [
            drop_none(
                {
                    "name": f.name,
                    "amount_vnd": f.amount_vnd,
                    "payment_method": f.payment_method,
                    "paid_online": f.paid_online,
                    "paid_at": portal_time(f.paid_at),
                }
            )
            for f in record.fees
        ],
        # No "signed": we do not e-sign results (ký số), and the portal must not be told we do.
        "results": [{"code": r.code, "name": r.name} for r in record.results],
        "history": [
            drop_none(
                {
                    "official": h.official[:200],
                    "at": portal_time(h.at),
                    "content": h.content,
                    "state": h.state,
                    "step_deadline": portal_time(h.step_deadline),
                    "department": h.department,
                }
            )
            for h in record.history
        ],
        "national_databases": list(record.national_databases),
    }
    return drop_none(body)


def same_on_portal(before: PortalRecord, after: PortalRecord) -> bool:
    """The portal would receive the same dossier for both records: what changed is ours alone (what
    was paid so far on a line, say). Either not ready to send: False, as nothing can be compared."""
    if before == after:
        return True
    if before.missing() or after.missing():
        return False
    if before.state != after.state or before.history != after.history:
        # Both are sent, and nearly every event changes them: the bodies need not be built (two of them,
        # some 80 µs a change on this VM, for an answer known already).
        return False
    # A document's name is the catalogue's for its procedure and kind, both compared already.
    return portal_body(before, _kind) == portal_body(after, _kind)


def _kind(procedure_code: str, kind: str) -> str:
    return kind


class NationalPortal(Protocol):
    """National public-service portal (Cổng Dịch vụ công quốc gia)."""

    async def create(self, body: dict[str, Any], *, idempotency_key: str, correlation_id: str | None) -> CallOutcome:
        """Create a dossier; a success body carries the portal's ``revision``."""
        ...

    async def update(
        self,
        code: str,
        body: dict[str, Any],
        *,
        idempotency_key: str,
        correlation_id: str | None,
        if_match: int | None = None,
    ) -> CallOutcome:
        """Replace a dossier with its current version; with ``if_match``, only if the portal still holds
        that revision (else a 412 ``revision_mismatch``)."""
        ...

    async def revision(self, code: str) -> CallOutcome:
        """The dossier as the portal holds it now; a success body carries its ``revision``."""
        ...

    async def list_page(self, *, after: str | None, limit: int) -> CallOutcome:
        """One page of summaries in code order: ``{"items": [...], "total": n, "next_after": code|None}``."""
        ...


class HttpNationalPortal:
    def __init__(self, client: ExternalHttpClient) -> None:
        self._client = client

    async def create(self, body: dict[str, Any], *, idempotency_key: str, correlation_id: str | None) -> CallOutcome:
        return await self._client.call(
            "POST", "/dossiers", json=body, idempotency_key=idempotency_key, correlation_id=correlation_id
        )

    async def update(
        self,
        code: str,
        body: dict[str, Any],
        *,
        idempotency_key: str,
        correlation_id: str | None,
        if_match: int | None = None,
    ) -> CallOutcome:
        return await self._client.call(
            "PUT",
            f"/dossiers/{code}",
            json=body,
            idempotency_key=idempotency_key,
            correlation_id=correlation_id,
            if_match=None if if_match is None else f'"{if_match}"',
        )

    async def revision(self, code: str) -> CallOutcome:
        return await self._client.call("GET", f"/dossiers/{code}")

    async def list_page(self, *, after: str | None, limit: int) -> CallOutcome:
        params = drop_none({"after": after, "limit": limit, "view": "summary"})
        return await self._client.call("GET", "/dossiers", params=params)

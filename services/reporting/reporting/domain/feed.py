"""The live feed: one item per projected event, and the filters subscribers choose."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from contracts.envelope import Envelope
from reporting.domain.facts import BundleFacts, DossierFacts

#: Payload fields copied into a feed item when the event has them (never personal data). A failure's
#: cause goes by its codes: its free-text reason is the external system's words, which may quote the
#: person (a child's card number went to every dashboard); operators read it in registry-sync's API.
_DETAIL_FIELDS = (
    "due_at", "on_time", "request_number", "amount", "online", "score", "lag_seconds", "error", "http_status",
    "attempts",
)  # fmt: skip


@dataclass(frozen=True)
class FeedItem:
    """What an operator sees of one event. No applicant data: the feed leaves the service."""

    event_id: str
    type: str
    producer: str
    occurred_at: str
    dossier_id: str | None
    bundle_id: str | None
    code: str | None
    agency: str | None
    agencies: tuple[str, ...]
    status: str | None
    procedure_code: str | None
    field: str | None
    detail: dict[str, Any]

    def to_json_dict(self) -> dict[str, Any]:
        return asdict(self)


def feed_item(envelope: Envelope, facts: DossierFacts | BundleFacts | None) -> FeedItem:
    """The feed item of an event, with what the projection knows of its dossier."""
    payload = envelope.payload
    detail = {k: payload[k] for k in _DETAIL_FIELDS if k in payload}
    dossier = facts if isinstance(facts, DossierFacts) else None
    own_agency = payload.get("agency") or payload.get("receiving_agency")
    agencies = {a for a in (own_agency, *(_agencies(dossier) if dossier else ())) if isinstance(a, str) and a}
    if isinstance(facts, BundleFacts) and facts.receiving_agency:
        agencies.add(facts.receiving_agency)
    return FeedItem(
        event_id=str(envelope.event_id),
        type=envelope.type,
        producer=envelope.producer,
        occurred_at=envelope.occurred_at.isoformat(),
        dossier_id=dossier.dossier_id if dossier else payload.get("dossier_id"),
        bundle_id=facts.bundle_id if isinstance(facts, BundleFacts) else payload.get("bundle_id"),
        code=(dossier.code if dossier else None) or payload.get("code"),
        agency=own_agency or (dossier.agency if dossier else None),
        agencies=tuple(sorted(agencies)),
        status=(dossier.status if dossier else None) or payload.get("status"),
        procedure_code=dossier.procedure_code if dossier else payload.get("procedure_code"),
        field=dossier.field if dossier else None,
        detail=detail,
    )


def _agencies(d: DossierFacts) -> tuple[str | None, ...]:
    return d.agency, d.receiving_agency, d.competent_agency


@dataclass(frozen=True)
class FeedFilter:
    """Which items a subscriber wants; an empty criterion matches everything."""

    types: frozenset[str] = frozenset()
    dossier: str | None = None
    agency: str | None = None

    def matches(self, item: FeedItem) -> bool:
        if self.types and item.type not in self.types:
            return False
        if self.dossier and self.dossier not in (item.dossier_id, item.code, item.bundle_id):
            return False
        return not self.agency or self.agency in item.agencies

"""Apply events to the read models: the one handler live projection and rebuild share.

Live projection calls it with one event inside the inbox transaction; a rebuild with a batch of
thousands inside one transaction per batch. Either way each event id is applied at most once
(the event log), the facts are derived the same way, and the new events come back as feed items.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from contracts.envelope import Envelope, EventPayload
from reporting.domain.facts import BundleFacts, DossierFacts
from reporting.domain.feed import FeedItem, feed_item
from reporting.domain.outcome import Derivation
from reporting.domain.projection import apply, subject_of
from reporting.service_layer.ports import EventRecord, ProjectionStore

#: An event and its typed payload (None for a type or version this build does not know: logged, not applied).
Incoming = tuple[Envelope, EventPayload | None]


@dataclass
class Projected:
    """What one call applied."""

    items: list[FeedItem] = field(default_factory=list)
    applied: int = 0
    duplicates: int = 0


def event_record(envelope: Envelope) -> EventRecord:
    payload = envelope.payload
    agency = payload.get("agency") or payload.get("receiving_agency")
    return EventRecord(
        event_id=envelope.event_id,
        type=envelope.type,
        version=envelope.version,
        producer=envelope.producer,
        key=envelope.key,
        occurred_at=envelope.occurred_at,
        dossier_id=_text(payload.get("dossier_id")),
        bundle_id=_text(payload.get("bundle_id")),
        agency=_text(agency),
        code=_text(payload.get("code")),
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


async def project(
    incoming: Sequence[Incoming], store: ProjectionStore, derive: Derivation | None, *, feed: bool = True
) -> Projected:
    """Apply the events not applied before, in order; returns their feed items (unless ``feed`` is off).

    ``derive`` None leaves the derived columns to the store (a rebuild's cache derives when it writes).
    """
    seen: set[int] = set()  # UUID ints: hashing a UUID object costs a Python call per lookup
    unique = []
    for envelope, payload in incoming:
        if envelope.event_id.int not in seen:
            seen.add(envelope.event_id.int)
            unique.append((envelope, payload))
    logged_before = {i.int for i in await store.record_events([event_record(envelope) for envelope, _ in unique])}
    fresh = [(e, p) for e, p in unique if e.event_id.int not in logged_before] if logged_before else unique
    result = Projected(applied=len(fresh), duplicates=len(incoming) - len(fresh))
    if not fresh:
        return result

    subjects = [subject_of(p) if p is not None else None for _, p in fresh]
    # In id order, not a set's: the live store locks the rows as it loads them, and replicas that
    # load the same dossiers must lock them in the same order or deadlock (saved in that order too).
    dossier_ids = sorted({s[1] for s in subjects if s and s[0] == "dossier"})
    bundle_ids = sorted({s[1] for s in subjects if s and s[0] == "bundle"})
    dossiers = await store.load_dossiers(dossier_ids) if dossier_ids else {}
    bundles = await store.load_bundles(bundle_ids) if bundle_ids else {}
    touched: list[DossierFacts | BundleFacts | None] = []
    for (envelope, payload), subject in zip(fresh, subjects, strict=True):
        facts: DossierFacts | BundleFacts | None = None
        if payload is not None and subject is not None:
            kind, key = subject
            if kind == "dossier":
                facts = dossiers.get(key) or dossiers.setdefault(key, DossierFacts(key))
            else:
                facts = bundles.get(key) or bundles.setdefault(key, BundleFacts(key))
            apply(facts, payload, envelope.occurred_at)
        touched.append(facts)
    changed_dossiers = [dossiers[k] for k in dossier_ids]
    changed_bundles = [bundles[k] for k in bundle_ids]
    if derive is not None:
        changed_dossiers = [derive.dossier(f) for f in changed_dossiers]
        changed_bundles = [derive.bundle(f) for f in changed_bundles]
    if changed_dossiers:
        await store.save_dossiers(changed_dossiers)
    if changed_bundles:
        await store.save_bundles(changed_bundles)
    # Derived fields (e.g. field) are final now; the feed shows the state after the whole batch.
    if feed:
        result.items = [feed_item(envelope, facts) for (envelope, _), facts in zip(fresh, touched, strict=True)]
    return result

"""In-memory fake of reporting's projection store port."""

from __future__ import annotations

import copy
from collections.abc import Collection, Sequence
from uuid import UUID

from contracts.catalogue import load_catalogue
from reporting.domain.facts import BundleFacts, DossierFacts
from reporting.domain.outcome import Derivation
from reporting.service_layer.ports import EventRecord
from workcal import WorkCalendar


class InMemoryProjectionStore:
    """Keeps facts in dicts; hands out copies, as a database would."""

    def __init__(self) -> None:
        self.log: dict[UUID, EventRecord] = {}
        self.dossiers: dict[str, DossierFacts] = {}
        self.bundles: dict[str, BundleFacts] = {}

    async def record_events(self, records: Sequence[EventRecord]) -> set[UUID]:
        before = {r.event_id for r in records if r.event_id in self.log}
        self.log.update({r.event_id: r for r in records if r.event_id not in before})
        return before

    async def load_dossiers(self, ids: Collection[str]) -> dict[str, DossierFacts]:
        return {i: copy.copy(self.dossiers[i]) for i in ids if i in self.dossiers}

    async def load_bundles(self, ids: Collection[str]) -> dict[str, BundleFacts]:
        return {i: copy.copy(self.bundles[i]) for i in ids if i in self.bundles}

    async def save_dossiers(self, facts: Sequence[DossierFacts]) -> None:
        self.dossiers.update({f.dossier_id: copy.copy(f) for f in facts})

    async def save_bundles(self, facts: Sequence[BundleFacts]) -> None:
        self.bundles.update({f.bundle_id: copy.copy(f) for f in facts})

    async def insert_dossiers(self, facts: Sequence[DossierFacts]) -> None:
        present = [f.dossier_id for f in facts if f.dossier_id in self.dossiers]
        assert not present, f"inserted again (a COPY would violate the primary key): {present}"
        await self.save_dossiers(facts)

    async def insert_events(self, records: Sequence[EventRecord]) -> None:
        present = [r.event_id for r in records if r.event_id in self.log]
        assert not present, f"logged again (a COPY would violate the primary key): {present}"
        self.log.update({r.event_id: r for r in records})

    async def insert_bundles(self, facts: Sequence[BundleFacts]) -> None:
        present = [f.bundle_id for f in facts if f.bundle_id in self.bundles]
        assert not present, f"inserted again (a COPY would violate the primary key): {present}"
        await self.save_bundles(facts)


def catalogue_derivation() -> Derivation:
    """What the service derives facts with, from the shipped catalogue: each procedure's field and the
    bundles' first steps."""
    catalogue = load_catalogue()
    fields = {p.code: p.field for p in catalogue.procedures.values()}
    first_steps = {b.steps[0].step_id for b in catalogue.bundles.values()}
    return Derivation(WorkCalendar(), fields, first_steps)

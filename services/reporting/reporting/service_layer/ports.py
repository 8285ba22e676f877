"""The ports the projection handlers use; adapters implement them (PostgreSQL), tests fake them."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from reporting.domain.facts import BundleFacts, DossierFacts


@dataclass(slots=True)
class EventRecord:
    """One line of the projected-event log: enough to deduplicate, count and list recent events."""

    event_id: UUID
    type: str
    version: int
    producer: str
    key: str
    occurred_at: datetime
    dossier_id: str | None
    bundle_id: str | None
    agency: str | None
    code: str | None


class ProjectionStore(Protocol):
    """Read-model storage inside one transaction."""

    async def record_events(self, records: Sequence[EventRecord]) -> set[UUID]:
        """Log the events (distinct ids); returns the ids that were logged before (not to apply again).

        Duplicates are rare: answering with them rather than with the new ids spares a rebuild
        reading back thousands of ids per batch."""
        ...

    async def load_dossiers(self, ids: Collection[str]) -> dict[str, DossierFacts]:
        """The stored facts of these dossiers (absent ones are left out), locked for this transaction."""
        ...

    async def load_bundles(self, ids: Collection[str]) -> dict[str, BundleFacts]:
        """The stored facts of these bundles, locked for this transaction."""
        ...

    async def save_dossiers(self, facts: Sequence[DossierFacts]) -> None:
        """Insert or replace these dossiers' facts."""
        ...

    async def save_bundles(self, facts: Sequence[BundleFacts]) -> None:
        """Insert or replace these bundles' facts."""
        ...


class BulkProjectionStore(ProjectionStore, Protocol):
    """A store a rebuild fills: it can also add rows known to be absent, faster than replacing them."""

    async def insert_events(self, records: Sequence[EventRecord]) -> None:
        """Log these events; none of them is logged yet."""
        ...

    async def insert_dossiers(self, facts: Sequence[DossierFacts]) -> None:
        """Add these dossiers' facts; none of them is stored yet."""
        ...

    async def insert_bundles(self, facts: Sequence[BundleFacts]) -> None:
        """Add these bundles' facts; none of them is stored yet."""
        ...


@dataclass(frozen=True)
class Scope:
    """Which dossiers and which time window an aggregate covers."""

    start: datetime | None = None
    end: datetime | None = None
    agencies: list[str] | None = None
    field: str | None = None
    procedure: str | None = None
    satisfied_min_score: int = 4
    dislike_max_score: int = 2
    #: The agencies' dossiers are those they received, not those they decide: a one-stop centre decides
    #: no procedure, and its figures (DOMAIN.md: Ninh Bình centre, 55,428 dossiers) are what it took in.
    by_receiving: bool = False
    #: The steps bundles start with (None: every dossier may await reception): an online bundle's later
    #: step is registered at submission and received when its bundle releases it, by no official.
    first_bundle_steps: list[str] | None = None

    def params(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "agencies": self.agencies,
            "receiving": self.by_receiving,
            "field": self.field,
            "procedure": self.procedure,
            "satisfied": self.satisfied_min_score,
            "dislike": self.dislike_max_score,
            "first_steps": self.first_bundle_steps,
        }


class ReadModel(Protocol):
    """The aggregates the metrics API reads."""

    async def summary(self, scope: Scope) -> dict[str, Any]: ...

    async def overdue_by_field(self, scope: Scope) -> list[dict[str, Any]]: ...

    async def bundles(self, scope: Scope) -> list[dict[str, Any]]: ...

    async def trend(self, scope: Scope, unit: str, limit: int) -> list[dict[str, Any]]: ...

    async def losses(self, scope: Scope, unit_costs: dict[str, float], limit: int) -> list[dict[str, Any]]: ...

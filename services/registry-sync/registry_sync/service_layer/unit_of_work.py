"""The ports registry-sync's handlers use: one transaction holding the event store, the outbox
and our three stores. ``adapters.repository`` implements them on PostgreSQL inside eventkit's
SqlUnitOfWork; ``adapters.memory`` in memory for unit tests."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from contracts.envelope import Envelope
from eventkit.eventstore import EventStore
from eventkit.outbox import Outbox
from registry_sync.domain.commands import RegistryCommand
from registry_sync.domain.portal_sync import DossierSync
from registry_sync.domain.reconciliation import ReconciliationReport


@dataclass(frozen=True)
class StatusCount:
    """One group of a status summary: how many, the oldest pending, lags (seconds)."""

    status: str
    count: int
    system: str | None = None
    ready: bool = True
    oldest: datetime | None = None
    avg_lag_seconds: float | None = None
    max_lag_seconds: float | None = None


@dataclass(frozen=True)
class Failure:
    """A failed command or sync, for operators."""

    id: str
    dossier_id: str
    reason: str
    at: datetime | None
    code: str | None = None
    system: str | None = None
    operation: str | None = None


class CommandStore(Protocol):
    async def add(self, command: RegistryCommand) -> bool:
        """Insert unless a command with this id exists; True if inserted."""
        ...

    async def get(self, command_id: str, *, for_update: bool = False) -> RegistryCommand | None: ...

    async def save(self, command: RegistryCommand) -> None: ...

    async def claim_due(self, system: str, now: datetime, limit: int, lease_until: datetime) -> list[RegistryCommand]:
        """Up to ``limit`` due pending commands of ``system``, leased until ``lease_until``."""
        ...

    async def renew(self, leases: Sequence[tuple[str, datetime]], until: datetime) -> set[str]:
        """Extend to ``until`` the leases still held: ``(command_id, lease)`` pairs whose command is
        pending with that very lease (a lease's end is its token: a recorded outcome or another
        worker's claim changes it). Returns the ids renewed."""
        ...

    async def counts(self) -> list[StatusCount]: ...

    async def pending(self) -> StatusCount:
        """How many wait (status pending) and since when the oldest: ``GET /metrics`` reads it at every
        scrape, so it reads the pending rows alone (an index), not the whole table as ``counts``."""
        ...

    async def failures(self, limit: int) -> list[Failure]: ...


class DossierStore(Protocol):
    async def get(self, dossier_id: str, *, for_update: bool = False) -> DossierSync | None: ...

    async def get_many(self, dossier_ids: Sequence[str], *, for_update: bool = False) -> dict[str, DossierSync]:
        """The ones we have, by id; locked in id order with ``for_update`` (callers pass them sorted)."""
        ...

    async def save(self, sync: DossierSync) -> None: ...

    async def save_many(self, syncs: Sequence[DossierSync]) -> None: ...

    async def claim_due(self, now: datetime, limit: int, lease_until: datetime) -> list[DossierSync]:
        """Up to ``limit`` due pending dossiers ready to push, leased until ``lease_until``."""
        ...

    async def renew(self, leases: Sequence[tuple[str, datetime]], until: datetime) -> set[str]:
        """As :meth:`CommandStore.renew`, for ``(dossier_id, lease)`` pairs."""
        ...

    async def in_code_order(self, after: str | None, limit: int) -> list[DossierSync]:
        """Dossiers by code (byte order), after ``after``: reconciliation walks them with the portal."""
        ...

    async def showing_unpaid(self, states: Collection[int], after: str | None, limit: int) -> list[str]:
        """The ids, in id order after ``after``, of up to ``limit`` dossiers in one of ``states`` with
        a fee line the portal is shown as owed (no payment time, less paid than its amount): what
        :mod:`~registry_sync.service_layer.ended_fee_lines` looks at again. No locks."""
        ...

    async def counts(self) -> list[StatusCount]: ...

    async def pending(self) -> StatusCount:
        """How many wait (status pending) and since when the oldest: ``GET /metrics`` reads it at every
        scrape, so it reads the pending rows alone (an index), not the whole table as ``counts``."""
        ...

    async def failed(self) -> int:
        """How many dossiers' pushes failed (status failed: the portal refused it, or we gave up), read
        as :meth:`pending` is, for ``GET /metrics``: a refusal was counted by no series at all."""
        ...

    async def failures(self, limit: int) -> list[Failure]: ...


class ReconciliationStore(Protocol):
    async def add(self, report: ReconciliationReport) -> int: ...

    async def latest(self) -> ReconciliationReport | None: ...


class RegistryUnitOfWork(Protocol):
    @property
    def events(self) -> EventStore: ...

    @property
    def outbox(self) -> Outbox: ...

    @property
    def commands(self) -> CommandStore: ...

    @property
    def dossiers(self) -> DossierStore: ...

    @property
    def reconciliations(self) -> ReconciliationStore: ...

    async def record(self, stream_id: str, expected_version: int, envelopes: Sequence[Envelope], topic: str) -> int: ...


UnitOfWorkFactory = Callable[[], AbstractAsyncContextManager[RegistryUnitOfWork]]
Clock = Callable[[], datetime]

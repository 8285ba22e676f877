"""The ports handlers depend on. Adapters: SQL in :mod:`workflow.adapters.sql`, in-memory fakes in
:mod:`workflow.adapters.memory` (unit tests)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from contracts.envelope import Envelope
from eventkit.eventstore import EventStore
from eventkit.outbox import Outbox
from workflow.domain.commands import TimerKind
from workflow.domain.saga import BundleSaga


class Clock(Protocol):
    """Where "now" comes from; tests move it to fire timers without waiting days."""

    def now(self) -> datetime: ...


@dataclass(frozen=True)
class Task:
    """A dossier waiting for an official of ``agency``: a row of the officials' task list."""

    dossier_id: str
    agency: str
    code: str
    procedure_code: str
    status: str
    status_code: int
    waiting_for: str
    due_at: datetime
    appointment_at: datetime | None
    since: datetime
    bundle_id: str | None
    overdue: bool
    delivery: str | None = None  # a return: "counter" or "postal"


@dataclass(frozen=True)
class Timer:
    dossier_id: str
    kind: TimerKind
    fire_at: datetime


@dataclass(frozen=True)
class DueTimers:
    """The timers whose time has come and that have not fired: the poller's backlog."""

    count: int
    oldest_fire_at: datetime | None  # None when there are none


#: Where a task stands in an agency's list: (due_at, dossier_id), the order the list is read in.
TaskPosition = tuple[datetime, str]


class TaskBoard(Protocol):
    async def put(self, task: Task) -> None: ...
    async def remove(self, dossier_id: str) -> None: ...
    async def for_agency(
        self, agency: str, limit: int, waiting_for: Collection[str] = (), after: TaskPosition | None = None
    ) -> list[Task]:
        """The agency's tasks, soonest due first (then by dossier id); only those waiting for one of
        ``waiting_for``, if given; only those after ``after`` (the last of the previous page), if given."""
        ...


class TimerTable(Protocol):
    async def arm(self, *timers: Timer) -> None:
        """Schedule (or move) each timer (one per dossier and kind); a moved timer fires again."""
        ...

    async def disarm(self, dossier_id: str, kind: TimerKind | None = None) -> None:
        """Forget the dossier's unfired timers (of that kind)."""
        ...

    async def claim_next(self, now: datetime, skip: frozenset[tuple[str, str]]) -> Timer | None:
        """Lock one due, unfired timer that no other transaction holds (SKIP LOCKED)."""
        ...

    async def mark_fired(self, timer: Timer, at: datetime) -> None: ...

    async def postpone(self, timer: Timer, until: datetime) -> None:
        """Fire ``timer`` at ``until`` instead, if it is still unfired and due when it was claimed (a
        decision that moved it meanwhile wins)."""
        ...

    async def due_unfired(self, now: datetime) -> DueTimers:
        """How many timers are due at ``now`` and not fired, and the oldest one's fire_at (GET /metrics):
        a poller that keeps failing or has stalled shows here, whatever it logs."""
        ...


class BundleRepository(Protocol):
    async def add(self, saga: BundleSaga) -> bool:
        """Store a new saga; False if the bundle already has one."""
        ...

    async def lock(self, bundle_id: str) -> BundleSaga | None:
        """The saga, locked for this unit of work (always before any of its dossiers' streams)."""
        ...

    async def lock_in_order(self, bundle_ids: Sequence[str]) -> None:
        """Lock these bundles in id order: a transaction about to touch several takes them first, so
        that two such transactions cannot each hold one the other waits for."""
        ...

    async def of_dossiers(self, dossier_ids: Sequence[str]) -> set[str]:
        """The bundles these dossiers are steps of."""
        ...

    async def get(self, bundle_id: str) -> BundleSaga | None: ...
    async def save(self, saga: BundleSaga) -> None: ...
    async def ended_since(self, since: datetime | None) -> list[str]:
        """The bundles that ended partially and whose row changed at ``since`` or later (None: ever), in
        id order."""
        ...

    async def swept_until(self) -> datetime | None:
        """Up to when the ended bundles were mended (any replica's sweep); None before the first sweep."""
        ...

    async def mark_swept(self, until: datetime) -> None:
        """The bundles that ended before ``until`` are mended (a later mark already kept stays)."""
        ...


class IssuedNumbers(Protocol):
    """The numbers workflow issued (table ``issued_id_numbers``): personal identification numbers as
    they are, and the numbers of papers it numbered as ``<field>:<number>`` (``handlers.issued_key``)."""

    async def claim(self, id_number: str, dossier_id: str) -> bool:
        """Record ``id_number`` as issued for ``dossier_id``: True if it was free (or already this
        dossier's), False if another dossier holds it."""
        ...


class WorkflowUnitOfWork(Protocol):
    """One transaction over the event store, the outbox and workflow's own tables."""

    @property
    def events(self) -> EventStore: ...
    @property
    def outbox(self) -> Outbox: ...
    @property
    def tasks(self) -> TaskBoard: ...
    @property
    def timers(self) -> TimerTable: ...
    @property
    def bundles(self) -> BundleRepository: ...
    @property
    def id_numbers(self) -> IssuedNumbers: ...

    async def record(
        self, stream_id: str, expected_version: int, envelopes: Sequence[Envelope], topic: str | Sequence[str | None]
    ) -> int:
        """Append to a stream and queue the same events for ``topic`` (one statement on SQL); returns the
        new version or raises ConcurrencyConflict."""
        ...

    async def lock_dossier(self, dossier_id: str, *, wait: bool = True) -> bool:
        """Hold the dossier for the rest of the transaction; every writer does before appending to it.
        With ``wait=False``, False instead of waiting when another transaction holds it."""
        ...


#: Opens a new unit of work (a transaction) each call.
UnitOfWorkFactory = Callable[[], AbstractAsyncContextManager[WorkflowUnitOfWork]]

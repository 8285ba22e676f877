"""In-memory fakes of workflow's ports, for unit tests: same contracts, no database.

``InMemoryWorkflowUnitOfWork`` behaves like a transaction: a block that raises leaves no trace in
the event store, the outbox or the tables.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

from contracts.envelope import Envelope
from eventkit.uow import InMemoryUnitOfWork
from workflow.domain.commands import TimerKind
from workflow.domain.saga import BundleSaga
from workflow.service_layer.ports import DueTimers, Task, TaskPosition, Timer


class InMemoryTaskBoard:
    def __init__(self) -> None:
        self.rows: dict[str, Task] = {}

    async def put(self, task: Task) -> None:
        self.rows[task.dossier_id] = task

    async def remove(self, dossier_id: str) -> None:
        self.rows.pop(dossier_id, None)

    async def for_agency(
        self, agency: str, limit: int, waiting_for: Collection[str] = (), after: TaskPosition | None = None
    ) -> list[Task]:
        mine = [t for t in self.rows.values() if t.agency == agency]
        wanted = [t for t in mine if not waiting_for or t.waiting_for in waiting_for]
        later = [t for t in wanted if after is None or (t.due_at, t.dossier_id) > after]
        return sorted(later, key=lambda t: (t.due_at, t.dossier_id))[:limit]


class InMemoryTimerTable:
    def __init__(self) -> None:
        #: (dossier_id, kind) -> (fire_at, fired_at)
        self.rows: dict[tuple[str, str], tuple[datetime, datetime | None]] = {}

    async def arm(self, *timers: Timer) -> None:
        for timer in timers:
            key = (timer.dossier_id, timer.kind)
            current = self.rows.get(key)
            if current is None or current[0] != timer.fire_at:
                self.rows[key] = (timer.fire_at, None)

    async def disarm(self, dossier_id: str, kind: TimerKind | None = None) -> None:
        for key, (_, fired) in list(self.rows.items()):
            if key[0] == dossier_id and fired is None and kind in (None, key[1]):
                del self.rows[key]

    async def claim_next(self, now: datetime, skip: frozenset[tuple[str, str]]) -> Timer | None:
        due = sorted(
            (fire, key) for key, (fire, fired) in self.rows.items() if fired is None and fire <= now and key not in skip
        )
        if not due:
            return None
        fire, (dossier_id, kind) = due[0]
        return Timer(dossier_id, kind, fire)  # type: ignore[arg-type]

    async def postpone(self, timer: Timer, until: datetime) -> None:
        key = (timer.dossier_id, timer.kind)
        if self.rows.get(key) == (timer.fire_at, None):
            self.rows[key] = (until, None)

    async def mark_fired(self, timer: Timer, at: datetime) -> None:
        key = (timer.dossier_id, timer.kind)
        self.rows[key] = (self.rows[key][0], at)

    async def due_unfired(self, now: datetime) -> DueTimers:
        due = [fire for fire, fired in self.rows.values() if fired is None and fire <= now]
        return DueTimers(len(due), min(due, default=None))

    def pending(self, dossier_id: str) -> dict[str, datetime]:
        """The dossier's unfired timers by kind (for assertions)."""
        return {k: fire for (d, k), (fire, fired) in self.rows.items() if d == dossier_id and fired is None}


class InMemoryBundleRepository:
    def __init__(self) -> None:
        self.rows: dict[str, BundleSaga] = {}
        #: When each row last changed, by the wall clock, as the database's now() stamps it.
        self.updated_at: dict[str, datetime] = {}
        self.swept: datetime | None = None

    async def add(self, saga: BundleSaga) -> bool:
        if saga.bundle_id in self.rows:
            return False
        await self.save(saga)
        return True

    async def lock(self, bundle_id: str) -> BundleSaga | None:
        return await self.get(bundle_id)

    async def lock_in_order(self, bundle_ids: Sequence[str]) -> None:
        return None  # one coroutine at a time: nothing to wait for

    async def of_dossiers(self, dossier_ids: Sequence[str]) -> set[str]:
        wanted = set(dossier_ids)
        return {s.bundle_id for s in self.rows.values() if wanted & {step.dossier_id for step in s.steps}}

    async def get(self, bundle_id: str) -> BundleSaga | None:
        saga = self.rows.get(bundle_id)
        return None if saga is None else saga.model_copy(deep=True)

    async def save(self, saga: BundleSaga) -> None:
        self.rows[saga.bundle_id] = saga.model_copy(deep=True)
        self.updated_at[saga.bundle_id] = datetime.now(UTC)

    async def ended_since(self, since: datetime | None) -> list[str]:
        return sorted(
            bundle_id
            for bundle_id, saga in self.rows.items()
            if saga.status == "partially_completed" and (since is None or self.updated_at[bundle_id] >= since)
        )

    async def swept_until(self) -> datetime | None:
        return self.swept

    async def mark_swept(self, until: datetime) -> None:
        self.swept = until if self.swept is None else max(self.swept, until)


class InMemoryIssuedNumbers:
    def __init__(self) -> None:
        self.rows: dict[str, str] = {}

    async def claim(self, id_number: str, dossier_id: str) -> bool:
        return self.rows.setdefault(id_number, dossier_id) == dossier_id


class InMemoryWorkflowUnitOfWork:
    """One shared store; each ``async with`` is a transaction that a raised exception rolls back."""

    def __init__(self) -> None:
        self._base = InMemoryUnitOfWork()
        self.events = self._base.events
        self.outbox = self._base.outbox
        self.tasks = InMemoryTaskBoard()
        self.timers = InMemoryTimerTable()
        self.bundles = InMemoryBundleRepository()
        self.id_numbers = InMemoryIssuedNumbers()

    async def record(
        self, stream_id: str, expected_version: int, envelopes: Sequence[Envelope], topic: str | Sequence[str | None]
    ) -> int:
        return await self._base.record(stream_id, expected_version, envelopes, topic)

    async def lock_dossier(self, dossier_id: str, *, wait: bool = True) -> bool:
        return True  # one coroutine at a time: nothing to wait for

    async def __aenter__(self) -> Self:
        await self._base.__aenter__()
        self._snapshot = copy.deepcopy((self.tasks.rows, self.timers.rows, self.bundles.rows, self.id_numbers.rows))
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._base.__aexit__(exc_type, exc, tb)
        if exc_type is not None:
            self.tasks.rows, self.timers.rows, self.bundles.rows, self.id_numbers.rows = self._snapshot
            self.events = self._base.events

    def __call__(self) -> Self:
        """As its own unit-of-work factory: every transaction sees the same data."""
        return self

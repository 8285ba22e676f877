"""The same stores in memory, with transactions that roll back: the fakes unit tests drive the
real handlers with (eventkit's InMemoryUnitOfWork supplies the event store and outbox)."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from contracts.envelope import Envelope
from eventkit.uow import InMemoryUnitOfWork
from registry_sync.domain.commands import CommandStatus, RegistryCommand
from registry_sync.domain.portal_sync import DossierSync, SyncStatus
from registry_sync.domain.reconciliation import ReconciliationReport
from registry_sync.service_layer.unit_of_work import Failure, RegistryUnitOfWork, StatusCount


def _renew(
    rows: Mapping[str, RegistryCommand] | Mapping[str, DossierSync],
    leases: Sequence[tuple[str, datetime]],
    until: datetime,
) -> set[str]:
    """The SQL stores' renewal: only a pending row still holding that very lease is extended."""
    renewed = set()
    for key, lease in leases:
        row = rows.get(key)
        if row is not None and row.status.value == "pending" and row.next_attempt_at == lease:
            row.lease(until)
            renewed.add(key)
    return renewed


class InMemoryCommandStore:
    def __init__(self) -> None:
        self.rows: dict[str, RegistryCommand] = {}

    async def add(self, command: RegistryCommand) -> bool:
        if command.command_id in self.rows:
            return False
        self.rows[command.command_id] = copy.deepcopy(command)
        return True

    async def get(self, command_id: str, *, for_update: bool = False) -> RegistryCommand | None:
        row = self.rows.get(command_id)
        return copy.deepcopy(row)

    async def save(self, command: RegistryCommand) -> None:
        self.rows[command.command_id] = copy.deepcopy(command)

    async def claim_due(self, system: str, now: datetime, limit: int, lease_until: datetime) -> list[RegistryCommand]:
        due = sorted(
            (
                c
                for c in self.rows.values()
                if c.status is CommandStatus.PENDING and c.system == system and c.next_attempt_at <= now
            ),
            key=lambda c: c.next_attempt_at,
        )[:limit]
        for command in due:
            command.lease(lease_until)
        return [copy.deepcopy(c) for c in due]

    async def renew(self, leases: Sequence[tuple[str, datetime]], until: datetime) -> set[str]:
        return _renew(self.rows, leases, until)

    async def pending(self) -> StatusCount:
        waiting = [c.received_at for c in self.rows.values() if c.status.value == "pending"]
        return StatusCount(status="pending", count=len(waiting), oldest=min(waiting, default=None))

    async def counts(self) -> list[StatusCount]:
        groups: dict[tuple[str, str], list[RegistryCommand]] = {}
        for c in self.rows.values():
            groups.setdefault((c.system, c.status.value), []).append(c)
        return [
            StatusCount(
                status=status,
                count=len(rows),
                system=system,
                oldest=min(r.received_at for r in rows) if status == "pending" else None,
            )
            for (system, status), rows in groups.items()
        ]

    async def failures(self, limit: int) -> list[Failure]:
        failed = [c for c in self.rows.values() if c.status is CommandStatus.FAILED]
        return [
            Failure(
                c.command_id, c.dossier_id, c.last_error or "", c.completed_at, system=c.system, operation=c.operation
            )
            for c in failed[:limit]
        ]


class InMemoryDossierStore:
    def __init__(self) -> None:
        self.rows: dict[str, DossierSync] = {}

    async def get(self, dossier_id: str, *, for_update: bool = False) -> DossierSync | None:
        return copy.deepcopy(self.rows.get(dossier_id))

    async def get_many(self, dossier_ids: Sequence[str], *, for_update: bool = False) -> dict[str, DossierSync]:
        return {i: copy.deepcopy(self.rows[i]) for i in dossier_ids if i in self.rows}

    async def save(self, sync: DossierSync) -> None:
        self.rows[sync.dossier_id] = copy.deepcopy(sync)

    async def save_many(self, syncs: Sequence[DossierSync]) -> None:
        for sync in syncs:
            await self.save(sync)

    async def claim_due(self, now: datetime, limit: int, lease_until: datetime) -> list[DossierSync]:
        due = sorted(
            (s for s in self.rows.values() if s.status is SyncStatus.PENDING and s.ready and s.next_attempt_at <= now),
            key=lambda s: s.next_attempt_at,
        )[:limit]
        for sync in due:
            sync.lease(lease_until)
        return [copy.deepcopy(s) for s in due]

    async def renew(self, leases: Sequence[tuple[str, datetime]], until: datetime) -> set[str]:
        return _renew(self.rows, leases, until)

    async def in_code_order(self, after: str | None, limit: int) -> list[DossierSync]:
        ordered = sorted(self.rows.values(), key=lambda s: s.code.encode())
        return [copy.deepcopy(s) for s in ordered if after is None or s.code.encode() > after.encode()][:limit]

    async def showing_unpaid(self, states: Collection[int], after: str | None, limit: int) -> list[str]:
        shown_owed = (
            s.dossier_id
            for s in self.rows.values()
            if s.record.state in states and any(f.paid_at is None and f.paid_vnd < f.amount_vnd for f in s.record.fees)
        )
        return [i for i in sorted(shown_owed) if after is None or i > after][:limit]

    async def pending(self) -> StatusCount:
        waiting = [s for s in self.rows.values() if s.status.value == "pending"]
        since = [s.unsynced_since for s in waiting if s.unsynced_since is not None]
        return StatusCount(status="pending", count=len(waiting), oldest=min(since, default=None))

    async def failed(self) -> int:
        return sum(s.status is SyncStatus.FAILED for s in self.rows.values())

    async def counts(self) -> list[StatusCount]:
        groups: dict[tuple[str, bool], list[DossierSync]] = {}
        for s in self.rows.values():
            groups.setdefault((s.status.value, s.ready), []).append(s)
        result = []
        for (status, ready), rows in groups.items():
            lags = [r.last_lag_seconds for r in rows if r.last_lag_seconds is not None]
            since = [r.unsynced_since for r in rows if r.unsynced_since is not None]
            result.append(
                StatusCount(
                    status=status,
                    count=len(rows),
                    ready=ready,
                    oldest=min(since) if since else None,
                    avg_lag_seconds=sum(lags) / len(lags) if lags else None,
                    max_lag_seconds=max(lags) if lags else None,
                )
            )
        return result

    async def failures(self, limit: int) -> list[Failure]:
        failed = [s for s in self.rows.values() if s.status is SyncStatus.FAILED]
        return [
            Failure(s.dossier_id, s.dossier_id, s.last_error or "", s.last_attempt_at, code=s.code)
            for s in failed[:limit]
        ]


class InMemoryReconciliationStore:
    def __init__(self) -> None:
        self.reports: list[ReconciliationReport] = []

    async def add(self, report: ReconciliationReport) -> int:
        report.id = len(self.reports) + 1
        self.reports.append(copy.deepcopy(report))
        return report.id

    async def latest(self) -> ReconciliationReport | None:
        return copy.deepcopy(self.reports[-1]) if self.reports else None


class InMemoryRegistry:
    """All state of a registry-sync instance in memory; :meth:`unit_of_work` opens a transaction."""

    def __init__(self) -> None:
        self.base = InMemoryUnitOfWork()
        self.events = self.base.events
        self.outbox = self.base.outbox
        self.commands = InMemoryCommandStore()
        self.dossiers = InMemoryDossierStore()
        self.reconciliations = InMemoryReconciliationStore()

    async def record(self, stream_id: str, expected_version: int, envelopes: Sequence[Envelope], topic: str) -> int:
        return await self.base.record(stream_id, expected_version, envelopes, topic)

    def published(self, event_type: str | None = None) -> list[Envelope]:
        """What went to the outbox, optionally of one type."""
        return [e for e in self.outbox.envelopes() if event_type in (None, e.type)]

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[RegistryUnitOfWork]:
        snapshot: dict[str, Any] = {
            "commands": copy.deepcopy(self.commands.rows),
            "dossiers": copy.deepcopy(self.dossiers.rows),
            "reports": copy.deepcopy(self.reconciliations.reports),
        }
        async with self.base:
            try:
                yield self
            except BaseException:
                self.commands.rows = snapshot["commands"]
                self.dossiers.rows = snapshot["dossiers"]
                self.reconciliations.reports = snapshot["reports"]
                raise

"""Registry-sync's stores on its own PostgreSQL tables, inside the caller's transaction (the one
eventkit's SqlUnitOfWork holds), so a state change and its outcome event commit together."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import fields
from datetime import datetime

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.envelope import Envelope
from eventkit.uow import SqlUnitOfWork
from registry_sync.adapters.sql_commands import SqlCommandStore, json_text
from registry_sync.adapters.sql_dossiers import SqlDossierStore
from registry_sync.domain.reconciliation import ReconciliationReport
from registry_sync.service_layer.unit_of_work import RegistryUnitOfWork, UnitOfWorkFactory

_REPORT_FIELDS = frozenset(f.name for f in fields(ReconciliationReport))


class SqlReconciliationStore:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, report: ReconciliationReport) -> int:
        row = await self._conn.execute(
            text(
                "INSERT INTO reconciliations (trigger, started_at, finished_at, report)"
                " VALUES (:trigger, :started, :finished, CAST(:report AS JSONB)) RETURNING id"
            ),
            {
                "trigger": report.trigger,
                "started": report.started_at,
                "finished": report.finished_at or report.started_at,
                "report": json_text(report.as_json()),
            },
        )
        return int(row.scalar_one())

    async def latest(self) -> ReconciliationReport | None:
        row = (
            await self._conn.execute(text("SELECT id, report::text FROM reconciliations ORDER BY id DESC LIMIT 1"))
        ).first()
        if row is None:
            return None
        # Counts this build does not know (a newer one's) are left out, and "repushed" is derived.
        data = {k: v for k, v in orjson.loads(row[1]).items() if k in _REPORT_FIELDS}
        data["id"] = row[0]
        for key in ("started_at", "finished_at"):
            data[key] = datetime.fromisoformat(data[key]) if data[key] else None
        return ReconciliationReport(**data)


class SqlRegistryUnitOfWork:
    """Our stores on the connection of an open eventkit unit of work (a consumer's, or our own)."""

    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow
        self.events = uow.events
        self.outbox = uow.outbox
        self.commands = SqlCommandStore(uow.conn)
        self.dossiers = SqlDossierStore(uow.conn)
        self.reconciliations = SqlReconciliationStore(uow.conn)

    async def record(self, stream_id: str, expected_version: int, envelopes: Sequence[Envelope], topic: str) -> int:
        return await self._uow.record(stream_id, expected_version, envelopes, topic)


def sql_unit_of_work_factory(new: Callable[[], SqlUnitOfWork]) -> UnitOfWorkFactory:
    """A factory of transactions from ``new`` (the runtime's), each with our stores."""

    @asynccontextmanager
    async def unit_of_work() -> AsyncIterator[RegistryUnitOfWork]:
        async with new() as uow:
            yield SqlRegistryUnitOfWork(uow)

    return unit_of_work

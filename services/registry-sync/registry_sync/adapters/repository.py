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
#: Counts added to the report after its first build: stored apart (migration 0003), where a build that
#: does not know them does not read them.
_LATER_COUNTS = ("refused_waiting",)


class SqlReconciliationStore:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, report: ReconciliationReport) -> int:
        data = report.as_json()
        later = {name: data.pop(name) for name in _LATER_COUNTS}
        row = await self._conn.execute(
            text(
                "INSERT INTO reconciliations (trigger, started_at, finished_at, report, more_counts)"
                " VALUES (:trigger, :started, :finished, CAST(:report AS JSONB), CAST(:later AS JSONB)) RETURNING id"
            ),
            {
                "trigger": report.trigger,
                "started": report.started_at,
                "finished": report.finished_at or report.started_at,
                "report": json_text(data),
                "later": json_text(later),
            },
        )
        return int(row.scalar_one())

    async def latest(self) -> ReconciliationReport | None:
        query = "SELECT id, report::text, more_counts::text FROM reconciliations ORDER BY id DESC LIMIT 1"
        row = (await self._conn.execute(text(query))).first()
        if row is None:
            return None
        # Counts this build does not know (a newer one's) are left out, and "repushed" is derived.
        stored = {**orjson.loads(row[1]), **orjson.loads(row[2])}
        data = {k: v for k, v in stored.items() if k in _REPORT_FIELDS}
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

"""Registry commands on the ``registry_commands`` table, inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from eventkit.db import limit_to_scrape
from registry_sync.adapters.leases import renew_leases
from registry_sync.domain.commands import CommandStatus, RegistryCommand
from registry_sync.service_layer.unit_of_work import Failure, StatusCount

_COMMAND_COLUMNS = (
    "command_id, system, operation, dossier_id, bundle_id, step_id, agency, data::text, status, attempts,"
    " next_attempt_at, first_attempt_at, last_error, error_code, last_http_status, result::text, requested_at,"
    " received_at, completed_at, correlation_id, causation_id"
)


def json_text(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _command(row: Row[Any]) -> RegistryCommand:
    (cid, system, operation, dossier_id, bundle_id, step_id, agency, data, status, attempts, next_at, first_at, error,
     error_code, http_status, result, requested_at, received_at, completed_at, correlation_id,
     causation_id) = tuple(row)  # fmt: skip
    return RegistryCommand(
        command_id=cid,
        system=system,
        operation=operation,
        dossier_id=dossier_id,
        bundle_id=bundle_id,
        step_id=step_id,
        agency=agency,
        data=orjson.loads(data),
        status=CommandStatus(status),
        attempts=attempts,
        next_attempt_at=next_at,
        first_attempt_at=first_at,
        last_error=error,
        error_code=error_code,
        last_http_status=http_status,
        result=orjson.loads(result) if result else None,
        requested_at=requested_at,
        received_at=received_at,
        completed_at=completed_at,
        correlation_id=correlation_id,
        causation_id=causation_id,
    )


class SqlCommandStore:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, command: RegistryCommand) -> bool:
        inserted = await self._conn.execute(
            text(
                f"INSERT INTO registry_commands ({_COMMAND_COLUMNS.replace('::text', '')}) VALUES (:command_id,"
                " :system, :operation, :dossier_id, :bundle_id, :step_id, :agency, CAST(:data AS JSONB), :status,"
                " :attempts, :next_attempt_at, :first_attempt_at, :last_error, :error_code, :last_http_status,"
                " CAST(:result AS JSONB), :requested_at, :received_at, :completed_at, :correlation_id, :causation_id)"
                " ON CONFLICT (command_id) DO NOTHING RETURNING 1"
            ),
            self._params(command),
        )
        return inserted.first() is not None

    async def get(self, command_id: str, *, for_update: bool = False) -> RegistryCommand | None:
        lock = " FOR UPDATE" if for_update else ""
        query = f"SELECT {_COMMAND_COLUMNS} FROM registry_commands WHERE command_id = :id{lock}"
        row = (await self._conn.execute(text(query), {"id": command_id})).first()
        return None if row is None else _command(row)

    async def save(self, command: RegistryCommand) -> None:
        await self._conn.execute(
            text(
                "UPDATE registry_commands SET status = :status, attempts = :attempts,"
                " next_attempt_at = :next_attempt_at, first_attempt_at = :first_attempt_at,"
                " last_error = :last_error, error_code = :error_code, last_http_status = :last_http_status,"
                " result = CAST(:result AS JSONB), completed_at = :completed_at"
                " WHERE command_id = :command_id"
            ),
            self._params(command),
        )

    async def claim_due(self, system: str, now: datetime, limit: int, lease_until: datetime) -> list[RegistryCommand]:
        rows = await self._conn.execute(
            text(
                "UPDATE registry_commands SET next_attempt_at = :lease WHERE command_id IN ("
                " SELECT command_id FROM registry_commands WHERE status = 'pending' AND system = :system"
                " AND next_attempt_at <= :now ORDER BY next_attempt_at LIMIT :n FOR UPDATE SKIP LOCKED)"
                f" RETURNING {_COMMAND_COLUMNS}"
            ),
            {"lease": lease_until, "system": system, "now": now, "n": limit},
        )
        return [_command(row) for row in rows]

    async def renew(self, leases: Sequence[tuple[str, datetime]], until: datetime) -> set[str]:
        return await renew_leases(self._conn, "registry_commands", leases, until)

    async def counts(self) -> list[StatusCount]:
        rows = await self._conn.execute(
            text(
                "SELECT system, status, count(*), min(received_at) FILTER (WHERE status = 'pending')"
                " FROM registry_commands GROUP BY system, status"
            )
        )
        return [StatusCount(status=s, count=n, system=system, oldest=oldest) for system, s, n, oldest in rows]

    async def pending(self) -> StatusCount:
        await limit_to_scrape(self._conn)
        row = (
            await self._conn.execute(
                text("SELECT count(*), min(received_at) FROM registry_commands WHERE status = 'pending'")
            )
        ).one()
        return StatusCount(status="pending", count=row[0], oldest=row[1])

    async def failures(self, limit: int) -> list[Failure]:
        rows = await self._conn.execute(
            text(
                "SELECT command_id, dossier_id, last_error, completed_at, system, operation FROM registry_commands"
                " WHERE status = 'failed' ORDER BY completed_at DESC LIMIT :n"
            ),
            {"n": limit},
        )
        return [Failure(cid, did, err or "", at, system=s, operation=op) for cid, did, err, at, s, op in rows]

    @staticmethod
    def _params(c: RegistryCommand) -> dict[str, Any]:
        return {
            "command_id": c.command_id,
            "system": c.system,
            "operation": c.operation,
            "dossier_id": c.dossier_id,
            "bundle_id": c.bundle_id,
            "step_id": c.step_id,
            "agency": c.agency,
            "data": json_text(c.data),
            "status": c.status.value,
            "attempts": c.attempts,
            "next_attempt_at": c.next_attempt_at,
            "first_attempt_at": c.first_attempt_at,
            "last_error": c.last_error,
            "error_code": c.error_code,
            "last_http_status": c.last_http_status,
            "result": json_text(c.result),
            "requested_at": c.requested_at,
            "received_at": c.received_at,
            "completed_at": c.completed_at,
            "correlation_id": c.correlation_id,
            "causation_id": c.causation_id,
        }

"""Our copies of dossiers and their portal sync state on the ``portal_dossiers`` table, inside the
caller's transaction."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.envelope import read_tolerantly
from eventkit.db import limit_to_scrape
from registry_sync.adapters.leases import renew_leases
from registry_sync.domain.portal_record import PortalRecord
from registry_sync.domain.portal_sync import DossierSync, SyncStatus
from registry_sync.service_layer.unit_of_work import Failure, StatusCount

_DOSSIER_COLUMNS = (
    "dossier_id, record::text, revision, synced_revision, status, portal_revision, generation, attempts,"
    " next_attempt_at, first_attempt_at, last_attempt_at, last_error, last_http_status, changed_at, unsynced_since,"
    " synced_at, last_lag_seconds, correlation_id, causation_id"
)


def _dossier(row: Row[Any]) -> DossierSync:
    (dossier_id, record, revision, synced_revision, status, portal_revision, generation, attempts, next_at,
     first_at, last_at, error, http_status, changed_at, unsynced_since, synced_at, lag, correlation_id,
     causation_id) = tuple(row)  # fmt: skip
    return DossierSync(
        dossier_id=dossier_id,
        record=read_tolerantly(PortalRecord, record),
        revision=revision,
        synced_revision=synced_revision,
        status=SyncStatus(status),
        portal_revision=portal_revision,
        generation=generation,
        attempts=attempts,
        next_attempt_at=next_at,
        first_attempt_at=first_at,
        last_attempt_at=last_at,
        last_error=error,
        last_http_status=http_status,
        changed_at=changed_at,
        unsynced_since=unsynced_since,
        synced_at=synced_at,
        last_lag_seconds=lag,
        correlation_id=correlation_id,
        causation_id=causation_id,
    )


_SAVE_DOSSIER = """
INSERT INTO portal_dossiers (dossier_id, code, state, ready, record, revision, synced_revision, status,
    portal_revision, generation, attempts, next_attempt_at, first_attempt_at, last_attempt_at, last_error,
    last_http_status, changed_at, unsynced_since, synced_at, last_lag_seconds, correlation_id, causation_id)
VALUES (:dossier_id, :code, :state, :ready, CAST(:record AS JSONB), :revision, :synced_revision, :status,
    :portal_revision, :generation, :attempts, :next_attempt_at, :first_attempt_at, :last_attempt_at, :last_error,
    :last_http_status, :changed_at, :unsynced_since, :synced_at, :last_lag_seconds, :correlation_id, :causation_id)
ON CONFLICT (dossier_id) DO UPDATE SET code = EXCLUDED.code, state = EXCLUDED.state, ready = EXCLUDED.ready,
    record = EXCLUDED.record, revision = EXCLUDED.revision, synced_revision = EXCLUDED.synced_revision,
    status = EXCLUDED.status, portal_revision = EXCLUDED.portal_revision, generation = EXCLUDED.generation,
    attempts = EXCLUDED.attempts, next_attempt_at = EXCLUDED.next_attempt_at,
    first_attempt_at = EXCLUDED.first_attempt_at, last_attempt_at = EXCLUDED.last_attempt_at,
    last_error = EXCLUDED.last_error, last_http_status = EXCLUDED.last_http_status,
    changed_at = EXCLUDED.changed_at, unsynced_since = EXCLUDED.unsynced_since,
    synced_at = EXCLUDED.synced_at, last_lag_seconds = EXCLUDED.last_lag_seconds,
    correlation_id = EXCLUDED.correlation_id, causation_id = EXCLUDED.causation_id
"""


def _save_params(s: DossierSync) -> dict[str, Any]:
    return {
        "dossier_id": s.dossier_id,
        "code": s.code,
        "state": s.record.state,
        "ready": s.ready,
        "record": s.record.model_dump_json(),
        "revision": s.revision,
        "synced_revision": s.synced_revision,
        "status": s.status.value,
        "portal_revision": s.portal_revision,
        "generation": s.generation,
        "attempts": s.attempts,
        "next_attempt_at": s.next_attempt_at,
        "first_attempt_at": s.first_attempt_at,
        "last_attempt_at": s.last_attempt_at,
        "last_error": s.last_error,
        "last_http_status": s.last_http_status,
        "changed_at": s.changed_at,
        "unsynced_since": s.unsynced_since,
        "synced_at": s.synced_at,
        "last_lag_seconds": s.last_lag_seconds,
        "correlation_id": s.correlation_id,
        "causation_id": s.causation_id,
    }


#: Transaction-level advisory locks on dossier ids (a key space of their own: two-int form), taken in
#: the order given.
_LOCK_IDS = """
SELECT count(pg_advisory_xact_lock(hashtext('portal_dossiers'), hashtext(id)))
FROM (SELECT id FROM unnest(CAST(:ids AS text[])) AS u(id) ORDER BY id) AS ordered
"""


#: A fee line the portal is shown as owed: no payment time, and less paid than its amount. A line made
#: from a payment kept without its time (one paid before payments were kept) has no time either, even
#: rebuilt: by the time alone, such a record was found again at every start.
_SHOWING_UNPAID = """
SELECT dossier_id FROM portal_dossiers
WHERE state = ANY(CAST(:states AS integer[])){after}
  AND EXISTS (
    SELECT 1 FROM jsonb_array_elements(record -> 'fees') AS fees(fee)
    WHERE fee ->> 'paid_at' IS NULL AND COALESCE((fee ->> 'paid_vnd')::bigint, 0) < (fee ->> 'amount_vnd')::bigint
  )
ORDER BY dossier_id LIMIT :n
"""


class SqlDossierStore:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def get(self, dossier_id: str, *, for_update: bool = False) -> DossierSync | None:
        lock = " FOR UPDATE" if for_update else ""
        query = f"SELECT {_DOSSIER_COLUMNS} FROM portal_dossiers WHERE dossier_id = :id{lock}"
        row = (await self._conn.execute(text(query), {"id": dossier_id})).first()
        return None if row is None else _dossier(row)

    async def get_many(self, dossier_ids: Sequence[str], *, for_update: bool = False) -> dict[str, DossierSync]:
        """The dossiers held; with ``for_update`` each id is locked first, held or not (in id order).
        A row lock takes only rows that exist: two replicas recording a new dossier's first events
        (a bundle's submission and its step's, from two topics) both built it from nothing, and the
        later save replaced the other's record, channel or documents and fee line lost for good."""
        if for_update:
            await self._conn.execute(text(_LOCK_IDS), {"ids": sorted(set(dossier_ids))})
        lock = " ORDER BY dossier_id FOR UPDATE" if for_update else ""
        query = f"SELECT {_DOSSIER_COLUMNS} FROM portal_dossiers WHERE dossier_id = ANY(CAST(:ids AS text[])){lock}"
        rows = (await self._conn.execute(text(query), {"ids": list(dossier_ids)})).all()
        return {sync.dossier_id: sync for sync in map(_dossier, rows)}

    async def save(self, sync: DossierSync) -> None:
        await self._conn.execute(text(_SAVE_DOSSIER), _save_params(sync))

    async def save_many(self, syncs: Sequence[DossierSync]) -> None:
        """One call for them all: the driver pipelines the rows' executions in one round trip."""
        if syncs:
            await self._conn.execute(text(_SAVE_DOSSIER), [_save_params(s) for s in syncs])

    async def claim_due(self, now: datetime, limit: int, lease_until: datetime) -> list[DossierSync]:
        rows = await self._conn.execute(
            text(
                "UPDATE portal_dossiers SET next_attempt_at = :lease WHERE dossier_id IN ("
                " SELECT dossier_id FROM portal_dossiers WHERE status = 'pending' AND ready"
                " AND next_attempt_at <= :now ORDER BY next_attempt_at LIMIT :n FOR UPDATE SKIP LOCKED)"
                f" RETURNING {_DOSSIER_COLUMNS}"
            ),
            {"lease": lease_until, "now": now, "n": limit},
        )
        return [_dossier(row) for row in rows]

    async def renew(self, leases: Sequence[tuple[str, datetime]], until: datetime) -> set[str]:
        return await renew_leases(self._conn, "portal_dossiers", leases, until)

    async def in_code_order(self, after: str | None, limit: int) -> list[DossierSync]:
        where = 'WHERE code COLLATE "C" > :after ' if after is not None else ""
        rows = await self._conn.execute(
            text(f'SELECT {_DOSSIER_COLUMNS} FROM portal_dossiers {where}ORDER BY code COLLATE "C" LIMIT :n'),
            {"after": after, "n": limit} if after is not None else {"n": limit},
        )
        return [_dossier(row) for row in rows]

    async def showing_unpaid(self, states: Collection[int], after: str | None, limit: int) -> list[str]:
        """Records in ``states`` with a fee line shown as owed, after ``after`` in id order: which the
        repair of ended dossiers' fee lines (``service_layer.ended_fee_lines``) looks at again; the rule
        that rebuilds their lines is the fold's, in Python."""
        query = _SHOWING_UNPAID.format(after=" AND dossier_id > :after" if after is not None else "")
        params = {"states": sorted(states), "n": limit} | ({"after": after} if after is not None else {})
        return list((await self._conn.execute(text(query), params)).scalars())

    async def pending(self) -> StatusCount:
        await limit_to_scrape(self._conn)
        row = (
            await self._conn.execute(
                text("SELECT count(*), min(unsynced_since) FROM portal_dossiers WHERE status = 'pending'")
            )
        ).one()
        return StatusCount(status="pending", count=row[0], oldest=row[1])

    async def failed(self) -> int:
        await limit_to_scrape(self._conn)
        count = await self._conn.execute(text("SELECT count(*) FROM portal_dossiers WHERE status = 'failed'"))
        return int(count.scalar_one())

    async def counts(self) -> list[StatusCount]:
        rows = await self._conn.execute(
            text(
                "SELECT status, ready, count(*), min(unsynced_since), avg(last_lag_seconds), max(last_lag_seconds)"
                " FROM portal_dossiers GROUP BY status, ready"
            )
        )
        return [
            StatusCount(status=s, count=n, ready=ready, oldest=oldest, avg_lag_seconds=avg, max_lag_seconds=mx)
            for s, ready, n, oldest, avg, mx in rows
        ]

    async def failures(self, limit: int) -> list[Failure]:
        rows = await self._conn.execute(
            text(
                "SELECT dossier_id, code, last_error, last_attempt_at FROM portal_dossiers WHERE status = 'failed'"
                " ORDER BY last_attempt_at DESC NULLS LAST LIMIT :n"
            ),
            {"n": limit},
        )
        return [Failure(did, did, err or "", at, code=code, system="national_portal") for did, code, err, at in rows]

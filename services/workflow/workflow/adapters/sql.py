"""Workflow's own tables (tasks, timers, bundle sagas) on the transaction of an eventkit unit of work."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Self

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.envelope import Envelope, read_tolerantly
from eventkit.db import limit_to_scrape
from eventkit.uow import SqlUnitOfWork
from workflow.domain.commands import TimerKind
from workflow.domain.saga import BundleSaga
from workflow.service_layer.ports import DueTimers, Task, TaskPosition, Timer

_TASK_COLUMNS = (
    "dossier_id, agency, code, procedure_code, status, status_code, waiting_for, due_at, appointment_at, since,"
    " bundle_id, overdue, delivery"
)


class SqlTaskBoard:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def put(self, task: Task) -> None:
        await self._conn.execute(
            text(
                f"INSERT INTO tasks ({_TASK_COLUMNS}) VALUES (:dossier_id, :agency, :code, :procedure_code, :status,"
                " :status_code, :waiting_for, :due_at, :appointment_at, :since, :bundle_id, :overdue, :delivery)"
                " ON CONFLICT (dossier_id) DO UPDATE SET agency = EXCLUDED.agency, status = EXCLUDED.status,"
                " status_code = EXCLUDED.status_code, waiting_for = EXCLUDED.waiting_for, due_at = EXCLUDED.due_at,"
                " appointment_at = EXCLUDED.appointment_at, since = EXCLUDED.since, overdue = EXCLUDED.overdue,"
                " delivery = EXCLUDED.delivery"
            ),
            task.__dict__,
        )

    async def remove(self, dossier_id: str) -> None:
        await self._conn.execute(text("DELETE FROM tasks WHERE dossier_id = :d"), {"d": dossier_id})

    async def for_agency(
        self, agency: str, limit: int, waiting_for: Collection[str] = (), after: TaskPosition | None = None
    ) -> list[Task]:
        where = "agency = :a"
        params: dict[str, object] = {"a": agency, "n": limit}
        if waiting_for:
            where += " AND waiting_for = ANY(CAST(:w AS text[]))"
            # and a row a build before migration 0004 writes during a deploy, under its old name
            params["w"] = [*waiting_for, *(["return"] if "result_return" in waiting_for else [])]
        if after is not None:
            where += " AND (due_at, dossier_id) > (:after_due, :after_id)"
            params["after_due"], params["after_id"] = after
        rows = await self._conn.execute(
            text(f"SELECT {_TASK_COLUMNS} FROM tasks WHERE {where} ORDER BY due_at, dossier_id LIMIT :n"), params
        )
        return [Task(**row._mapping) for row in rows]


class SqlTimerTable:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def arm(self, *timers: Timer) -> None:
        # One statement for all of them (a dossier usually has both its timers re-armed on every change).
        if not timers:
            return
        await self._conn.execute(
            text(
                "INSERT INTO timers (dossier_id, kind, fire_at)"
                " SELECT * FROM unnest(CAST(:d AS text[]), CAST(:k AS text[]), CAST(:f AS timestamptz[]))"
                " ON CONFLICT (dossier_id, kind) DO UPDATE SET fire_at = EXCLUDED.fire_at, fired_at = NULL"
                " WHERE timers.fire_at IS DISTINCT FROM EXCLUDED.fire_at"
            ),
            {
                "d": [t.dossier_id for t in timers],
                "k": [t.kind for t in timers],
                "f": [t.fire_at for t in timers],
            },
        )

    async def disarm(self, dossier_id: str, kind: TimerKind | None = None) -> None:
        await self._conn.execute(
            text("DELETE FROM timers WHERE dossier_id = :d AND fired_at IS NULL" + (" AND kind = :k" if kind else "")),
            {"d": dossier_id, "k": kind},
        )

    async def claim_next(self, now: datetime, skip: frozenset[tuple[str, str]]) -> Timer | None:
        row = (
            await self._conn.execute(
                text(
                    "SELECT dossier_id, kind, fire_at FROM timers"
                    " WHERE fired_at IS NULL AND fire_at <= :now AND NOT (dossier_id || ' ' || kind = ANY(:skip))"
                    " ORDER BY fire_at LIMIT 1 FOR UPDATE SKIP LOCKED"
                ),
                {"now": now, "skip": [f"{d} {k}" for d, k in skip]},
            )
        ).first()
        return None if row is None else Timer(row.dossier_id, row.kind, row.fire_at)

    async def postpone(self, timer: Timer, until: datetime) -> None:
        await self._conn.execute(
            text(
                "UPDATE timers SET fire_at = :u"
                " WHERE dossier_id = :d AND kind = :k AND fire_at = :f AND fired_at IS NULL"
            ),
            {"u": until, "d": timer.dossier_id, "k": timer.kind, "f": timer.fire_at},
        )

    async def mark_fired(self, timer: Timer, at: datetime) -> None:
        await self._conn.execute(
            text("UPDATE timers SET fired_at = :at WHERE dossier_id = :d AND kind = :k"),
            {"at": at, "d": timer.dossier_id, "k": timer.kind},
        )

    async def due_unfired(self, now: datetime) -> DueTimers:
        # Read by GET /metrics in a transaction of its own, so the limit set here limits nothing else.
        # The partial index on unfired timers' fire_at serves it: a few rows, unless the poller is stuck.
        await limit_to_scrape(self._conn)
        due = "SELECT count(*) AS n, min(fire_at) AS oldest FROM timers WHERE fired_at IS NULL AND fire_at <= :now"
        row = (await self._conn.execute(text(due), {"now": now})).one()
        return DueTimers(row.n, row.oldest)


class SqlBundleRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, saga: BundleSaga) -> bool:
        inserted = await self._conn.execute(
            text(
                "INSERT INTO bundles (bundle_id, bundle_type, status, state) VALUES (:b, :t, :s, CAST(:j AS JSONB))"
                " ON CONFLICT (bundle_id) DO NOTHING RETURNING 1"
            ),
            {"b": saga.bundle_id, "t": saga.bundle_type, "s": saga.status, "j": saga.model_dump_json()},
        )
        return inserted.first() is not None

    async def lock(self, bundle_id: str) -> BundleSaga | None:
        return await self._select(bundle_id, " FOR UPDATE")

    async def lock_in_order(self, bundle_ids: Sequence[str]) -> None:
        """Lock these bundles (those that exist) in id order, for the rest of the transaction."""
        await self._conn.execute(
            text("SELECT 1 FROM bundles WHERE bundle_id = ANY(CAST(:ids AS text[])) ORDER BY bundle_id FOR UPDATE"),
            {"ids": sorted(bundle_ids)},
        )

    async def of_dossiers(self, dossier_ids: Sequence[str]) -> set[str]:
        """The bundles these dossiers are steps of (as their opening event says)."""
        rows = await self._conn.execute(
            text(
                "SELECT DISTINCT envelope->'payload'->>'bundle_id' FROM events"
                " WHERE stream_id = ANY(CAST(:ids AS text[])) AND stream_version = 1"
                " AND envelope->'payload'->>'bundle_id' IS NOT NULL"
            ),
            {"ids": list(dossier_ids)},
        )
        return {row[0] for row in rows}

    async def get(self, bundle_id: str) -> BundleSaga | None:
        return await self._select(bundle_id, "")

    async def _select(self, bundle_id: str, suffix: str) -> BundleSaga | None:
        raw = (
            await self._conn.execute(
                text("SELECT state::text FROM bundles WHERE bundle_id = :b" + suffix), {"b": bundle_id}
            )
        ).scalar_one_or_none()
        return None if raw is None else read_tolerantly(BundleSaga, raw)

    async def save(self, saga: BundleSaga) -> None:
        await self._conn.execute(
            text("UPDATE bundles SET state = CAST(:j AS JSONB), status = :s, updated_at = now() WHERE bundle_id = :b"),
            {"b": saga.bundle_id, "s": saga.status, "j": saga.model_dump_json()},
        )

    async def ended_since(self, since: datetime | None) -> list[str]:
        rows = await self._conn.execute(
            text(
                "SELECT bundle_id FROM bundles WHERE status = 'partially_completed'"
                " AND (CAST(:since AS TIMESTAMPTZ) IS NULL OR updated_at >= :since) ORDER BY bundle_id"
            ),
            {"since": since},
        )
        return [row[0] for row in rows]

    async def swept_until(self) -> datetime | None:
        row = await self._conn.execute(text("SELECT swept_until FROM bundle_sweeps"))
        return row.scalar_one_or_none()

    async def mark_swept(self, until: datetime) -> None:
        await self._conn.execute(
            text(
                "INSERT INTO bundle_sweeps (swept_until) VALUES (:u) ON CONFLICT (only_row)"
                " DO UPDATE SET swept_until = GREATEST(bundle_sweeps.swept_until, EXCLUDED.swept_until)"
            ),
            {"u": until},
        )


class SqlIssuedNumbers:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def claim(self, id_number: str, dossier_id: str) -> bool:
        # One statement: the insert, or the holder it conflicted with. A holder committed while this
        # statement waited is not in its snapshot: no row, and the number counts as taken.
        holder = await self._conn.execute(
            text(
                "WITH claimed AS (INSERT INTO issued_id_numbers (id_number, dossier_id) VALUES (:n, :d)"
                " ON CONFLICT (id_number) DO NOTHING RETURNING dossier_id)"
                " SELECT dossier_id FROM claimed"
                " UNION ALL SELECT dossier_id FROM issued_id_numbers WHERE id_number = :n LIMIT 1"
            ),
            {"n": id_number, "d": dossier_id},
        )
        return holder.scalar_one_or_none() == dossier_id


class SqlWorkflowUnitOfWork:
    """Workflow's ports on one transaction. Use ``async with`` for a new transaction, or
    :meth:`joined` inside one the inbox consumer already opened."""

    def __init__(self, base: SqlUnitOfWork) -> None:
        self._base = base

    @classmethod
    def joined(cls, base: SqlUnitOfWork) -> Self:
        uow = cls(base)
        uow._bind()
        return uow

    def _bind(self) -> None:
        conn = self._base.conn
        self.events: Any = self._base.events
        self.outbox: Any = self._base.outbox
        self.tasks = SqlTaskBoard(conn)
        self.timers = SqlTimerTable(conn)
        self.bundles = SqlBundleRepository(conn)
        self.id_numbers = SqlIssuedNumbers(conn)

    async def record(
        self, stream_id: str, expected_version: int, envelopes: Sequence[Envelope], topic: str | Sequence[str | None]
    ) -> int:
        return await self._base.record(stream_id, expected_version, envelopes, topic)

    async def lock_dossier(self, dossier_id: str, *, wait: bool = True) -> bool:
        # A transaction-scoped advisory lock: writers of one dossier queue up before appending, so the
        # order "dossier, then its task and timer rows" holds for every transaction and none deadlocks.
        function = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
        result = await self._base.conn.execute(
            text(f"SELECT {function}(hashtextextended('dossier:' || :d, 0))"), {"d": dossier_id}
        )
        return wait or bool(result.scalar_one())

    async def __aenter__(self) -> Self:
        await self._base.__aenter__()
        self._bind()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._base.__aexit__(exc_type, exc, tb)

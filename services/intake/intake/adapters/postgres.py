"""Intake's tables in PostgreSQL, inside the caller's transaction (see migrations/)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import date, datetime
from types import TracebackType
from typing import Any, Self

import orjson
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.events.common import DossierStatus
from eventkit.db import is_contention, is_lock_not_granted
from eventkit.uow import SqlUnitOfWork
from intake.adapters.group_commit import GroupCommit
from intake.adapters.submissions import connection_broke, pooled_driver_connection, write_submission
from intake.domain.actions import PAST_RECEPTION, DossierState
from intake.domain.codes import dossier_reference
from intake.domain.errors import RetryableConflict, applicant_key, duplicate_of
from intake.domain.text import SUBJECT_RULE
from intake.domain.tracking import ENDED, DossierChange, Shown, as_applied
from intake.service_layer.ports import NewBundle, NewDossier, NewSubmission, StoredReply

_CLAIM = "INSERT INTO idempotency_keys (key, request_hash) VALUES (:k, :h) ON CONFLICT (key) DO NOTHING RETURNING 1"
_SEQUENCE = (
    "INSERT INTO dossier_sequences (agency, day, last_number) VALUES (:a, :d, :n)"
    " ON CONFLICT (agency, day) DO UPDATE SET last_number = dossier_sequences.last_number + :n"
    " RETURNING last_number"
)
_INSERT_DOSSIER = (
    "INSERT INTO dossiers (dossier_id, code, procedure_code, channel, receiving_agency, competent_agency,"
    " current_agency, status, status_code, subject_key, submitted_at, received_at, due_at, fee, timeline,"
    " bundle_id, bundle_step, bundle_position, delivery, subject_rule) VALUES (:dossier_id, :code, :procedure_code,"
    " :channel, :receiving_agency, :competent_agency, :receiving_agency, :status, :status_code, :subject_key,"
    " :submitted_at, :received_at, :due_at, :fee, CAST(:timeline AS JSONB), :bundle_id, :bundle_step,"
    f" :bundle_position, :delivery, {SUBJECT_RULE})"
    " ON CONFLICT DO NOTHING RETURNING 1"
)
_PAST_RECEPTION = ", ".join(f"'{status.value}'" for status in sorted(PAST_RECEPTION))

_APPLY = (
    "UPDATE dossiers SET status = COALESCE(:status, status), status_code = COALESCE(:status_code, status_code),"
    " current_agency = COALESCE(:agency, current_agency),"
    # An event no official acted on (a timer) keeps the official, unless the dossier changed agency.
    " official_id = CASE WHEN CAST(:set_handler AS BOOLEAN) THEN COALESCE(CAST(:official AS TEXT),"
    " CASE WHEN current_agency = CAST(:holder AS TEXT) THEN official_id END) ELSE official_id END,"
    " received_at = COALESCE(received_at, :received_at),"
    # An appointment only once received: before, a supplement's due_at ends a fresh acceptance window.
    " due_at = CASE WHEN COALESCE(received_at, :received_at) IS NULL THEN due_at ELSE COALESCE(:due_at, due_at) END,"
    " overdue = COALESCE(:overdue, overdue), awaiting_supplement = COALESCE(:awaiting, awaiting_supplement),"
    " requested_documents = CASE WHEN CAST(:set_requested AS BOOLEAN) THEN CAST(:requested_documents AS TEXT[])"
    " ELSE requested_documents END,"
    " results = results || CAST(:results AS JSONB), paid_amount = paid_amount + :paid,"
    " requested_amount = requested_amount + :requested,"
    " rating = COALESCE(:rating, rating), withdrawal_requested = COALESCE(:withdrawal, withdrawal_requested),"
    " step_started_at = COALESCE(:step_started_at, step_started_at),"
    " portal_sync = COALESCE(CAST(:portal_sync AS JSONB), portal_sync),"
    # What the view shows of workflow's events once this change applied (tracking.Shown.after).
    " timeline = timeline || CAST(:entries AS JSONB), state_at = :state_at, due_at_at = :due_at_at,"
    " subject_key = CASE WHEN CAST(:ends AS BOOLEAN) THEN NULL ELSE subject_key END, updated_at = now()"
    " WHERE dossier_id = :id RETURNING 1"
)

#: The code of the open dossier, other than ``:id``, that holds a subject.
SUBJECT_HOLDER = text("SELECT code FROM dossiers WHERE procedure_code = :p AND subject_key = :k AND dossier_id <> :id")
#: The same dossier's code and its applicant's ID number, which the view does not keep: its first event
#: (DossierSubmitted) has it. Only for a refused submission (domain.errors.duplicate_of).
_SUBJECT_HOLDER_AND_APPLICANT = text(
    "SELECT d.code, e.envelope -> 'payload' -> 'applicant' ->> 'id_number',"
    " e.envelope -> 'payload' -> 'applicant' ->> 'phone' FROM dossiers d"
    " LEFT JOIN events e ON e.stream_id = d.dossier_id AND e.stream_version = 1"
    " WHERE d.procedure_code = :p AND d.subject_key = :k AND d.dossier_id <> :id"
)
# An open dossier only: one that ended has no subject to keep from others.
_KEY_SUBJECT = text(
    f"UPDATE dossiers SET subject_key = :k, subject_rule = {SUBJECT_RULE}"
    " WHERE dossier_id = :id AND subject_key IS NULL AND status <> ALL(CAST(:ended AS TEXT[]))"
)
_ENDED = sorted(status.value for status in ENDED)
# A bundle ended partially before the step started (ports.Dossiers.reopen_bundle): not by a start
# replayed late from the dead letters, nor ever a completed one (no step of it is left to run).
_REOPEN_BUNDLE = text(
    "UPDATE bundles SET status = 'processing', ended_at = NULL"
    " WHERE bundle_id = :b AND status = 'partially_completed' AND ended_at < :at"
)

# Locks the rows the changes will update, in id order, before the pipelined updates run; with the state
# workflow left each in, so that a change older than it applies as it should (tracking.as_applied).
_KNOWN = text(
    "SELECT dossier_id, state_at, status_code, due_at_at, received_at IS NOT NULL AS received FROM dossiers"
    " WHERE dossier_id = ANY(CAST(:ids AS text[]))"
    " ORDER BY dossier_id FOR UPDATE"
)


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def change_params(change: DossierChange, shown: Shown) -> dict[str, Any]:
    return {
        "id": change.dossier_id,
        "status": change.status.value if change.status else None,
        "status_code": change.status.code if change.status else None,
        "agency": change.handler[0] if change.handler else None,
        "set_handler": change.handler is not None,
        "official": change.handler[1] if change.handler else None,
        "holder": change.handler[0] if change.handler and not change.handover else None,
        "received_at": change.received_at,
        "due_at": change.due_at,
        "overdue": change.overdue,
        "awaiting": change.awaiting_supplement,
        "set_requested": change.requested_documents is not None,
        "requested_documents": list(change.requested_documents) if change.requested_documents else None,
        "results": _json([change.result] if change.result else []),
        "paid": change.paid,
        "requested": change.requested,
        "rating": change.rating,
        "withdrawal": change.withdrawal_requested,
        "step_started_at": change.step_started_at,
        "portal_sync": _json(change.portal_sync) if change.portal_sync is not None else None,
        "entries": _json([change.timeline.as_dict()] if change.timeline else []),
        "ends": change.ends,
        "state_at": shown.state_at,
        "due_at_at": shown.due_at_at,
    }


class PostgresDossiers:
    """The :class:`~intake.service_layer.ports.Dossiers` port on the service's schema."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def claim_key(self, key: str, request_hash: str) -> StoredReply | None:
        if (await self._conn.execute(text(_CLAIM), {"k": key, "h": request_hash})).first() is not None:
            return None
        row = (
            await self._conn.execute(
                text("SELECT request_hash, status_code, response::text FROM idempotency_keys WHERE key = :k"),
                {"k": key},
            )
        ).one()
        return StoredReply(row[0], row[1], orjson.loads(row[2]))

    async def store_reply(self, key: str, status_code: int, body: dict[str, Any]) -> None:
        await self._conn.execute(
            text("UPDATE idempotency_keys SET status_code = :s, response = CAST(:b AS JSONB) WHERE key = :k"),
            {"k": key, "s": status_code, "b": _json(body)},
        )

    async def next_sequence(self, agency: str, day: date, count: int = 1) -> int:
        result = await self._conn.execute(text(_SEQUENCE), {"a": agency, "d": day, "n": count})
        return int(result.scalar_one())

    async def add_dossiers(self, rows: Sequence[NewDossier]) -> None:
        for row in rows:
            params = {**asdict(row), "timeline": _json(row.timeline)}
            if (await self._conn.execute(text(_INSERT_DOSSIER), params)).first() is None:
                holder = await self._conn.execute(
                    _SUBJECT_HOLDER_AND_APPLICANT, {"p": row.procedure_code, "k": row.subject_key, "id": row.dossier_id}
                )
                code, id_number, phone = holder.one_or_none() or (None, None, None)
                raise duplicate_of(row.procedure_code, code, applicant_key(id_number, phone), row.applicant_key)

    async def add_bundle(self, row: NewBundle) -> None:
        await self._conn.execute(
            text(
                "INSERT INTO bundles (bundle_id, bundle_type, channel, receiving_agency, submitted_at, due_at)"
                " VALUES (:bundle_id, :bundle_type, :channel, :receiving_agency, :submitted_at, :due_at)"
            ),
            asdict(row),
        )

    async def state(self, ref: str) -> DossierState | None:
        column, ref = dossier_reference(ref)
        row = (
            await self._conn.execute(
                text(
                    "SELECT dossier_id, code, procedure_code, status, awaiting_supplement, rating IS NOT NULL,"
                    " withdrawal_requested, fee, paid_amount, requested_amount,"
                    # Handled: received (a bundle's step once its bundle started it, or once it went on
                    # past reception, whichever event came first: one stopped before its turn no agency
                    # had), or refused at reception by an official.
                    " (received_at IS NOT NULL AND (bundle_id IS NULL OR step_started_at IS NOT NULL"
                    f" OR status IN ({_PAST_RECEPTION})))"
                    " OR (status = 'refused' AND official_id IS NOT NULL),"
                    " coalesce(requested_documents, '{}')"
                    f" FROM dossiers WHERE {column} = :r FOR UPDATE"
                ),
                {"r": ref},
            )
        ).first()
        if row is None:
            return None
        dossier_id, code, procedure, status, awaiting, rated, withdrawal, fee, paid, requested, handled, kinds = row
        return DossierState(
            dossier_id,
            code,
            procedure,
            DossierStatus(status),
            awaiting,
            rated,
            withdrawal,
            fee,
            paid,
            requested,
            handled,
            tuple(kinds),
        )

    async def apply(self, change: DossierChange) -> bool:
        return change.dossier_id not in await self.apply_many([change])

    async def apply_many(self, changes: Sequence[DossierChange]) -> set[str]:
        if not changes:
            return set()
        ids = sorted({c.dossier_id for c in changes})
        known = (await self._conn.execute(_KNOWN, {"ids": ids})).all()
        shown = {row.dossier_id: Shown(row.state_at, row.status_code, row.due_at_at) for row in known}
        received = {row.dossier_id for row in known if row.received}
        rows = []
        for change in changes:
            if change.dossier_id in shown:  # as the update will leave it, change after change
                change = as_applied(change, shown[change.dossier_id])
                due_applies = change.dossier_id in received or change.received_at is not None
                shown[change.dossier_id] = shown[change.dossier_id].after(change, due_applies=due_applies)
                if change.received_at is not None:
                    received.add(change.dossier_id)
                rows.append(change_params(change, shown[change.dossier_id]))
        if rows:  # executed in order, pipelined by the driver in one round trip
            await self._conn.execute(text(_APPLY), rows)
        return set(ids) - set(shown)

    async def key_subject(self, dossier_id: str, procedure_code: str, key: str) -> str | None:
        other = (await self._conn.execute(SUBJECT_HOLDER, {"p": procedure_code, "k": key, "id": dossier_id})).scalar()
        if other is None:
            await self._conn.execute(_KEY_SUBJECT, {"id": dossier_id, "k": key, "ended": _ENDED})
        return other

    async def end_bundle(
        self, bundle_id: str, status: str, at: datetime, failed_step: str | None, reason: str | None
    ) -> None:
        await self._conn.execute(
            text("UPDATE bundles SET status = :s, ended_at = :at, failed_step = :f, reason = :r WHERE bundle_id = :b"),
            {"b": bundle_id, "s": status, "at": at, "f": failed_step, "r": reason},
        )

    async def reopen_bundle(self, bundle_id: str, at: datetime) -> None:
        await self._conn.execute(_REOPEN_BUNDLE, {"b": bundle_id, "at": at})


class SqlIntakeUnitOfWork(SqlUnitOfWork):
    """eventkit's unit of work with intake's tables on the same connection.

    With ``group_commit``, a submission outside a transaction goes through it (with others, under load)."""

    dossiers: PostgresDossiers

    def __init__(self, engine: AsyncEngine, *, group_commit: GroupCommit | None = None, **kwargs: Any) -> None:
        super().__init__(engine, **kwargs)
        self._group_commit = group_commit

    async def submit(self, submission: NewSubmission) -> list[str] | StoredReply:
        """One statement on the driver's connection, outside SQLAlchemy's (not yet begun) transaction.

        Not entered, the unit of work borrows a pooled driver connection for just this statement:
        a SQLAlchemy connection with its transaction around a statement that commits by itself would
        cost more CPU than the rest of the submission's database work."""
        if self._conn is None and self._group_commit is not None:
            return await self._group_commit.submit(submission)  # it wakes the relay itself
        if self._conn is None:
            result = await self._submit_alone(submission)
        else:
            raw = await self.conn.get_raw_connection()
            try:
                result = await write_submission(raw.driver_connection, submission)
            except Exception as exc:
                if connection_broke(exc):
                    await self.conn.invalidate()  # SQLAlchemy did not see it fail: keep it out of the pool
                raise
        if isinstance(result, list) and self._on_queued is not None:
            self._on_queued()  # committed with its outbox rows (a replayed reply queued nothing)
        return result

    async def _submit_alone(self, submission: NewSubmission) -> list[str] | StoredReply:
        async with pooled_driver_connection(self._engine) as conn:
            return await write_submission(conn, submission)

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.dossiers = PostgresDossiers(self.conn)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await super().__aexit__(exc_type, exc, tb)
        # Another transaction got in the way: the request runs again. Not when a lock was not granted
        # in time: its holder keeps it, and each attempt waited the whole lock_timeout again before
        # the citizen was told to send it again (409); it goes on as the shared 503 "busy" answer.
        if isinstance(exc, DBAPIError) and is_contention(exc) and not is_lock_not_granted(exc):
            raise RetryableConflict(str(exc.orig)) from exc

"""A submission as one SQL statement: take the codes, write the dossiers, the bundle, the events with
their outbox rows and the Idempotency-Key's reply — and commit, in one round trip. Several
submissions go as one such statement too (``write_submissions``, for the group commit).

The agency's daily counter row is locked from the moment the statement takes its numbers until the
commit, all inside PostgreSQL: submissions to one agency queue only for that, never for Python work
or a round trip (see intake.service_layer.pending_codes). A failed statement writes nothing and takes
no number, so codes stay gap-free.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
import orjson
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import greenlet_spawn

from eventkit.db import is_unavailable
from eventkit.eventstore import record_ctes
from eventkit.outbox import check_size
from intake.domain.codes import SEQUENCE_DIGITS, dossier_code
from intake.domain.errors import RetryableConflict, applicant_key, duplicate_of
from intake.domain.text import SUBJECT_RULE
from intake.service_layer.ports import NewSubmission, StoredReply

#: The driver's errors that mean the connection itself is gone: it must not go back to the pool.
CONNECTION_LOST = (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, OSError)


def connection_broke(exc: BaseException) -> bool:
    """Whether ``exc`` leaves the connection it came from unusable: lost, closed by the server (a
    terminated session may say 57P01 first, a PostgreSQL error), or stuck mid-operation in the driver
    (asyncpg's InternalClientError; see :func:`eventkit.db.is_unavailable`). Such a connection must
    leave the pool, and no other statement may go on it."""
    return isinstance(exc, CONNECTION_LOST) or is_unavailable(exc)

#: The document of the reply among the statement's documents (the envelopes are 0, 1, …).
_REPLY = -1

#: One or several submissions, each row tagged with its submission (``sub``). Every (agency, day)
#: counter moves once by the statement's total, locked in a fixed order (so that two statements
#: cannot deadlock on two agencies' rows); within it the submissions take consecutive blocks in
#: order (``off``: the numbers before theirs in the block). Any refusal — a unique index, a
#: deadlock — refuses all of it.
SUBMIT = (
    """
WITH wanted AS (
    SELECT * FROM unnest($1::text[], $2::date[], $3::int[]) AS w(agency, day, total)
), taken AS (
    INSERT INTO dossier_sequences AS s (agency, day, last_number)
    SELECT agency, day, total FROM wanted ORDER BY agency, day
    ON CONFLICT (agency, day) DO UPDATE SET last_number = s.last_number + EXCLUDED.last_number
    RETURNING agency, day, last_number
), codes AS (
    SELECT q.sub, array_agg(q.prefix || lpad(num::text, greatest($4::int, length(num::text)), '0') ORDER BY num)
        AS code
    FROM unnest($5::int[], $6::text[], $7::date[], $8::int[], $9::int[], $10::text[])
        AS q(sub, agency, day, off, cnt, prefix)
    JOIN taken t ON t.agency = q.agency AND t.day = q.day
    JOIN wanted w ON w.agency = q.agency AND w.day = q.day,
    LATERAL generate_series(t.last_number - w.total + q.off + 1, t.last_number - w.total + q.off + q.cnt) AS num
    GROUP BY q.sub
), documents AS (
    SELECT t.sub, t.doc, string_agg(t.piece || coalesce(c.code[t.slot + 1], ''), '' ORDER BY t.ord) AS json
    FROM unnest($11::int[], $12::int[], $13::text[], $14::int[]) WITH ORDINALITY AS t(sub, doc, piece, slot, ord)
    JOIN codes c ON c.sub = t.sub
    GROUP BY t.sub, t.doc
), new_dossiers AS (
    INSERT INTO dossiers (dossier_id, code, procedure_code, channel, receiving_agency, competent_agency,
        current_agency, status, status_code, subject_key, submitted_at, received_at, due_at, fee, timeline,
        bundle_id, bundle_step, bundle_position, delivery, subject_rule)
    SELECT r.dossier_id, c.code[r.slot + 1], r.procedure_code, r.channel, r.receiving_agency,
        r.competent_agency, r.receiving_agency, r.status, r.status_code, r.subject_key, r.submitted_at,
        r.received_at, r.due_at, r.fee, r.timeline, r.bundle_id, r.bundle_step, r.bundle_position, r.delivery,
        """
    + str(SUBJECT_RULE)
    + """
    FROM jsonb_to_recordset($15::jsonb) AS r(sub int, slot int, dossier_id text, procedure_code text,
        channel text, receiving_agency text, competent_agency text, status text, status_code smallint,
        subject_key text, submitted_at timestamptz, received_at timestamptz, due_at timestamptz, fee int,
        timeline jsonb, bundle_id text, bundle_step text, bundle_position smallint, delivery text)
    JOIN codes c ON c.sub = r.sub
), new_bundles AS (
    INSERT INTO bundles (bundle_id, bundle_type, channel, receiving_agency, submitted_at, due_at)
    SELECT * FROM jsonb_to_recordset($16::jsonb) AS b(bundle_id text, bundle_type text, channel text,
        receiving_agency text, submitted_at timestamptz, due_at timestamptz)
), new_events AS (
    SELECT e.*, d.json AS envelope
    FROM jsonb_to_recordset($17::jsonb) AS e(ord int, sub int, doc int, stream_id text, stream_version int,
        event_id uuid, event_type text, event_version int, occurred_at timestamptz, message_key text)
    JOIN documents d ON d.sub = e.sub AND d.doc = e.doc
)"""
    + record_ctes("new_events", "$18::text")
    + """
, replies AS (
    INSERT INTO idempotency_keys (key, request_hash, status_code, response)
    SELECT k.key, k.request_hash, k.status_code, CAST(d.json AS jsonb)
    FROM unnest($19::int[], $20::text[], $21::text[], $22::int[]) AS k(sub, key, request_hash, status_code)
    JOIN documents d ON d.sub = k.sub AND d.doc = """
    + str(_REPLY)
    + """
)
SELECT agency, day, last_number FROM taken
"""
)

_KEY = "SELECT request_hash, status_code, response::text FROM idempotency_keys WHERE key = $1"
#: The open dossiers holding these subjects: each one's code and its applicant's ID number, which the
#: view does not keep (its first event, DossierSubmitted, has it).
_OPEN_SUBJECTS = (
    "SELECT d.procedure_code, d.subject_key, d.code, e.envelope -> 'payload' -> 'applicant' ->> 'id_number',"
    " e.envelope -> 'payload' -> 'applicant' ->> 'phone' FROM dossiers d"
    " JOIN unnest($1::text[], $2::text[]) AS s(procedure_code, subject_key) USING (procedure_code, subject_key)"
    " LEFT JOIN events e ON e.stream_id = d.dossier_id AND e.stream_version = 1"
)


def _documents(s: NewSubmission) -> tuple[list[int], list[str], list[int | None]]:
    """The envelopes (and the reply, if kept) as pieces between code placeholders, for ``documents``."""
    texts = [(i, e.model_dump_json()) for i, e in enumerate(s.envelopes)]
    for (_, value), envelope in zip(texts, s.envelopes, strict=True):
        check_size(envelope, value)
    if s.idempotency_key is not None:
        texts.append((_REPLY, orjson.dumps(s.reply).decode()))
    docs: list[int] = []
    pieces: list[str] = []
    slots: list[int | None] = []
    for doc, text in texts:
        for piece, slot in s.codes.split(text):
            docs.append(doc)
            pieces.append(piece)
            slots.append(slot)
    return docs, pieces, slots


def _dossier_rows(s: NewSubmission, sub: int) -> list[dict[str, Any]]:
    # vars(), not dataclasses.asdict: asdict deep-copies every nested value, and orjson reads them as they are.
    # (The applicant's ID number goes with them, unread: the table has no column for it.)
    return [{**vars(d), "sub": sub, "slot": s.codes.index(d.code)} for d in s.dossiers]


def _event_rows(s: NewSubmission, sub: int, first: int) -> list[dict[str, Any]]:
    """The envelopes' rows: ``ord`` orders them in the statement, ``doc`` names their document."""
    return [
        {
            "ord": first + i,
            "doc": i,
            "sub": sub,
            "stream_id": e.key,  # each envelope opens the stream of the dossier or bundle it is keyed by
            "stream_version": 1,
            "event_id": e.event_id,
            "event_type": e.type,
            "event_version": e.version,
            "occurred_at": e.occurred_at,
            "message_key": e.key,
        }
        for i, e in enumerate(s.envelopes)
    ]


def _prefix(agency: str, day: date) -> str:
    """What a code of that agency and day has before its number."""
    return dossier_code(agency, day, 1)[:-SEQUENCE_DIGITS]


def _arguments(subs: Sequence[NewSubmission]) -> tuple[list[Any], dict[tuple[str, date], int], list[int]]:
    """The statement's arguments; each (agency, day)'s total and each submission's offset in it."""
    totals: dict[tuple[str, date], int] = {}
    offsets: list[int] = []
    for s in subs:
        offsets.append(totals.get((s.agency, s.day), 0))
        totals[(s.agency, s.day)] = offsets[-1] + s.codes.count
    groups = sorted(totals)
    doc_subs: list[int] = []
    docs: list[int] = []
    pieces: list[str] = []
    slots: list[int | None] = []
    dossiers: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for n, s in enumerate(subs):
        d, p, sl = _documents(s)
        doc_subs += [n] * len(d)
        docs += d
        pieces += p
        slots += sl
        dossiers += _dossier_rows(s, n)
        events += _event_rows(s, n, len(events))
    keyed = [(n, s) for n, s in enumerate(subs) if s.idempotency_key is not None]
    topic = subs[0].topic
    return [
        [a for a, _ in groups], [d for _, d in groups], [totals[g] for g in groups], SEQUENCE_DIGITS,
        list(range(len(subs))), [s.agency for s in subs], [s.day for s in subs], offsets,
        [s.codes.count for s in subs], [_prefix(s.agency, s.day) for s in subs],
        doc_subs, docs, pieces, slots,
        orjson.dumps(dossiers).decode(),
        orjson.dumps([vars(s.bundle) for s in subs if s.bundle]).decode(),
        orjson.dumps(events).decode(), topic,
        [n for n, _ in keyed], [s.idempotency_key for _, s in keyed], [s.request_hash for _, s in keyed],
        [s.status_code for _, s in keyed],
    ], totals, offsets  # fmt: skip


@asynccontextmanager
async def pooled_driver_connection(engine: AsyncEngine) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection's driver connection, outside SQLAlchemy's transactions, for submissions
    (which commit by themselves); back to the pool after, closed first if it broke."""
    pooled = await engine.raw_connection()
    broken = False
    try:
        yield pooled.driver_connection
    except Exception as exc:
        broken = connection_broke(exc)
        raise
    finally:
        # greenlet_spawn because SQLAlchemy's pool calls the async driver from synchronous code.
        await greenlet_spawn(pooled.invalidate if broken else pooled.close)


async def write_submission(conn: asyncpg.Connection, s: NewSubmission) -> list[str] | StoredReply:
    """Write one submission: its codes, or the reply stored under its Idempotency-Key; DuplicateDossier
    when a dossier of the same subject is open; RetryableConflict when a concurrent writer got in the way."""
    try:
        [codes] = await write_submissions(conn, [s])
    except asyncpg.UniqueViolationError as exc:
        return await _refused(conn, s, exc)
    except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError) as exc:
        raise RetryableConflict(str(exc)) from exc
    return codes


async def write_submissions(conn: asyncpg.Connection, subs: Sequence[NewSubmission]) -> list[list[str]]:
    """Submissions as one statement on a connection outside any transaction (so that it commits at
    once): each one's codes, in order.

    All or nothing: the driver's error (a unique index, a deadlock) refuses every one of them; with
    several, the caller writes them one at a time to learn whose it was. They must share one topic."""
    if conn.is_in_transaction():
        raise RuntimeError("a submission is its own transaction: write it first, and nothing after it")
    if len({s.topic for s in subs}) != 1:
        raise ValueError("submissions written together go to one topic")
    arguments, totals, offsets = _arguments(subs)
    rows = await conn.fetch(SUBMIT, *arguments)
    last = {(r[0], r[1]): r[2] for r in rows}
    codes: list[list[str]] = []
    for s, offset in zip(subs, offsets, strict=True):
        group = (s.agency, s.day)
        first = last[group] - totals[group] + offset + 1
        codes.append([dossier_code(s.agency, s.day, n) for n in range(first, first + s.codes.count)])
    return codes


async def _refused(conn: asyncpg.Connection, s: NewSubmission, exc: asyncpg.UniqueViolationError) -> StoredReply:
    """Why a unique index refused the statement (which waited for the writer it collided with)."""
    if s.idempotency_key is not None:  # the key is answered first, whatever else collided
        row = await conn.fetchrow(_KEY, s.idempotency_key)
        if row is not None:
            return StoredReply(row[0], row[1], orjson.loads(row[2]))
    if exc.constraint_name == "dossiers_open_subject":
        keyed = [d for d in s.dossiers if d.subject_key is not None]
        subjects = [(d.procedure_code, d.subject_key) for d in keyed]
        rows = await conn.fetch(_OPEN_SUBJECTS, [p for p, _ in subjects], [k for _, k in subjects])
        found = {(r[0], r[1]): (r[2], applicant_key(r[3], r[4])) for r in rows}
        for d, subject in zip(keyed, subjects, strict=True):
            if subject in found:
                code, holder = found[subject]
                raise duplicate_of(d.procedure_code, code, holder, d.applicant_key) from exc
    # The row we collided with is gone again (a dossier ended, a key was purged): try once more.
    raise RetryableConflict(str(exc)) from exc

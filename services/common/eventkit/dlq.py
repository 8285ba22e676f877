"""Operators' tool for dead letters: list them, replay them once the cause is fixed, or discard
those not to be replayed.

    python -m eventkit.dlq list    --schema workflow
    python -m eventkit.dlq replay  --schema workflow --id 12 --id 13   (or --all)
    python -m eventkit.dlq discard --schema workflow --id 14 --reason "test event sent by mistake"

Replay republishes the original message to its original topic with its original key. The
inbox never recorded a dead-lettered event, so the consumer applies it like a new one; other
consumers of that topic that did apply it find its id in their inbox and skip it. Replay once every
service consuming the topic runs the fix (an event of a version only some know is dead-lettered
again by the others). ``--all`` leaves out the letters that were never an event (bytes that do not
parse: the same bytes would fail again, in every consumer of the topic); name one by ``--id`` to
send it all the same.
Discard marks the letters named by ``--id`` (there is no discard of all) as resolved without sending
them, with the reason given, which is kept with them: they leave ``list``, ``replay --all`` and the
``dead_letters_waiting`` gauge. All or nothing: if one of them is not waiting (no such letter, replayed
or discarded already), it is named and none is discarded.
Connection settings come from the flags, else the service's own variables (``WORKFLOW_DATABASE_URL``
for ``--schema workflow``, as its deployment sets them), else DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS,
else the local development servers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiokafka.errors import KafkaError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from eventkit.db import asyncpg_url, make_engine
from eventkit.kafka import KafkaPublisher
from eventkit.outbox import OutgoingMessage
from eventkit.settings import LOCAL_DATABASE_URL, LOCAL_KAFKA
from workcal import vietnam_tz


@dataclass(frozen=True)
class DeadLetter:
    """A dead letter as listed: everything but the message itself (up to a megabyte each), which
    :func:`replay` reads one letter at a time."""

    id: int
    consumer: str
    topic: str
    message_key: str
    event_type: str | None
    error: str
    attempts: int
    dead_lettered_at: datetime


#: The columns of a :class:`DeadLetter`, in its fields' order.
_LETTER_COLUMNS = "id, consumer, topic, coalesce(message_key, ''), event_type, error, attempts, dead_lettered_at"
#: A letter waits until it is replayed or discarded.
_WAITING = "replayed_at IS NULL AND discarded_at IS NULL"


def _letter(row: Sequence[Any]) -> DeadLetter:
    return DeadLetter(
        id=row[0], consumer=row[1], topic=row[2], message_key=row[3], event_type=row[4], error=row[5],
        attempts=row[6], dead_lettered_at=row[7],
    )  # fmt: skip


async def pending(engine: AsyncEngine, ids: list[int] | None = None) -> list[DeadLetter]:
    """Dead letters waiting, neither replayed nor discarded (only ``ids`` if given), oldest first.
    Without their messages: read with them, tens of thousands of letters after a bad rollout filled
    the operator's memory for a listing that prints none of them."""
    query = (
        f"SELECT {_LETTER_COLUMNS} FROM dead_letters WHERE {_WAITING}"
        + (" AND id = ANY(:ids)" if ids else "")
        + " ORDER BY id"
    )
    async with engine.connect() as conn:
        rows = await conn.execute(text(query), {"ids": ids} if ids else {})
        return [_letter(r) for r in rows]


class NotWaiting(Exception):
    """Letters a discard named that are not waiting: no such id, or replayed or discarded already."""

    def __init__(self, ids: list[int]) -> None:
        super().__init__(
            f"not waiting (no such dead letter, or replayed or discarded already): {', '.join(map(str, ids))};"
            " nothing was discarded"
        )
        self.ids = ids


async def discard(engine: AsyncEngine, ids: list[int], reason: str) -> list[DeadLetter]:
    """Mark the waiting letters ``ids`` discarded with ``reason``, without sending them; returns them.

    All or none, in one transaction: if any is not waiting, :class:`NotWaiting` names it and nothing
    changes (a typo in one id must not leave the operator guessing which of the others went). Two
    discards of one letter at once: the second waits for the first's row lock, then finds it gone."""
    wanted = sorted(set(ids))
    async with engine.begin() as conn:
        rows = await conn.execute(
            text(
                f"UPDATE dead_letters SET discarded_at = now(), discard_reason = :reason"
                f" WHERE id = ANY(:ids) AND {_WAITING} RETURNING {_LETTER_COLUMNS}"
            ),
            {"ids": wanted, "reason": reason},
        )
        letters = sorted(map(_letter, rows), key=lambda d: d.id)
        if missing := sorted(set(wanted) - {d.id for d in letters}):
            raise NotWaiting(missing)  # rolls the transaction back: none is discarded
    return letters


def worth_replaying(letters: list[DeadLetter]) -> tuple[list[DeadLetter], list[DeadLetter]]:
    """``letters`` split into events (their type was read) and bytes that never parsed as one."""
    events = [d for d in letters if d.event_type is not None]
    return events, [d for d in letters if d.event_type is None]


_VALUE = text("SELECT value FROM dead_letters WHERE id = :id")


#: A replay says how far it got every so many letters.
PROGRESS_EVERY = 500


async def replay(
    engine: AsyncEngine,
    publisher: KafkaPublisher,
    letters: list[DeadLetter],
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> int:
    """Republish each letter to its original topic and mark it replayed; returns how many.

    ``progress(done, total)`` is told every :data:`PROGRESS_EVERY` letters, and once at the end or
    when a letter fails (the broker gone midway: how many went out is what the operator needs)."""
    done = 0
    try:
        for letter in letters:
            async with engine.connect() as conn:
                value = (await conn.execute(_VALUE, {"id": letter.id})).scalar_one()
            message = OutgoingMessage(letter.topic, letter.message_key, bytes(value), "")
            await publisher.publish([message], headers=[("replayed-dead-letter", str(letter.id).encode())])
            async with engine.begin() as conn:
                await conn.execute(
                    text("UPDATE dead_letters SET replayed_at = now() WHERE id = :id"), {"id": letter.id}
                )
            done += 1
            if done % PROGRESS_EVERY == 0 and done < len(letters):
                progress(done, len(letters))
    finally:
        progress(done, len(letters))
    return done


def _print_progress(done: int, total: int) -> None:
    print(f"replayed {done} of {total} dead letter(s)", flush=True)


def listed(letter: DeadLetter) -> str:
    """A dead letter's line in ``list``: when in Vietnam time with its offset, as the dashboard and
    ``reporting.tail`` show times (UTC without a zone, 01:00 in Hà Nội read as the day before)."""
    at = letter.dead_lettered_at.astimezone(vietnam_tz())
    return (
        f"{letter.id:>6}  {at:%Y-%m-%d %H:%M:%S%z}  {letter.consumer}  {letter.topic}  "
        f"{letter.event_type or '(unparseable)'}  attempts={letter.attempts}  {letter.error.splitlines()[0][:120]}"
    )


async def _main(args: argparse.Namespace) -> int:
    engine = make_engine(args.database_url, args.schema, pool_size=1)
    try:
        if args.command == "discard":
            return await _discard(engine, args.id, args.reason)
        letters = await pending(engine, args.id or None)
        if args.command == "list":
            for d in letters:
                print(listed(d))
            print(f"{len(letters)} dead letter(s) waiting")
            return 0
        if not (args.all or args.id):
            print("replay needs --id N (repeatable) or --all", file=sys.stderr)
            return 2
        if args.all and not args.id:
            letters, unparsed = worth_replaying(letters)
            if unparsed:
                print(
                    f"left out {len(unparsed)} letter(s) that never parsed as an event"
                    f" (ids {', '.join(str(d.id) for d in unparsed)}): replay one by --id to send it anyway"
                )
        publisher = KafkaPublisher(args.bootstrap_servers, client_id="dlq-replay")
        try:
            await replay(engine, publisher, letters, _print_progress)
        finally:
            await publisher.stop()
        return 0
    finally:
        await engine.dispose()


async def _discard(engine: AsyncEngine, ids: list[int], reason: str) -> int:
    try:
        letters = await discard(engine, ids, reason)
    except NotWaiting as exc:
        print(f"dlq: {exc}", file=sys.stderr)
        return 1
    for letter in letters:
        print(listed(letter))
    print(f"discarded {len(letters)} dead letter(s): {reason}")
    return 0


def refused(args: argparse.Namespace) -> str | None:
    """Why the arguments cannot be run, in one line; None when they can. Checked before connecting:
    a discard of every letter by an omitted ``--id`` is no discard, and one without a reason leaves
    the next operator no way to tell why an event was never applied."""
    if args.command != "discard":
        return "--reason is for discard only" if args.reason is not None else None
    if args.all:
        return "discard takes no --all: name each dead letter by --id"
    if not args.id:
        return "discard needs --id N (repeatable)"
    if args.reason is None or not args.reason.strip():
        return 'discard needs --reason "why these are not to be replayed" (not empty)'
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m eventkit.dlq", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["list", "replay", "discard"])
    parser.add_argument("--schema", required=True, help="the consuming service's schema, e.g. workflow")
    parser.add_argument("--id", type=int, action="append", help="a dead letter's id (repeatable)")
    parser.add_argument("--all", action="store_true", help="replay every waiting dead letter that is an event")
    parser.add_argument("--reason", help="discard: why the letters are not to be replayed (kept with them)")
    parser.add_argument("--database-url", help="default: <SCHEMA>_DATABASE_URL, DATABASE_URL or the local one")
    parser.add_argument("--bootstrap-servers", help="default: <SCHEMA>_KAFKA_BOOTSTRAP_SERVERS, KAFKA_… or the local")
    args = parser.parse_args(argv)
    if (problem := refused(args)) is not None:
        print(f"dlq: {problem}", file=sys.stderr)
        return 2
    if args.reason is not None:
        args.reason = args.reason.strip()
    args.database_url = args.database_url or env_setting(args.schema, "DATABASE_URL", LOCAL_DATABASE_URL)
    args.bootstrap_servers = args.bootstrap_servers or env_setting(args.schema, "KAFKA_BOOTSTRAP_SERVERS", LOCAL_KAFKA)
    try:
        # As the services take it: a postgresql:// URL they run with was a psycopg traceback here.
        args.database_url = asyncpg_url(args.database_url)
        return asyncio.run(_main(args))
    except (ValueError, OSError, SQLAlchemyError, KafkaError) as exc:
        # A wrong schema name, an unreachable server, a malformed URL: one line, not a stack trace.
        print(f"dlq: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'failed'}", file=sys.stderr)
        return 1


def env_setting(schema: str, name: str, local: str) -> str:
    """The service's own variable (as its deployment sets it), else the shared one, else ``local``."""
    return os.environ.get(f"{schema.upper()}_{name}") or os.environ.get(name) or local


if __name__ == "__main__":
    sys.exit(main())

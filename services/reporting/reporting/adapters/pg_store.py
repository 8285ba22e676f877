"""The read models in PostgreSQL: one set of tables live, another while a rebuild fills it.

Rows travel as one JSON array per statement (``json_populate_recordset``): a batch of thousands
of facts is one round trip with one parameter, whatever the number of columns, and the encoding
happens in orjson's C code rather than per value in Python (the rebuild is CPU-bound in Python).
Rows a rebuild knows to be new go by binary COPY instead, which PostgreSQL takes in a third of the
time it needs to parse and upsert the same rows from JSON.
"""

from __future__ import annotations

import asyncio
import operator
import re
from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson
from aiokafka import TopicPartition
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from reporting.domain.facts import BUNDLE_COLUMNS, DOSSIER_COLUMNS, BundleFacts, DossierFacts
from reporting.service_layer.ports import EventRecord

#: Every transaction that reads or writes the live tables takes the shared side first (projections,
#: API reads); a rebuild's swap takes the exclusive side before renaming them. So the swap waits for
#: those in flight and they wait for the swap, and none ever holds a table the other needs next.
SWAP_LOCK_SHARED = "SELECT pg_advisory_xact_lock_shared(hashtext(current_schema() || '/rm-swap'))"
SWAP_LOCK_EXCLUSIVE = "SELECT pg_advisory_xact_lock(hashtext(current_schema() || '/rm-swap'))"

_SUFFIX = re.compile(r"^(__[a-z0-9_]{1,30})?$")
_GENERATION = re.compile(r"__r[0-9a-f]+$")
EVENT_LOG_COLUMNS = (
    "event_id", "type", "version", "producer", "key", "occurred_at", "dossier_id", "bundle_id", "agency", "code",
)  # fmt: skip


@dataclass(frozen=True)
class TableSet:
    """The names of one generation of the read-model tables; ``suffix`` "" is the live set."""

    suffix: str = ""

    def __post_init__(self) -> None:
        if not _SUFFIX.match(self.suffix):
            raise ValueError(f"invalid table suffix {self.suffix!r}")

    @property
    def dossiers(self) -> str:
        return f"rm_dossiers{self.suffix}"

    @property
    def bundles(self) -> str:
        return f"rm_bundles{self.suffix}"

    @property
    def event_log(self) -> str:
        return f"rm_event_log{self.suffix}"

    def all(self) -> tuple[str, str, str]:
        return self.dossiers, self.bundles, self.event_log


LIVE = TableSet()


def _upsert(table: str, columns: Sequence[str]) -> str:
    names = ", ".join(columns)
    updates = ", ".join(f"EXCLUDED.{c}" for c in columns[1:])
    return (
        f"INSERT INTO {table} ({names}) SELECT {names}"
        f" FROM json_populate_recordset(NULL::{table}, CAST(:rows AS json))"
        f" ON CONFLICT ({columns[0]}) DO UPDATE SET ({', '.join(columns[1:])}) = ROW({updates})"
    )


class PostgresProjectionStore:
    """The :class:`~reporting.service_layer.ports.ProjectionStore` on a connection in a transaction.

    ``lock_rows``: the live path locks the rows it changes, because replicas project concurrently;
    a rebuild is the only writer of its tables and skips the locks.
    """

    def __init__(self, conn: AsyncConnection, tables: TableSet = LIVE, *, lock_rows: bool = True) -> None:
        self._conn = conn
        self._t = tables
        self._lock = lock_rows

    async def record_events(self, records: Sequence[EventRecord]) -> set[UUID]:
        if not records:
            return set()
        names = ", ".join(EVENT_LOG_COLUMNS)
        sql = (
            f"WITH incoming AS (SELECT {names}"
            f" FROM json_populate_recordset(NULL::{self._t.event_log}, CAST(:rows AS json))),"
            f" logged AS (INSERT INTO {self._t.event_log} ({names}) SELECT {names} FROM incoming"
            " ON CONFLICT (event_id) DO NOTHING RETURNING event_id)"
            " SELECT event_id FROM incoming EXCEPT SELECT event_id FROM logged"
        )
        result = await self._conn.execute(text(sql), {"rows": _json(records)})
        return {row[0] for row in result}

    async def load_dossiers(self, ids: Collection[str]) -> dict[str, DossierFacts]:
        rows = await self._load(self._t.dossiers, "dossier_id", DOSSIER_COLUMNS, ids)
        return {str(row[0]): DossierFacts(*row) for row in rows}

    async def load_bundles(self, ids: Collection[str]) -> dict[str, BundleFacts]:
        rows = await self._load(self._t.bundles, "bundle_id", BUNDLE_COLUMNS, ids)
        return {str(row[0]): BundleFacts(*row) for row in rows}

    async def _load(self, table: str, key: str, columns: Sequence[str], ids: Collection[str]) -> list[tuple[Any, ...]]:
        params = {"ids": list(ids)}
        if self._lock:
            # Create missing rows first so that two replicas' first events of a dossier serialise on the row.
            # Both statements take the rows in id order, as intake, workflow and registry-sync take theirs:
            # inserted in the order of a Python set (each process hashes strings its own way), two replicas
            # projecting the same new dossiers from two topics each held a row the other waited for, and
            # PostgreSQL broke the deadlock after a second by failing one, again and again under load.
            await self._conn.execute(
                text(
                    f"INSERT INTO {table} ({key}) SELECT id FROM unnest(CAST(:ids AS text[])) AS u(id)"
                    " ORDER BY id ON CONFLICT DO NOTHING"
                ),
                params,
            )
        lock = f" ORDER BY {key} FOR UPDATE" if self._lock else ""
        sql = f"SELECT {', '.join(columns)} FROM {table} WHERE {key} = ANY(CAST(:ids AS text[])){lock}"
        rows = (await self._conn.execute(text(sql), params)).all()
        return [tuple(r) for r in rows if not self._lock or r[columns.index("events")]]

    async def save_dossiers(self, facts: Sequence[DossierFacts]) -> None:
        await self._conn.execute(text(_upsert(self._t.dossiers, DOSSIER_COLUMNS)), {"rows": _json(facts)})

    async def save_bundles(self, facts: Sequence[BundleFacts]) -> None:
        await self._conn.execute(text(_upsert(self._t.bundles, BUNDLE_COLUMNS)), {"rows": _json(facts)})

    async def insert_events(self, records: Sequence[EventRecord]) -> None:
        await self._copy(self._t.event_log, EVENT_LOG_COLUMNS, _EVENT_ROW, records)

    async def insert_dossiers(self, facts: Sequence[DossierFacts]) -> None:
        await self._copy(self._t.dossiers, DOSSIER_COLUMNS, _DOSSIER_ROW, facts)

    async def insert_bundles(self, facts: Sequence[BundleFacts]) -> None:
        await self._copy(self._t.bundles, BUNDLE_COLUMNS, _BUNDLE_ROW, facts)

    async def _copy(
        self, table: str, columns: Sequence[str], row: Callable[[Any], tuple[Any, ...]], facts: Sequence[object]
    ) -> None:
        """Binary COPY: no JSON to build in Python and parse in PostgreSQL (a third of the time of the
        upsert for new rows). Rows must be new: COPY has no ON CONFLICT."""
        if not facts:
            return
        raw = await self._conn.get_raw_connection()
        driver: Any = raw.driver_connection
        if not driver.is_in_transaction():
            # SQLAlchemy begins its transaction with the first statement it runs: make sure the
            # COPY is inside it, not committed on its own.
            await self._conn.execute(text("SELECT 1"))
        await driver.copy_records_to_table(table, records=[row(f) for f in facts], columns=list(columns))


_EVENT_ROW = operator.attrgetter(*EVENT_LOG_COLUMNS)
_DOSSIER_ROW = operator.attrgetter(*DOSSIER_COLUMNS)
_BUNDLE_ROW = operator.attrgetter(*BUNDLE_COLUMNS)


def _json(rows: Sequence[object]) -> str:
    return orjson.dumps(rows).decode()


async def create_tables_like(conn: AsyncConnection, target: TableSet) -> None:
    """Empty copies of the live tables under ``target``'s names, built for bulk loading.

    Unlogged (no WAL while loading) and with only the primary keys; :func:`finish_tables` adds the
    other indexes and the logging once the bulk is in.
    """
    for live, new in zip(LIVE.all(), target.all(), strict=True):
        await conn.execute(text(f"CREATE UNLOGGED TABLE {new} (LIKE {live} INCLUDING ALL EXCLUDING INDEXES)"))
        key = ", ".join(await _primary_key(conn, live))
        await conn.execute(text(f"ALTER TABLE {new} ADD PRIMARY KEY ({key})"))


async def finish_tables(
    connect: Callable[[], AbstractAsyncContextManager[AsyncConnection]],
    target: TableSet,
    which: Collection[str] = LIVE.all(),
) -> None:
    """WAL logging (one sequential rewrite), then the live tables' other indexes, before the swap.

    ``which``: the live names of the tables to finish (all three by default). One transaction per
    table, all at once: each is a server backend's CPU-bound work, and the tables are the rebuild's
    own until the swap, so they need not finish together."""

    pairs = [(live, new) for live, new in zip(LIVE.all(), target.all(), strict=True) if live in which]
    await asyncio.gather(*(finish_table(connect, live, new, target) for live, new in pairs))


async def finish_table(
    connect: Callable[[], AbstractAsyncContextManager[AsyncConnection]], live: str, new: str, target: TableSet
) -> None:
    """WAL logging for ``new``, then its copy of ``live``'s other indexes, each built in a transaction
    of its own and all at once (builds of one table share its lock; each is a backend's CPU). In that
    order because making a table logged rewrites it with every index it has: built before, each
    index would be built twice."""
    async with connect() as conn:
        await conn.execute(text(f"ALTER TABLE {new} SET LOGGED"))
        rows = await conn.execute(
            text(
                "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i"
                " WHERE i.indrelid = CAST(:table AS regclass) AND NOT i.indisprimary"
            ),
            {"table": live},
        )
        definitions = rows.all()

    async def build(name: str, definition: str) -> None:
        fresh_name = _GENERATION.sub("", name) + target.suffix  # one suffix, however many rebuilds
        renamed = definition.replace(f" INDEX {name} ON ", f" INDEX {fresh_name} ON ", 1)
        async with connect() as conn:
            await conn.execute(text(renamed.replace(f" ON {_qualified(definition, live)} ", f" ON {new} ", 1)))

    await asyncio.gather(*(build(name, definition) for name, definition in definitions))


def _qualified(definition: str, table: str) -> str:
    """The table as pg_get_indexdef names it (schema-qualified)."""
    after_on = definition.split(" ON ", 1)[1]
    name = after_on.split(" ", 1)[0]
    return name if name.endswith(table) else table


async def _primary_key(conn: AsyncConnection, table: str) -> list[str]:
    rows = await conn.execute(
        text(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid"
            " AND a.attnum = ANY(i.indkey) WHERE i.indrelid = CAST(:table AS regclass) AND i.indisprimary"
        ),
        {"table": table},
    )
    return [r[0] for r in rows]


async def drop_leftover_generations(conn: AsyncConnection) -> list[str]:
    """Drop every generation but the live one (tables an interrupted rebuild left behind); returns
    their names. Only for a rebuild starting under the rebuild lock: any other time, one of them may
    be the tables another replica's rebuild is filling."""
    rows = await conn.execute(
        text(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            " AND tablename ~ '^rm_(dossiers|bundles|event_log)__'"
        )
    )
    names = [r[0] for r in rows]
    for name in names:
        await conn.execute(text(f'DROP TABLE IF EXISTS "{name}"'))
    return names


async def drop_tables(conn: AsyncConnection, tables: TableSet) -> None:
    """Drop one generation's tables (those that exist), e.g. a failed rebuild's own."""
    if tables == LIVE:
        raise ValueError("the live tables are dropped only by swap_in")
    for name in tables.all():
        await conn.execute(text(f"DROP TABLE IF EXISTS {name}"))


async def swap_in(conn: AsyncConnection, rebuilt: TableSet) -> None:
    """Make ``rebuilt`` the live tables and drop the old ones, inside the caller's transaction."""
    for live, new in zip(LIVE.all(), rebuilt.all(), strict=True):
        await conn.execute(text(f"DROP TABLE IF EXISTS {live}__old"))
        await conn.execute(text(f"ALTER TABLE {live} RENAME TO {live}__old"))
        await conn.execute(text(f"ALTER TABLE {new} RENAME TO {live}"))
        await conn.execute(text(f"DROP TABLE {live}__old"))


async def inbox_positions(
    conn: AsyncConnection, consumer: str, partitions: Sequence[TopicPartition]
) -> dict[TopicPartition, int]:
    """Per partition, the offset after the last event ``consumer`` recorded in its inbox (0 if none):
    one look down the ``inbox_positions`` index each (grouped, the whole inbox was read, under the
    swap's lock)."""
    rows = await conn.execute(
        text(
            'SELECT p.topic, p.partition, (SELECT i."offset" + 1 FROM inbox i WHERE i.consumer = :consumer'
            ' AND i.topic = p.topic AND i.partition = p.partition ORDER BY i."offset" DESC LIMIT 1)'
            " FROM unnest(CAST(:topics AS text[]), CAST(:partitions AS int[])) AS p(topic, partition)"
        ),
        {
            "consumer": consumer,
            "topics": [tp.topic for tp in partitions],
            "partitions": [tp.partition for tp in partitions],
        },
    )
    done = {(topic, partition): int(end) for topic, partition, end in rows if end is not None}
    return {tp: done.get((tp.topic, tp.partition), 0) for tp in partitions}

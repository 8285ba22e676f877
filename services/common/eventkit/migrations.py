"""Schema migrations: plain SQL files applied in order at start-up, once each, per schema.

Files are named ``NNNN_description.sql``. The runtime's own files (event store, outbox, inbox)
run first, then the service's. An advisory lock makes concurrent replicas apply them once. All that
are pending run in one transaction, committed at the end (a failing one leaves the schema as it was).
Each is logged as it starts (``applying migration``) and ends (``migration applied``, with its
seconds), and a replica that finds the lock taken says it waits for it: a long backfill is told
apart from a replica waiting on another.

A migration applied is never run again, so one edited afterwards would leave every database that
ran it as it was, silently: each records a checksum of its statements (``--`` comments and spacing
left out), and a build whose file no longer matches refuses to start, naming it. Corrections go in a new
file. (Migrations applied before checksums were kept take the file's as it is now.)
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from eventkit.db import ensure_schema
from eventkit.logging import get_logger

log = get_logger(__name__)


#: How a checksum is computed, its prefix: one recorded another way is computed again, not an edit.
CHECKSUM_WAY = "1:"


@dataclass(frozen=True)
class Migration:
    """One SQL file, identified by its package and file name."""

    source: str
    name: str
    sql: str

    @property
    def id(self) -> str:
        return f"{self.source}:{self.name}"

    @property
    def checksum(self) -> str:
        """Of its statements without ``--`` comments and spacing (editing a comment changes nothing),
        prefixed with the way it is computed (``1:``), so a later way is told apart from an edit."""
        words = (word for line in self.sql.splitlines() for word in _without_comment(line).split())
        return CHECKSUM_WAY + hashlib.sha256(" ".join(words).encode()).hexdigest()


def _comparable(recorded: str | None) -> bool:
    """A checksum this build computes the same way (none: applied by a build before checksums; another
    way: computed again, from the file as it is now)."""
    return recorded is not None and recorded.startswith(CHECKSUM_WAY)


def _without_comment(line: str) -> str:
    """``line`` up to a ``--`` comment, one inside quotes ('…' or "…") not being one."""
    quote = ""
    for i, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif line.startswith("--", i):
            return line[:i]
    return line


class MigrationChanged(RuntimeError):
    """A migration applied to this database differs from its file now: refuse to start."""

    def __init__(self, changed: list[str]) -> None:
        super().__init__(
            f"migrations edited after they were applied: {', '.join(changed)}. The database holds what they"
            " said then; put the change in a new migration, and restore these files."
        )
        self.changed = changed


def migrations_in(package: str, folder: str = "migrations") -> list[Migration]:
    """The ``*.sql`` files in ``package/folder``, sorted by name."""
    root: Traversable = resources.files(package).joinpath(folder)
    if not root.is_dir():
        return []
    files = sorted((f for f in root.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return [Migration(package, f.name, f.read_text(encoding="utf-8")) for f in files]


def _statements(sql: str) -> list[str]:
    """Split a file on semicolons at line ends; our migrations hold no procedural bodies."""
    chunks = [chunk.strip() for chunk in sql.split(";\n")]
    return [chunk.rstrip(";") for chunk in chunks if chunk and not _only_comments(chunk)]


def _only_comments(chunk: str) -> bool:
    return all(line.strip().startswith("--") or not line.strip() for line in chunk.splitlines())


async def apply_migrations(engine: AsyncEngine, schema: str, *packages: str) -> list[str]:
    """Apply the runtime's and the given packages' migrations to ``schema``; returns what ran."""
    await ensure_schema(engine, schema)
    pending = migrations_in("eventkit") + [m for p in packages for m in migrations_in(p)]
    applied: list[str] = []
    async with engine.begin() as conn:
        await _take_lock(conn, schema)
        await conn.execute(
            text(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " id TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
        )
        await conn.execute(text("ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS checksum TEXT"))
        rows = await conn.execute(text("SELECT id, checksum FROM schema_migrations"))
        done: dict[str, str | None] = {row[0]: row[1] for row in rows}
        changed = [m.id for m in pending if m.id in done and _comparable(done[m.id]) and done[m.id] != m.checksum]
        if changed:
            raise MigrationChanged(changed)
        for migration in pending:
            if migration.id in done:
                if not _comparable(done[migration.id]):  # applied before checksums were kept, or another way
                    await conn.execute(
                        text("UPDATE schema_migrations SET checksum = :c WHERE id = :id"),
                        {"c": migration.checksum, "id": migration.id},
                    )
                continue
            log.info("applying migration", schema=schema, migration=migration.id)
            started = time.monotonic()
            for statement in _statements(migration.sql):
                await conn.exec_driver_sql(statement)
            await conn.execute(
                text("INSERT INTO schema_migrations (id, checksum) VALUES (:id, :c)"),
                {"id": migration.id, "c": migration.checksum},
            )
            seconds = round(time.monotonic() - started, 3)
            log.info("migration applied", schema=schema, migration=migration.id, seconds=seconds)
            applied.append(migration.id)
    if applied:
        log.info("migrations applied", schema=schema, migrations=applied)  # committed, all of them at once
    return applied


async def _take_lock(conn: AsyncConnection, schema: str) -> None:
    """The migrations' lock of the schema, for the transaction: tried first, and waited for only if
    another replica holds it, saying so. Replicas starting at once all wait but one, as long as its
    migrations take: with nothing logged, a replica waiting looked the same as one running a long
    backfill."""
    lock = "hashtext('migrations:' || current_schema())"
    if (await conn.execute(text(f"SELECT pg_try_advisory_xact_lock({lock})"))).scalar_one():
        return
    log.info("waiting for the migration lock", schema=schema, held_by="another replica applying migrations")
    started = time.monotonic()
    await conn.execute(text(f"SELECT pg_advisory_xact_lock({lock})"))
    log.info("migration lock granted", schema=schema, waited_seconds=round(time.monotonic() - started, 3))

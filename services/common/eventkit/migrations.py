"""Schema migrations: plain SQL files applied in order at start-up, once each, per schema.

Files are named ``NNNN_description.sql``. The runtime's own files (event store, outbox, inbox)
run first, then the service's. An advisory lock makes concurrent replicas apply them once.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from eventkit.db import ensure_schema
from eventkit.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class Migration:
    """One SQL file, identified by its package and file name."""

    source: str
    name: str
    sql: str

    @property
    def id(self) -> str:
        return f"{self.source}:{self.name}"


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
        await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('migrations:' || current_schema()))"))
        await conn.execute(
            text(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " id TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
        )
        done = set((await conn.execute(text("SELECT id FROM schema_migrations"))).scalars())
        for migration in pending:
            if migration.id in done:
                continue
            for statement in _statements(migration.sql):
                await conn.exec_driver_sql(statement)
            await conn.execute(text("INSERT INTO schema_migrations (id) VALUES (:id)"), {"id": migration.id})
            applied.append(migration.id)
    if applied:
        log.info("migrations applied", schema=schema, migrations=applied)
    return applied

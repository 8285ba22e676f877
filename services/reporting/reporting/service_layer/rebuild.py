"""Rebuild the read models from the topics: replay everything into fresh tables, then swap them in.

1. Create empty copies of the three read-model tables (a new generation).
2. Read every topic from the beginning until caught up with the high watermarks, one transaction
   per batch, through the same :func:`~reporting.service_layer.projector.project` the live consumer
   uses. Events keep arriving meanwhile; they are read too, nobody is blocked.
3. In one transaction: take the swap lock exclusively (live projections wait), read up to the
   highest offset the live consumer has recorded in its inbox for each partition, rename the new
   tables into place, commit.

So every event the live consumer projected before the swap is in the new tables (its offset is in
the inbox, at most the target); events it has not reached yet are either in the new event log
(read by the rebuild: skipped after the swap) or not (projected after the swap). A rebuild neither
loses nor double-counts an event, and the service keeps running.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import ConsumerRecord
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.envelope import Envelope, is_known_type, payload_model
from contracts.ids import uuid7
from eventkit.backoff import stop_if_cancelled
from eventkit.logging import get_logger
from eventkit.tasks import run_together
from reporting.adapters import pg_store
from reporting.adapters.feed_listener import announce_gap
from reporting.adapters.pg_store import LIVE, PostgresProjectionStore, TableSet
from reporting.adapters.topic_reader import TopicHistory
from reporting.domain.outcome import Derivation
from reporting.service_layer.facts_cache import CachedStore
from reporting.service_layer.projector import Incoming, project

log = get_logger(__name__)

_TRY_REBUILD_LOCK = "SELECT pg_try_advisory_lock(hashtext(current_schema() || '/rm-rebuild'))"
#: The longest the swap waits for a lock on the live tables before the rebuild fails (to run again).
SWAP_LOCK_SECONDS = 60
_UNLOCK_REBUILD = "SELECT pg_advisory_unlock(hashtext(current_schema() || '/rm-rebuild'))"


@contextlib.contextmanager
def _bulk_allocation() -> Iterator[None]:
    """Collect garbage less often while replaying.

    A replay allocates millions of short-lived objects while keeping a large cache alive; with the
    default thresholds the cyclic collector keeps traversing that cache and takes most of the CPU
    (measured: 17 instead of 50 µs per event). Process-wide, so restored right after.
    """
    thresholds = gc.get_threshold()
    gc.set_threshold(100_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


class RebuildInProgress(Exception):
    """Another rebuild (in this process or another replica) is running."""


class RebuildLockHeld(RebuildInProgress):
    """Another replica holds the rebuild lock: this run is refused (state "refused"), not failed."""


class UnreadableHistory(Exception):
    """The topics hold events of types or in versions this build cannot read: rebuilt without them, the read model
    would lose for good any a newer replica had already applied (its inbox says so; nothing would apply
    them again), so the rebuild is not swapped in."""


def _refuse_unknown_versions(status: RebuildStatus) -> None:
    if status.unknown_versions:
        raise UnreadableHistory(
            f"{status.unknown_versions} events are of types or versions this build cannot read; rebuild once"
            " every replica runs a build that reads them"
        )


@dataclass
class RebuildStatus:
    id: str
    state: str = "running"  # running / succeeded / failed / refused (another replica is rebuilding)
    phase: str = "starting"
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    finished_at: str | None = None
    records_read: int = 0
    events_applied: int = 0
    duplicates: int = 0
    skipped: int = 0  # types the live consumer does not handle either
    invalid: int = 0  # malformed envelopes or payloads (the live consumer dead-letters them)
    unknown_versions: int = 0  # types or versions this build does not know: the rebuild is not swapped in
    seconds: float = 0.0
    events_per_second: float = 0.0
    # Where the time went: the fixed costs around the replay, which dominate a small log.
    first_record_seconds: float | None = None  # start → first record: locks, new tables, broker metadata, fetch
    replay_seconds: float = 0.0  # first record → caught up with the topics' ends
    replay_events_per_second: float = 0.0  # records read ÷ replay_seconds: the rate a large log approaches
    finish_seconds: float = 0.0  # last cached facts written, indexes built, tables made logged
    swap_seconds: float = 0.0  # the exclusive part: catch up with the live consumer, rename the tables
    error: str | None = None
    _clock: float = field(default_factory=time.monotonic, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")}

    def elapsed(self) -> float:
        """Seconds since this rebuild started."""
        return time.monotonic() - self._clock


class Rebuilder:
    """Runs one rebuild at a time; ``status`` is the current or last one that ran.

    A run another replica's rebuild lock turns away ends "refused": ``on_finished`` sees it (it is
    counted), but ``status`` goes back to the last run that ran. Shown instead, the refusal hid that
    run's result, and it was counted and shown as a failed rebuild while the other replica's went well.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        history: Callable[[], TopicHistory],
        derive: Derivation,
        event_types: set[str],
        *,
        live_consumer: str,
        batch_size: int = 2000,
        cache_size: int = 20_000,
        read_ahead: int = 1,
        progress_seconds: float = 5.0,
        feed_channel: str | None = None,
    ) -> None:
        self._engine = engine
        self._feed_channel = feed_channel
        self._history = history
        self._derive = derive
        self._types = event_types
        self._batch_size = batch_size
        self._live_consumer = live_consumer
        self._cache_size = cache_size
        self._read_ahead = read_ahead
        self._progress_seconds = progress_seconds
        self._running = asyncio.Lock()
        self.status: RebuildStatus | None = None
        self._shown_before: RebuildStatus | None = None  # what ``status`` goes back to if the run is refused
        self._decided = asyncio.Event()  # the run holds the rebuild lock, or has ended
        self.on_finished: Callable[[RebuildStatus], None] | None = None

    @property
    def running(self) -> bool:
        return self._running.locked()

    def start(self) -> RebuildStatus:
        """Start a rebuild in the background; raises :class:`RebuildInProgress` if one runs here."""
        task = getattr(self, "_task", None)
        # The lock is taken once the task runs: two requests in one tick both saw it free, and the
        # second replayed everything again behind the first, its status the only one left to read.
        if self._running.locked() or (task is not None and not task.done()):
            raise RebuildInProgress("a rebuild is already running in this process")
        status = RebuildStatus(id=str(uuid7()))
        self._shown_before, self.status = self.status, status
        self._decided = asyncio.Event()
        self._task = asyncio.create_task(self.run(status), name=f"rebuild-{status.id}")
        return status

    async def decided(self) -> None:
        """Wait until the rebuild started last holds the rebuild lock or has ended (refused, if another
        replica holds it): a connection and one statement, so a request can say at once whether it runs."""
        await self._decided.wait()

    async def stop(self) -> None:
        """Cancel a rebuild started here and wait for it to end: the service is stopping, and the
        engine it works on is disposed next. Its new tables are left for the next rebuild to drop."""
        task = getattr(self, "_task", None)
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def wait(self) -> RebuildStatus | None:
        """The rebuild started last, once it has ended: its own status, a refused one's too (``status``
        then shows the run before it)."""
        task: asyncio.Task[RebuildStatus] | None = getattr(self, "_task", None)
        if task is None:
            return self.status
        return await asyncio.shield(task)

    async def run(self, status: RebuildStatus) -> RebuildStatus:
        async with self._running:
            try:
                try:
                    async with self._engine.connect() as lock_conn:
                        if not (await lock_conn.execute(text(_TRY_REBUILD_LOCK))).scalar():
                            raise RebuildLockHeld("a rebuild is already running in another replica")
                        await lock_conn.commit()
                        self._decided.set()
                        tables = TableSet(f"__r{status.id[-8:]}")
                        try:
                            await self._rebuild(status, tables)
                        except Exception as exc:
                            stop_if_cancelled(exc)  # stopping: the tables are left for the next rebuild
                            # Its own tables only, and before the lock goes: they were dropped after it,
                            # every generation with them, and a rebuild another replica started in
                            # between lost the tables it was filling, and failed in turn.
                            await self._drop_tables(tables)
                            raise
                        finally:
                            await lock_conn.execute(text(_UNLOCK_REBUILD))
                            await lock_conn.commit()
                except Exception as exc:
                    # A stop the driver turned into its own error is a stop (below), not a failed rebuild.
                    stop_if_cancelled(exc)
                    raise
                status.state = "succeeded"
            except RebuildLockHeld as exc:
                status.state, status.error = "refused", str(exc)
            except asyncio.CancelledError:
                # The service is stopping: the new tables are left for the next rebuild to drop.
                status.state, status.error = "failed", "cancelled: the service stopped"
                raise
            except Exception as exc:
                # The first line only: SQLAlchemy's text goes on with the statement (the log has it all).
                first_line = next(iter(str(exc).splitlines()), "")
                status.state, status.error = "failed", f"{type(exc).__name__}: {first_line[:300]}".rstrip(": ")
                log.exception("rebuild failed", rebuild=status.id)
            finally:
                status.seconds = round(status.elapsed(), 3)
                status.events_per_second = round(status.records_read / status.seconds, 1) if status.seconds else 0.0
                if status.replay_seconds:
                    status.replay_events_per_second = round(status.records_read / status.replay_seconds, 1)
                status.finished_at = datetime.now(UTC).isoformat()
                status.phase = "done"
                if status.state == "refused":
                    log.info("rebuild refused: another replica is rebuilding", rebuild=status.id)
                    if self.status is status:  # the last run that ran stays the one shown
                        self.status = self._shown_before
                else:
                    log.info(
                        "rebuild finished",
                        **{k: v for k, v in status.as_dict().items() if k != "id"},
                        rebuild=status.id,
                    )
                self._decided.set()
                if self.on_finished:
                    self.on_finished(status)
                # The dozen connections a rebuild opens (a table and an index build each) are not
                # needed until the next one: they would stay open, outside the connection budget.
                await self._engine.dispose()
            return status

    async def _rebuild(self, status: RebuildStatus, tables: TableSet) -> None:
        await self._drop_leftovers()
        cache = CachedStore(self._derive, self._cache_size, write_chunk=self._batch_size)
        async with contextlib.AsyncExitStack() as stack:
            # The new tables and the broker's metadata and first fetch at once: neither needs the other.
            _, history = await run_together(self._create_tables(tables), stack.enter_async_context(self._history()))
            stack.enter_context(_bulk_allocation())
            status.phase = "replaying"
            await self._replay(history, tables, status, cache)
            if status.first_record_seconds is not None:
                status.replay_seconds = round(status.elapsed() - status.first_record_seconds, 3)
            mark = status.elapsed()
            _refuse_unknown_versions(status)
            status.phase = "finishing"
            # Before the lock, to keep the swap short. The event log is complete once the replay is:
            # its indexes are built while the cache writes the facts (server and client CPU at once).
            await run_together(
                pg_store.finish_tables(self._engine.begin, tables, [LIVE.event_log]), self._finish_facts(tables, cache)
            )
            status.finish_seconds, mark = round(status.elapsed() - mark, 3), status.elapsed()
            status.phase = "swapping"
            async with self._engine.begin() as conn:
                # This engine has no limits, but the swap holds every metrics request up while it
                # waits: a session that holds the live tables (idle in a transaction) fails it instead.
                await conn.execute(text(f"SET LOCAL lock_timeout = '{SWAP_LOCK_SECONDS}s'"))
                await conn.execute(text(pg_store.SWAP_LOCK_EXCLUSIVE))
                targets = await pg_store.inbox_positions(conn, self._live_consumer, history.partitions)
                async for records in history.read_until(targets, max_records=self._batch_size):
                    await self._apply(self._parse(records, status), conn, tables, status, cache)
                await cache.over(PostgresProjectionStore(conn, tables, lock_rows=False)).flush(everything=True)
                _refuse_unknown_versions(status)
                await pg_store.swap_in(conn, tables)
                if self._feed_channel is not None:
                    # The replay read ahead of the live consumer, which finds those events logged
                    # already and announces none of them: open streams would miss them unawares.
                    await announce_gap(conn, self._feed_channel)
            status.swap_seconds = round(status.elapsed() - mark, 3)

    async def _create_tables(self, tables: TableSet) -> None:
        async with self._engine.begin() as conn:
            await pg_store.create_tables_like(conn, tables)

    async def _finish_facts(self, tables: TableSet, cache: CachedStore) -> None:
        """Write the facts still in the cache, then finish their tables."""
        async with self._engine.begin() as conn:
            await cache.over(PostgresProjectionStore(conn, tables, lock_rows=False)).flush(everything=True)
        await pg_store.finish_tables(self._engine.begin, tables, [LIVE.dossiers, LIVE.bundles])

    async def _replay(self, history: TopicHistory, tables: TableSet, status: RebuildStatus, cache: CachedStore) -> None:
        """Read and parse the next batch while the database writes the previous one.

        Parsed events are the bulk of the memory a rebuild holds (a few kB each): at most
        ``read_ahead`` batches wait, besides the one being written and the one being parsed.
        """
        parsed: asyncio.Queue[list[Incoming] | None] = asyncio.Queue(maxsize=self._read_ahead)

        async def read() -> None:
            async for records in history.read_available(max_records=self._batch_size):
                await parsed.put(self._parse(records, status))
            await parsed.put(None)

        async def write() -> None:
            logged = status.elapsed()
            while (incoming := await parsed.get()) is not None:
                async with self._engine.begin() as conn:
                    await self._apply(incoming, conn, tables, status, cache)
                if status.elapsed() - logged >= self._progress_seconds:
                    logged = status.elapsed()
                    self._log_progress(status, cache)

        await run_together(read(), write())  # one failing cancels the other

    async def _apply(
        self, incoming: list[Incoming], conn: AsyncConnection, tables: TableSet, status: RebuildStatus,
        cache: CachedStore,
    ) -> None:  # fmt: skip
        if incoming:
            store = cache.over(PostgresProjectionStore(conn, tables, lock_rows=False))
            applied = await project(incoming, store, None, feed=False)
            status.events_applied += applied.applied
            status.duplicates += applied.duplicates

    @staticmethod
    def _log_progress(status: RebuildStatus, cache: CachedStore) -> None:
        """A line now and then on a long replay (``GET /v1/projections/rebuild`` has the same figures)."""
        since = status.elapsed() - (status.first_record_seconds or 0.0)
        log.info(
            "rebuild progress",
            rebuild=status.id,
            records_read=status.records_read,
            events_applied=status.events_applied,
            events_per_second=round(status.records_read / since) if since > 0 else None,
            facts_cached=len(cache),
        )

    def _parse(self, records: list[ConsumerRecord], status: RebuildStatus) -> list[Incoming]:
        if records and status.first_record_seconds is None:
            status.first_record_seconds = round(status.elapsed(), 3)
        status.records_read += len(records)
        incoming: list[Incoming] = []
        for record in records:
            try:
                envelope = Envelope.from_json(record.value)
            except (ValidationError, ValueError, TypeError):
                status.invalid += 1
                continue
            if envelope.type not in self._types and is_known_type(envelope.type):
                status.skipped += 1  # a type the projection has no use for
                continue
            if payload_model(envelope.type, envelope.version) is None:
                # A type or a version this build does not know.
                # A version this build does not know. Logged, it would be taken as seen: the live
                # consumer dead-letters it for replay after the upgrade, and that replay would be a
                # duplicate. Left out and counted: the rebuild is then not swapped in (UnreadableHistory).
                status.unknown_versions += 1
                continue
            try:
                incoming.append((envelope, envelope.parse_payload()))
            except ValidationError:
                status.invalid += 1
        return incoming

    async def _drop_leftovers(self) -> None:
        """Every generation an interrupted rebuild left behind: only under the rebuild lock, at the start."""
        try:
            async with self._engine.begin() as conn:
                dropped = await pg_store.drop_leftover_generations(conn)
            if dropped:
                log.info("dropped tables of an unfinished rebuild", tables=dropped)
        except Exception:
            log.exception("could not drop the tables of an unfinished rebuild")

    async def _drop_tables(self, tables: TableSet) -> None:
        """A failed rebuild's own tables; if that fails too, the next rebuild drops them at its start."""
        try:
            async with self._engine.begin() as conn:
                await pg_store.drop_tables(conn, tables)
        except Exception as exc:
            stop_if_cancelled(exc)
            log.exception("could not drop the tables of a failed rebuild", tables=list(tables.all()))

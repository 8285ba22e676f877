"""Engine creation: one async engine per process, bound to the service's own schema."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from eventkit.backoff import backoff_delay, stop_if_cancelled
from eventkit.logging import get_logger

log = get_logger(__name__)
T = TypeVar("T")
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def check_schema_name(schema: str) -> str:
    """Schema names go into DDL, so they are restricted to plain identifiers."""
    if not _SCHEMA_NAME.match(schema):
        raise ValueError(f"invalid schema name {schema!r}")
    return schema


@dataclass(frozen=True)
class TimeLimits:
    """How long the server lets one statement run, wait for one lock, or leave a transaction idle,
    before it cancels it.

    Without them a statement that can never finish (a plan gone wrong) would run until the driver
    gave up waiting, and the driver's timeout looks like an outage: a consumer would retry its event
    for ever and stall the partition. The server's own refusals say the database is up and this work
    is the trouble: a statement cancelled (57014) counts against its event, which goes to the dead
    letters after its attempts; a lock not granted in time (55P03) is contention, tried again without
    counting. A session left idle in a transaction (holding its locks) is ended after
    ``idle_in_transaction_seconds``, so that such waits end. The driver waits ``client_margin``
    longer than the statement limit, so that its own timeout still means "no answer at all".
    """

    statement_seconds: float = 25.0
    lock_seconds: float = 20.0
    client_margin: float = 5.0
    #: Above the longest a transaction of ours waits between statements (the relay's 30 s publish).
    idle_in_transaction_seconds: float = 120.0

    def server_settings(self) -> dict[str, str]:
        return {
            "statement_timeout": str(round(self.statement_seconds * 1000)),
            "lock_timeout": str(round(self.lock_seconds * 1000)),
            "idle_in_transaction_session_timeout": str(round(self.idle_in_transaction_seconds * 1000)),
        }

    @property
    def command_timeout(self) -> float | None:
        """The driver's wait for an answer; none when statements are not limited (0 turns a limit off)."""
        return self.statement_seconds + self.client_margin if self.statement_seconds else None


#: What an unlimited engine sends: none of ours, and none a role or database default sets (a managed
#: server's ``ALTER ROLE … SET statement_timeout`` would otherwise still cut a migration short).
_UNLIMITED = {"statement_timeout": "0", "lock_timeout": "0", "idle_in_transaction_session_timeout": "0"}


def asyncpg_url(url: str) -> str:
    """``url`` as the engine takes it: asyncpg's. ``postgresql://`` and Heroku's ``postgres://`` name
    PostgreSQL with its default driver, so they are taken as asyncpg's; any other driver failed only
    when the engine was made (psycopg2 is not installed). ValueError otherwise, without the URL in
    the message: it has the password."""
    scheme, separator, rest = url.partition("://")
    if not separator:
        raise ValueError("not a URL: expected postgresql+asyncpg://user:password@host/database")
    if scheme.lower() in ("postgresql", "postgres"):
        url = f"postgresql+asyncpg://{rest}"
    elif scheme.lower() != "postgresql+asyncpg":
        raise ValueError(f"{scheme}:// is not a driver the services have: use postgresql+asyncpg://")
    try:
        make_url(url)
    except (ArgumentError, ValueError):
        raise ValueError("not a database URL: expected postgresql+asyncpg://user:password@host/database") from None
    return url


def make_engine(url: str, schema: str, *, pool_size: int = 10, limits: TimeLimits | None = TimeLimits()) -> AsyncEngine:
    """An engine whose connections all use ``schema`` (then public) as their search path.

    Unqualified table names in our SQL therefore resolve to the service's own tables, and two
    services (or two test runs) can share one database without seeing each other's data.

    ``limits``: the :class:`TimeLimits` of every statement; None for work that may rightly take
    minutes (migrations, a projection's rebuild), which then waits as long as it takes.
    """
    check_schema_name(schema)
    server_settings = {"search_path": f"{schema},public"} | (limits.server_settings() if limits else _UNLIMITED)
    return create_async_engine(
        url,
        # Up to 2 × pool_size connections as before, but all of them kept once opened: an overflow
        # connection is closed on every return to a full pool, so under load each request could pay
        # a new session (TLS probe, authentication, type introspection, re-preparing its statements;
        # a backend fork on the server). QueuePool opens connections only when needed, so an idle
        # service still holds few.
        pool_size=2 * pool_size,
        max_overflow=0,
        # Unlimited work waits for a connection as long as it takes too: a rebuild builds more indexes at
        # once than a small pool holds, and a build waiting its turn failed after 30 s, the rebuild with it.
        pool_timeout=30.0 if limits else 24 * 3600.0,
        # An error's text leaves out the statement's parameters: they are events and commands, with
        # citizens' names and numbers, and the text goes to logs and dead letters.
        hide_parameters=True,
        # No pre-ping: it costs three round trips (BEGIN, ping, ROLLBACK) per checkout. A connection the
        # server dropped fails its next statement, which invalidates the whole pool; callers retry.
        connect_args={
            "server_settings": server_settings,
            "command_timeout": limits.command_timeout if limits else None,
        },
    )


#: How long the server lets a statement made for a metrics scrape run: Prometheus gives up on a whole
#: scrape after 10 s, and a request's limit (:class:`TimeLimits`) is 25 s.
SCRAPE_STATEMENT_SECONDS = 2.0


async def limit_to_scrape(conn: AsyncConnection) -> None:
    """Limit the statements of ``conn``'s transaction, and of it alone, to :data:`SCRAPE_STATEMENT_SECONDS`
    (in a transaction: outside one, the setting would do nothing)."""
    await conn.execute(
        text("SELECT set_config('statement_timeout', :ms, true)"), {"ms": str(int(SCRAPE_STATEMENT_SECONDS * 1000))}
    )


async def ensure_schema(engine: AsyncEngine, schema: str) -> None:
    """Create the service's schema if it does not exist yet."""
    async with engine.begin() as conn:
        # Replicas starting at once on a fresh database: each found no schema and created it, and all
        # but one stopped on a unique violation in pg_namespace. Checked and created under a lock.
        await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('schema:' || :s))"), {"s": schema})
        # CREATE SCHEMA IF NOT EXISTS needs the database-level CREATE privilege even when the
        # schema exists; asking first lets production roles run without it.
        exists = await conn.execute(text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": schema})
        if exists.first() is None:
            await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{check_schema_name(schema)}"'))


async def ping(engine: AsyncEngine) -> None:
    """Round-trip to the database; raises when it is unreachable."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


#: Server settings that must be on for an acknowledged commit to survive a crash of the server.
DURABILITY_SETTINGS = ("fsync", "synchronous_commit")


async def durability_gaps(engine: AsyncEngine) -> list[str]:
    """Which of :data:`DURABILITY_SETTINGS` the server has turned off.

    The design depends on them: the relay publishes an outbox row once its transaction has
    committed, and a consumer commits its offsets after its transaction. A server that
    acknowledges commits before they are on disk can lose them in a crash, leaving published
    events whose cause is gone and consumed events whose effect is gone (never redelivered)."""
    async with engine.connect() as conn:
        values = {name: (await conn.execute(text(f"SHOW {name}"))).scalar_one() for name in DURABILITY_SETTINGS}
    return [name for name, value in values.items() if value == "off"]


#: SQLSTATEs that mean the server or the session is unavailable, not that the statement was wrong:
#: connection exceptions (class 08), the server shutting down or starting (57P01-57P03), insufficient
#: resources (class 53: disk full, out of memory, no free connection slot), and a read-only
#: transaction (25006: the server is a standby, as it is for a while during a failover).
_UNAVAILABLE_STATES = ("08", "57P01", "57P02", "57P03", "53", "25006")


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database (or the network to it) is unavailable rather than that the
    work was wrong: the caller should wait and try again, not give up on the work. Takes
    SQLAlchemy's errors and the driver's own (code that uses asyncpg directly)."""
    if isinstance(exc, OperationalError | ConnectionError | OSError | TimeoutError):
        return True
    # SQLAlchemy's wrapper of the driver's error is judged by what the driver raised: its interface
    # errors are also misuse (two statements at once on one connection, too many parameters), which,
    # taken for an outage, stalled a consumer's partition for ever ("database unavailable; retrying").
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        raised = exc.orig.__cause__ if exc.orig is not None else None
        if raised is not None and raised is not exc and is_unavailable(raised):
            return True
    # No pooled connection came free in time: every one is busy (the server is slow or hangs), which
    # says nothing against the work. SQLAlchemy's own TimeoutError is not the builtin one.
    if isinstance(exc, PoolTimeout):
        return True
    # The driver's own word for a connection the server dropped (terminated, failed over) when the
    # code uses it directly: "connection is closed", "... the underlying connection is closed".
    # Its other interface errors are misuse, which trying again would not mend.
    if isinstance(exc, asyncpg.InterfaceError) and "closed" in str(exc):
        return True
    # The driver's connection stuck mid-operation ("cannot switch to state …; another operation is in
    # progress"): seen on the first statement after the server terminated the session. Discarded,
    # another connection does the work.
    if isinstance(exc, asyncpg.InternalClientError):
        return True
    state = sqlstate(exc)
    return state is not None and state.startswith(_UNAVAILABLE_STATES)


#: SQLSTATEs that mean another transaction got in the way of work that was not wrong: a
#: serialization failure (40001), a deadlock PostgreSQL broke by failing this side (40P01), a lock
#: not granted within ``lock_timeout`` (55P03).
_CONTENTION_STATES = frozenset({"40001", "40P01", "55P03"})


def is_contention(exc: BaseException) -> bool:
    """Whether ``exc`` says a concurrent transaction got in the way (:data:`_CONTENTION_STATES`):
    the same work, run again, can succeed. A request answers "busy, try again", a consumer tries
    again without counting it against the event."""
    return sqlstate(exc) in _CONTENTION_STATES


def is_lock_not_granted(exc: BaseException) -> bool:
    """Whether a lock was not granted within ``lock_timeout`` (55P03): the holder keeps it, so the
    same work on another lock-taking statement right away would wait as long again."""
    return sqlstate(exc) == "55P03"


def is_slow_or_blocked(exc: BaseException) -> bool:
    """Whether the server gave up on the work as too slow or blocked behind a lock (a statement
    cancelled, a lock not granted in time): done again at once, the same work would wait as long."""
    return is_statement_timeout(exc) or is_lock_not_granted(exc)


def is_statement_timeout(exc: BaseException) -> bool:
    """Whether the server cancelled the statement (57014): it ran past ``statement_timeout``
    (:class:`TimeLimits`), or an operator cancelled it. The database is up; this work is slow."""
    return sqlstate(exc) == "57014"


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a database error, from SQLAlchemy's wrapper or the driver's own; else None."""
    if isinstance(exc, DBAPIError):
        exc = exc.orig or exc
    state = getattr(exc, "sqlstate", None)
    return state if isinstance(state, str) else None


async def outlasting_outages(work: Callable[[], Awaitable[T]], *, for_seconds: float, what: str) -> T:
    """``work()``, tried again while the database is unavailable (:func:`is_unavailable`), for up to
    ``for_seconds``; then, or for any other error, that error.

    For start-up (the database may still be starting), and for the writes that record what was done
    outside the database (an external system called): lost to a short outage, the work would be
    done again once its lease ran out, minutes later."""
    deadline = time.monotonic() + for_seconds
    attempt = 0
    while True:
        try:
            return await work()
        except Exception as exc:
            stop_if_cancelled(exc)
            attempt += 1
            if not is_unavailable(exc) or time.monotonic() >= deadline:
                raise
            log.warning("database unavailable; trying again", what=what, attempt=attempt, error=repr(exc))
            await asyncio.sleep(min(backoff_delay(attempt, base=0.1, cap=2.0), max(deadline - time.monotonic(), 0)))


async def purging(purge: Callable[[], Awaitable[object]], *, retention_seconds: float, what: str) -> None:
    """Run ``purge`` (the deletion of rows older than a retention) now and then a few times per
    retention period, at most an hour apart, until cancelled. A database outage costs a round, not
    the task."""
    while True:
        try:
            await purge()
        except (OSError, SQLAlchemyError) as exc:
            stop_if_cancelled(exc)
            log.warning("cannot purge yet; trying again next round", what=what, error=repr(exc))
        await asyncio.sleep(min(retention_seconds / 4, 3600.0))

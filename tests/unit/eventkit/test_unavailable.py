"""Telling an outage, or a concurrent transaction in the way, from a bad statement: consumers wait
out the first two and dead-letter the third; HTTP answers 503 for the first two."""

from __future__ import annotations

import asyncio

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
import pytest
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_dbapi
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from eventkit.db import is_contention, is_unavailable, outlasting_outages, purging


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
        # The driver used directly on a connection the server terminated (intake's submissions): it
        # was a 500 with a stack trace to the portal, seen when every backend was terminated mid-load.
        asyncpg.exceptions.InterfaceError("connection is closed"),
        asyncpg.exceptions.InterfaceError("cannot call PreparedStatement.fetch(): the underlying connection is closed"),
        # The driver's protocol stuck mid-operation, on the next statement after the server ended the
        # session (a 500 in CI when every intake session was terminated).
        asyncpg.exceptions.InternalClientError("cannot switch to state 12; another operation (2) is in progress"),
        ConnectionRefusedError(111, "Connection refused"),
        TimeoutError(),
        OperationalError("SELECT 1", {}, Exception("server closed the connection")),
        DBAPIError("SELECT 1", {}, Exception("gone"), connection_invalidated=True),
        DBAPIError("SELECT 1", {}, asyncpg.exceptions.CannotConnectNowError("starting up")),
        # Every pooled connection busy while the server hangs: counted against the event, one good event
        # after another went to the dead letters during a stall.
        PoolTimeout("QueuePool limit of size 20 overflow 0 reached, connection timed out, timeout 30.00"),
        DBAPIError("INSERT", {}, asyncpg.exceptions.DiskFullError("could not extend file: No space left")),
        DBAPIError("INSERT", {}, asyncpg.exceptions.OutOfMemoryError("out of memory")),
        DBAPIError("INSERT", {}, asyncpg.exceptions.ReadOnlySQLTransactionError("read-only transaction")),
    ],
)
def test_outages_are_unavailable(error: BaseException) -> None:
    assert is_unavailable(error)


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.UniqueViolationError("duplicate key value violates unique constraint"),
        asyncpg.exceptions.QueryCanceledError("canceling statement due to statement timeout"),
        asyncpg.exceptions.InterfaceError("cannot perform operation: another operation is in progress"),
        IntegrityError("INSERT", {}, asyncpg.exceptions.UniqueViolationError("duplicate key")),
        DBAPIError("SELECT", {}, Exception("syntax error")),
        ValueError("a bug"),
    ],
)
def test_bad_work_is_not(error: BaseException) -> None:
    assert not is_unavailable(error)


_ADAPTER = AsyncAdapt_asyncpg_dbapi(asyncpg)


def through_sqlalchemy(raised: BaseException) -> DBAPIError:
    """The driver's error as SQLAlchemy's asyncpg dialect hands it on: its own DB-API exception,
    raised from the driver's, wrapped in SQLAlchemy's."""
    kind = _ADAPTER.InterfaceError if isinstance(raised, asyncpg.InterfaceError) else _ADAPTER.Error
    try:
        raise kind(f"{type(raised)}: {raised}") from raised
    except _ADAPTER.Error as adapted:
        return DBAPIError.instance("SELECT 1", {}, adapted, _ADAPTER.Error)


@pytest.mark.parametrize(
    ("raised", "unavailable"),
    [
        # Misuse: counted as an outage, a handler's bug was retried for ever and its partition stalled.
        (asyncpg.exceptions.InterfaceError("cannot perform operation: another operation is in progress"), False),
        (asyncpg.exceptions.InterfaceError("the number of query arguments cannot exceed 32767"), False),
        (asyncpg.exceptions.InterfaceError("connection is closed"), True),
        (
            asyncpg.exceptions.InternalClientError("cannot switch to state 12; another operation (2) is in progress"),
            True,
        ),
    ],
)
def test_sqlalchemys_wrapper_is_judged_by_what_the_driver_raised(raised: BaseException, unavailable: bool) -> None:
    wrapped = through_sqlalchemy(raised)
    assert type(wrapped).__module__ == "sqlalchemy.exc" and wrapped.orig.__cause__ is raised  # type: ignore[union-attr]
    assert is_unavailable(wrapped) is unavailable


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.DeadlockDetectedError("deadlock detected"),
        asyncpg.exceptions.SerializationError("could not serialize access due to concurrent update"),
        asyncpg.exceptions.LockNotAvailableError("canceling statement due to lock timeout"),
        DBAPIError("UPDATE", {}, asyncpg.exceptions.DeadlockDetectedError("deadlock detected")),
    ],
)
def test_a_concurrent_transaction_in_the_way_is_contention_not_an_outage(error: BaseException) -> None:
    assert is_contention(error)
    assert not is_unavailable(error)


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.UniqueViolationError("duplicate key value violates unique constraint"),
        asyncpg.exceptions.QueryCanceledError("canceling statement due to statement timeout"),
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
        DBAPIError("SELECT", {}, Exception("syntax error")),
        ValueError("a bug"),
    ],
)
def test_other_errors_are_not_contention(error: BaseException) -> None:
    assert not is_contention(error)


class Flaky:
    """A write that meets ``outages`` refused connections (or one ``error``) before it goes through."""

    def __init__(self, outages: int = 0, error: Exception | None = None) -> None:
        self.outages, self.error, self.attempts = outages, error, 0

    async def __call__(self) -> str:
        self.attempts += 1
        if self.error is not None:
            raise self.error
        if self.attempts <= self.outages:
            raise ConnectionRefusedError(111, "Connection refused")
        return "written"


async def test_a_write_outlasts_a_short_outage() -> None:
    write = Flaky(outages=3)
    assert await outlasting_outages(write, for_seconds=10, what="test") == "written"
    assert write.attempts == 4


async def test_a_bad_write_is_not_tried_again() -> None:
    write = Flaky(error=ValueError("a bug"))
    with pytest.raises(ValueError):
        await outlasting_outages(write, for_seconds=10, what="test")
    assert write.attempts == 1


async def test_an_outage_longer_than_the_bound_is_given_up() -> None:
    write = Flaky(outages=1_000_000)
    with pytest.raises(ConnectionRefusedError):
        await outlasting_outages(write, for_seconds=0.3, what="test")
    assert 1 < write.attempts < 1_000_000


async def test_a_purge_runs_again_after_an_outage_and_a_bug_ends_it() -> None:
    purge = Flaky(outages=2)
    task = asyncio.create_task(purging(purge, retention_seconds=0.04, what="test"))  # rounds 0.01 s apart
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert purge.attempts > 3  # the two refused rounds cost the task nothing
    with pytest.raises(ValueError):
        await purging(Flaky(error=ValueError("a bug")), retention_seconds=0.04, what="test")


async def test_the_relay_waits_out_a_broker_down_for_thousands_of_tries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Its backoff doubled without end: at try 1,025 (about 43 minutes of outage) the step overflowed a
    float, the relay raised, and the service stopped, in the very outage the outbox is there to ride out."""
    from sqlalchemy.ext.asyncio import create_async_engine

    from eventkit import relay as relay_module
    from eventkit.kafka import KafkaPublisher

    class DownBroker(KafkaPublisher):
        def __init__(self) -> None:
            super().__init__("127.0.0.1:1", client_id="test")
            self.tries = 0

        async def start(self) -> None:
            self.tries += 1
            if self.tries == 2_000:
                raise asyncio.CancelledError  # the service stopping: enough tries seen
            raise ConnectionError("broker down")

        async def stop(self) -> None: ...

    waited: list[float] = []
    yield_now = asyncio.sleep

    async def simulated(seconds: float, *args: object) -> None:
        waited.append(seconds)
        await yield_now(0)

    monkeypatch.setattr(relay_module.asyncio, "sleep", simulated)
    engine = create_async_engine("postgresql+asyncpg://u@127.0.0.1:1/x")  # never connected to
    broker = DownBroker()
    try:
        with pytest.raises(asyncio.CancelledError):
            await relay_module.OutboxRelay(engine, broker).run()
    finally:
        await engine.dispose()
    assert broker.tries == 2_000 and max(waited) <= 5.0


def test_a_backoff_step_stops_doubling_at_its_cap() -> None:
    from eventkit.backoff import backoff_delay, doubling

    assert [doubling(n, base=0.5, cap=30) for n in (1, 2, 3, 7, 8, 10_000)] == [0.5, 1, 2, 30, 30, 30]
    assert 0 <= backoff_delay(10_000, base=0.2, cap=5) <= 5

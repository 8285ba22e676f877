"""How the runtime wires its consumers: the settings they are given and what runs after a commit."""

from __future__ import annotations

import asyncio
import contextlib
import time

import httpx
import pytest
from pydantic import ValidationError

from eventkit.batching import GroupWriter, WriterStopped
from eventkit.consumer import Dispatcher
from eventkit.http import create_service_app
from eventkit.runtime import ConsumerSpec, Readiness, ServiceRuntime
from eventkit.settings import ServiceSettings
from tests.support.cancellation import InterruptedCall, running_at_each_dispose

NOWHERE = "postgresql+asyncpg://u@127.0.0.1:1/x"  # never started: nothing connects


def _runtime(*specs: ConsumerSpec, **settings: object) -> ServiceRuntime:
    config = ServiceSettings(database_url=NOWHERE, kafka_bootstrap_servers="127.0.0.1:1", **settings)  # type: ignore[arg-type]
    return ServiceRuntime(config, consumers=list(specs))


def test_consumers_wake_the_relay_through_their_units_of_work_and_run_the_spec_s_callback() -> None:
    """The relay is woken only by a transaction that queued messages (see the unit of work's
    on_queued), not after every batch: reporting's consumers, say, never queue any."""
    applied: list[str] = []
    runtime = _runtime(
        ConsumerSpec("plain", ["t"], Dispatcher({})),
        ConsumerSpec("signalling", ["t"], Dispatcher({}), on_applied=lambda: applied.append("woken")),
    )
    plain, signalling = runtime.consumers
    for consumer in (plain, signalling):
        assert consumer._on_queued == runtime.relay.notify
        consumer._committed(1, duplicates=0)
        assert not runtime.relay._wake.is_set()
    assert applied == ["woken"]
    signalling._committed(0, duplicates=3)  # nothing applied: nothing new to look for
    assert applied == ["woken"]


def test_the_fetch_wait_comes_from_the_settings() -> None:
    (consumer,) = _runtime(ConsumerSpec("c", ["t"], Dispatcher({})), consumer_fetch_max_wait_ms=7).consumers
    assert consumer._fetch_max_wait_ms == 7


def test_readiness_without_the_checks_a_probe_excludes() -> None:
    checks = {"database": "ok", "broker": "error: KafkaConnectionError", "consumer:intake.tracking": "connecting",
              "task:relay": "ok"}  # fmt: skip
    full = Readiness(checks)
    assert not full.without([]).ready
    assert not full.without(["broker"]).ready  # the consumer still counts
    assert full.without(["broker", "consumer"]).ready  # a kind excludes every check of it
    assert not full.without(["broker", "consumer:other"]).ready
    assert not Readiness({"database": "ok"}, started=False).without([]).ready  # not past start-up
    down = {**checks, "database": "error: OSError"}
    assert not Readiness(down).without(["broker", "consumer"]).ready  # the API needs its database


async def test_readiness_answers_within_one_check_s_time_when_the_database_and_broker_hang(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One after the other, 3 s each: a hanging broker (a check the probe excludes) and a slow database
    made the answer later than the probe's own 3 s timeout, and every pod left the Service."""
    runtime = _runtime()

    async def hang(*_: object) -> None:
        await asyncio.sleep(3600)

    monkeypatch.setattr("eventkit.runtime.CHECK_SECONDS", 0.5)
    monkeypatch.setattr("eventkit.runtime.ping", hang)
    monkeypatch.setattr(runtime.publisher, "ping", hang)
    monkeypatch.setattr(type(runtime.publisher), "started", property(lambda self: True))
    started = time.monotonic()
    readiness = await runtime.readiness()
    assert time.monotonic() - started < 0.9  # at once: one check's time, not the two's
    assert readiness.checks["database"] == readiness.checks["broker"] == "error: TimeoutError"


async def test_stopping_does_not_wait_forever_for_a_task_that_will_not_end() -> None:
    """A consumer whose cleanup hangs on an unanswering broker must not keep the process from ending."""
    runtime = _runtime()
    released = asyncio.Event()

    async def stubborn() -> None:
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if released.is_set():
                    raise

    async def obedient() -> None:
        await asyncio.sleep(3600)

    runtime._spawn("stubborn", stubborn)
    runtime._spawn("obedient", obedient)
    tasks = list(runtime._tasks)
    await asyncio.sleep(0)
    await asyncio.wait_for(runtime.stop(within=0.2), timeout=5)
    assert [t.done() for t in tasks] == [False, True]
    released.set()
    tasks[0].cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await tasks[0]


async def test_stopping_ends_the_work_it_was_told_of_before_it_disposes_of_the_engines(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A group writer's tasks, started on demand, were no background task of the runtime: stopping left
    them writing on an engine it then disposed of, until the event loop itself ended them."""
    runtime = _runtime()
    write = InterruptedCall()
    writer = GroupWriter(write, name="test-writer")
    runtime.also_stop("test-writer", writer.stop)
    put = asyncio.create_task(writer.put(1))
    await asyncio.wait_for(write.entered.wait(), timeout=5)
    (writer_task,) = writer._tasks
    writing_at_dispose = await running_at_each_dispose(runtime, writer_task, monkeypatch)
    assert writing_at_dispose == [False, False]  # the engine and the one without time limits
    with pytest.raises(WriterStopped):
        await put


def test_statements_have_the_settings_time_limits_and_none_turns_them_off() -> None:
    limits = ServiceSettings(
        database_url=NOWHERE, db_statement_timeout_seconds=12.5, db_lock_timeout_seconds=4
    ).db_limits()
    assert limits.server_settings() == {
        "statement_timeout": "12500",
        "lock_timeout": "4000",
        "idle_in_transaction_session_timeout": "120000",
    }
    assert limits.command_timeout == 17.5  # the driver waits longer than the server, so the server answers
    no_statement_limit = ServiceSettings(database_url=NOWHERE, db_statement_timeout_seconds=0).db_limits()
    assert no_statement_limit.command_timeout is None
    # Both off: a transaction left idle (holding its locks) is still ended.
    off = ServiceSettings(database_url=NOWHERE, db_statement_timeout_seconds=0, db_lock_timeout_seconds=0)
    assert off.db_limits().server_settings() == {
        "statement_timeout": "0",
        "lock_timeout": "0",
        "idle_in_transaction_session_timeout": "120000",
    }


async def test_a_crashed_background_task_fails_the_liveness_check_and_stops_the_server() -> None:
    """A consumer or the relay that died would leave the API serving while nothing is consumed or
    published any more: /healthz turns 503 (a liveness probe restarts the pod) and the runtime calls
    on_crash (eventkit.serve stops the server and exits with status 1)."""
    runtime = _runtime()
    app = create_service_app(runtime, title="t", routers=[])
    stopped: list[str] = []
    runtime.on_crash = stopped.append

    async def healthy() -> None:
        await asyncio.sleep(3600)

    async def failing() -> None:
        raise RuntimeError("an error the task does not recover from")

    runtime._spawn("relay", healthy)
    runtime._spawn("consumer:c", failing)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        await asyncio.sleep(0.01)
        response = await client.get("/healthz")
    await runtime.stop(within=1)
    assert stopped == ["consumer:c"]
    assert response.status_code == 503
    assert response.json() == {"status": "crashed", "tasks": ["consumer:c"]}


@pytest.mark.parametrize("lock", [10, 0])  # 0: no lock limit, the longest wait of all
def test_a_lock_limit_at_or_above_the_statement_limit_is_refused(lock: float) -> None:
    with pytest.raises(ValidationError, match="below db_statement_timeout_seconds"):
        ServiceSettings(database_url=NOWHERE, db_statement_timeout_seconds=10, db_lock_timeout_seconds=lock)


def test_work_without_time_limits_waits_for_a_connection_as_long_as_it_takes() -> None:
    """A rebuild builds more indexes at once than a small pool holds (k8s: 5, so 10 connections): a build
    waiting its turn failed after the pool's 30 s while the others took minutes, and the rebuild with it."""
    runtime = _runtime(db_pool_size=1)
    assert runtime.maintenance_engine.pool.timeout() >= 3600  # type: ignore[attr-defined]
    assert runtime.engine.pool.timeout() == 30  # type: ignore[attr-defined]  # requests still give up

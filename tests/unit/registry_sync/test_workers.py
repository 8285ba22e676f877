"""The worker loop: never more calls in flight than the system allows, no claims while the
breaker is open, a single probe when it half-opens."""

from __future__ import annotations

import asyncio

import httpx
from structlog.testing import capture_logs

from registry_sync.adapters.http_client import ExternalHttpClient
from registry_sync.domain.breaker import BreakerState, CircuitBreaker
from registry_sync.domain.outcomes import CallOutcome, Rejected, Succeeded, Transient
from registry_sync.service_layer.guard import SystemGuard
from registry_sync.service_layer.workers import Wakeups, WorkLoop
from tests.support.kafka import eventually


class Work:
    """``pending`` items; each call takes ``seconds`` and answers with the next outcome."""

    def __init__(self, guard: SystemGuard, pending: int, *, seconds: float = 0.01, failing: int = 0) -> None:
        self.guard = guard
        self.pending = pending
        self.failing = failing
        self.seconds = seconds
        self.in_flight = self.max_in_flight = self.claims = self.done = 0

    async def claim(self, limit: int) -> list[int]:
        self.claims += 1
        taken = min(limit, self.pending)
        self.pending -= taken
        return list(range(taken))

    async def execute(self, item: int) -> None:
        async def attempt() -> Succeeded | Transient:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            await asyncio.sleep(self.seconds)
            self.in_flight -= 1
            if self.failing:
                self.failing -= 1
                return Transient("503", 503)
            return Succeeded({})

        outcome = await self.guard.call(attempt)
        if isinstance(outcome, Succeeded):
            self.done += 1
        else:
            self.pending += 1  # as the real executor reschedules it


async def run_until(loop: WorkLoop[int], condition, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    task = asyncio.create_task(loop.run())
    try:
        await eventually(condition, timeout=timeout, interval=0.005)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_concurrency_never_exceeds_the_system_bound() -> None:
    guard = SystemGuard("s", CircuitBreaker("s", failure_threshold=5, cooldown_seconds=1), max_concurrency=3)
    work = Work(guard, pending=20)
    loop = WorkLoop("s", guard, work.claim, work.execute, poll_seconds=0.01)

    async def all_done() -> bool:
        return work.done == 20

    await run_until(loop, all_done)
    assert work.max_in_flight == 3


async def test_an_open_breaker_stops_claims_then_one_probe_closes_it() -> None:
    breaker = CircuitBreaker("s", failure_threshold=2, cooldown_seconds=0.2)
    guard = SystemGuard("s", breaker, max_concurrency=4)
    work = Work(guard, pending=6, failing=2, seconds=0.001)
    loop = WorkLoop("s", guard, work.claim, work.execute, poll_seconds=0.01)

    async def opened() -> bool:
        return breaker.stats.opened == 1

    task = asyncio.create_task(loop.run())
    try:
        await eventually(opened, timeout=2, interval=0.001)
        claims_when_opened = work.claims
        await asyncio.sleep(0.1)  # within the cool-down: the loop must not claim at all
        assert work.claims == claims_when_opened

        async def all_done() -> bool:
            return work.done == 6

        await eventually(all_done, timeout=3, interval=0.005)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert breaker.stats.closed_again == 1


async def test_a_noted_loop_claims_at_once_after_the_commit_others_keep_their_poll() -> None:
    breaker = CircuitBreaker("s", failure_threshold=5, cooldown_seconds=1)
    noted_work = Work(SystemGuard("a", breaker, max_concurrency=2), pending=0)
    other_work = Work(SystemGuard("b", breaker, max_concurrency=2), pending=0)
    noted = WorkLoop("a", noted_work.guard, noted_work.claim, noted_work.execute, poll_seconds=3600)
    other = WorkLoop("b", other_work.guard, other_work.claim, other_work.execute, poll_seconds=3600)
    wakeups = Wakeups()
    wakeups.register(noted)
    wakeups.register(other)
    tasks = [asyncio.create_task(loop.run()) for loop in (noted, other)]
    try:
        async def both_idle() -> bool:
            return noted_work.claims == 1 and other_work.claims == 1

        async def noted_done() -> bool:
            return noted_work.done == 1

        await eventually(both_idle, timeout=5, interval=0.005)
        noted_work.pending = other_work.pending = 1  # committed work; an hour until either polls again
        wakeups.note("a")
        wakeups.note("a")
        wakeups()
        await eventually(noted_done, timeout=5, interval=0.005)
        wakeups()  # nothing noted since: nobody is woken
        await asyncio.sleep(0.05)
        assert other_work.claims == 1 and other_work.done == 0
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_cancellation_the_driver_turned_into_an_error_still_stops_the_loop() -> None:
    """At shutdown a claim's query is interrupted and SQLAlchemy may raise its own error instead of
    CancelledError: the loop must stop, not log a failure and go on claiming against closed pools."""
    claiming = asyncio.Event()
    turned: list[bool] = []
    guard = SystemGuard("s", CircuitBreaker("s", failure_threshold=5, cooldown_seconds=1), max_concurrency=1)

    async def claim(limit: int) -> list[int]:
        claiming.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            if turned:  # only the first time, so that a failing test still ends
                raise
            turned.append(True)
            raise RuntimeError("Can't reconnect until invalid transaction is rolled back") from None
        return []

    async def execute(item: int) -> None:
        return None

    loop = WorkLoop("s", guard, claim, execute, poll_seconds=0.01)
    task = asyncio.create_task(loop.run())
    await asyncio.wait_for(claiming.wait(), timeout=5)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=2)
    if task not in done:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert task in done and task.cancelled()


async def test_our_own_refusal_says_nothing_of_the_systems_health() -> None:
    """A command refused before any call (missing data, an unsupported operation) neither closes a
    half-open breaker nor resets the failures counted while it is closed."""
    now = [0.0]
    breaker = CircuitBreaker("s", failure_threshold=3, cooldown_seconds=10, clock=lambda: now[0])
    guard = SystemGuard("s", breaker, max_concurrency=2)

    async def down() -> Transient:
        return Transient("503", 503)

    async def refused_here() -> Rejected:
        return Rejected("thiếu số sổ bảo hiểm xã hội", error="missing_data")

    async def refused_there() -> Rejected:
        return Rejected("422 card_exists: đã có thẻ", 422, "card_exists")

    for _ in range(2):
        await guard.call(down)
    await guard.call(refused_here)
    assert breaker.consecutive_failures == 2
    await guard.call(down)
    assert breaker.state is BreakerState.OPEN
    now[0] += 11
    assert breaker.state is BreakerState.HALF_OPEN
    await guard.call(refused_here)  # the probe slot comes back, the breaker stays half-open
    assert breaker.state is BreakerState.HALF_OPEN
    await guard.call(refused_there)  # the system answered: it is up
    assert breaker.state is BreakerState.CLOSED


async def test_a_refusal_of_our_credentials_opens_the_breaker_and_is_logged_as_an_error() -> None:
    """An expired key answers every command 401: an outage, not one refusal per command in the queue."""
    breaker = CircuitBreaker("s", failure_threshold=3, cooldown_seconds=60)
    guard = SystemGuard("s", breaker, max_concurrency=2)
    answers = [httpx.Response(401, json={"error": "unauthorized", "message": "token expired"})] * 2
    answers.append(httpx.Response(403, json={"error": "forbidden"}))

    with capture_logs() as logs:
        outcomes = [await guard.call(lambda r=answer: _answer(r)) for answer in answers]
    assert all(isinstance(o, Transient) for o in outcomes)
    assert breaker.state is BreakerState.OPEN
    assert [(e["log_level"], e["status"]) for e in logs if "credentials" in e["event"]] == [
        ("error", 401),
        ("error", 401),
        ("error", 403),
    ]


async def _answer(response: httpx.Response) -> CallOutcome:
    return ExternalHttpClient.outcome(response)


async def test_a_redirect_is_logged_as_an_error_with_the_persons_number_masked() -> None:
    """Population-database paths name the person: the stored error was masked, the guard's ERROR log
    of the same reason was not, and showed the full identification number."""
    guard = SystemGuard("s", CircuitBreaker("s", failure_threshold=3, cooldown_seconds=60), max_concurrency=2)
    moved = httpx.Response(301, headers={"Location": "https://gw.example.gov.vn/population/v1/citizens/036190000123"})

    with capture_logs() as logs:
        await guard.call(lambda: _answer(moved))
    (logged,) = [e for e in logs if "base URL" in e["event"]]
    assert logged["log_level"] == "error"
    assert logged["reason"] == "301 redirected to https://gw.example.gov.vn/population/v1/citizens/03********23"

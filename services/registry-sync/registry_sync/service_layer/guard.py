"""The reliability policy around every call to one external system: its circuit breaker and a
bound on calls in flight. (Retries with backoff are scheduled in the database by the handlers,
using the same :class:`RetryPolicy`.)"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from eventkit.logging import get_logger
from registry_sync.domain.breaker import BreakerState, CircuitBreaker, Transition
from registry_sync.domain.outcomes import NOT_ALLOWED, CallOutcome, Rejected, Transient
from registry_sync.domain.retry import RetryPolicy

log = get_logger(__name__)


class SystemGuard:
    """Breaker + semaphore of one system. ``call`` returns None when the breaker refused."""

    def __init__(self, system: str, breaker: CircuitBreaker, max_concurrency: int) -> None:
        self.system = system
        self.breaker = breaker
        self.max_concurrency = max_concurrency
        self.in_flight = 0
        self.calls = 0
        self._slots = asyncio.Semaphore(max_concurrency)

    async def call(self, attempt: Callable[[], Awaitable[CallOutcome]]) -> CallOutcome | None:
        if not self.breaker.acquire():
            return None
        observed = False
        try:
            async with self._slots:
                self.in_flight += 1
                self.calls += 1
                try:
                    outcome = await attempt()
                finally:
                    self.in_flight -= 1
            self.observe(outcome)
            observed = True
            return outcome
        finally:
            if not observed:
                self.breaker.release()

    def observe(self, outcome: CallOutcome) -> None:
        if isinstance(outcome, Transient):
            if outcome.status in NOT_ALLOWED:
                log.error("the system refuses registry-sync's credentials: check its API key and access rules",
                          system=self.system, status=outcome.status, reason=outcome.reason)  # fmt: skip
            elif outcome.status is not None and (300 <= outcome.status < 400 or outcome.status in (404, 405)):
                log.error("the system redirects registry-sync or has no such path: check its base URL",
                          system=self.system, status=outcome.status, reason=outcome.reason)  # fmt: skip
            if outcome.counts_against_breaker:
                self._log_transition(self.breaker.record_failure())
            else:
                self.breaker.release()
        elif isinstance(outcome, Rejected) and outcome.status is None:
            # Our own check refused it (missing data, an operation we do not support): the system was
            # never called, so this says nothing of its health, and must not close an open breaker.
            self.breaker.release()
        else:
            self._log_transition(self.breaker.record_success())  # an answer, even a refusal, proves the system is up

    def _log_transition(self, transition: Transition | None) -> None:
        """Tell operators when calls to the system stop and start again. A failed probe is only INFO:
        it repeats every cool-down for as long as the outage lasts, and says nothing new."""
        b = self.breaker
        if transition is Transition.OPENED:
            log.warning(
                "circuit breaker opened: no calls to the system until a probe after the cool-down succeeds",
                system=self.system,
                failures=b.consecutive_failures,
                cooldown_seconds=b.cooldown_seconds,
            )
        elif transition is Transition.REOPENED:
            log.info(
                "circuit breaker probe failed: it stays open for another cool-down",
                system=self.system,
                failures=b.consecutive_failures,
                cooldown_seconds=b.cooldown_seconds,
                outage_seconds=round(b.outage_seconds(), 3),
            )
        elif transition is Transition.CLOSED_AGAIN:
            log.info(
                "circuit breaker closed again: the probe succeeded, calls to the system resume",
                system=self.system,
                outage_seconds=round(b.outage_seconds(), 3),
            )

    def capacity(self, in_flight: int) -> int:
        """How many more items a worker may start now: none while open, one probe when half-open."""
        state = self.breaker.state
        if state is BreakerState.OPEN:
            return 0
        if state is BreakerState.HALF_OPEN:
            return 1 if in_flight == 0 and self.breaker.can_call() else 0
        return max(0, self.max_concurrency - in_flight)

    def status(self) -> dict[str, Any]:
        b = self.breaker
        return {
            "breaker": b.state.value,
            "consecutive_failures": b.consecutive_failures,
            "seconds_until_probe": round(b.seconds_until_probe(), 3),
            "times_opened": b.stats.opened,
            "probes": b.stats.probes,
            "times_closed_again": b.stats.closed_again,
            "calls_refused_by_breaker": b.stats.rejected,
            "in_flight": self.in_flight,
            "max_concurrency": self.max_concurrency,
            "calls": self.calls,
        }


@dataclass(frozen=True)
class Guards:
    """Every system's guard, and the one retry policy."""

    by_system: dict[str, SystemGuard]
    policy: RetryPolicy

    def __getitem__(self, system: str) -> SystemGuard:
        return self.by_system[system]

    def status(self) -> dict[str, Any]:
        return {name: guard.status() for name, guard in sorted(self.by_system.items())}

    @classmethod
    def build(
        cls,
        systems: Iterable[tuple[str, int]],
        policy: RetryPolicy,
        *,
        failure_threshold: int,
        cooldown_seconds: float,
    ) -> Guards:
        """One guard per (system, max concurrency)."""
        return cls(
            {
                name: SystemGuard(
                    name,
                    CircuitBreaker(name, failure_threshold=failure_threshold, cooldown_seconds=cooldown_seconds),
                    concurrency,
                )
                for name, concurrency in systems
            },
            policy,
        )

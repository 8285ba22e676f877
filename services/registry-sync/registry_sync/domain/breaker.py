"""A circuit breaker per external system: stop hammering a system that is down, probe it back.

closed ──(``failure_threshold`` consecutive failures)──▶ open ──(``cooldown_seconds``)──▶
half-open: exactly one probe call is let through; its success closes the breaker, its failure
opens it for another cool-down. Only failures that say the system is unwell count (timeouts,
connection errors, 5xx); a 4xx answer proves the system is up.

The breaker does no I/O: :meth:`CircuitBreaker.record_failure` and
:meth:`CircuitBreaker.record_success` return the :class:`Transition` they made, and the guard
logs it (an outage and its end were otherwise seen only by polling ``GET /v1/sync/status``).
:meth:`CircuitBreaker.seeing_outage` says whether the outage is still being seen from here, which
``GET /metrics`` serves.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

#: A half-open breaker is still seeing the outage for this many cool-downs after the failure that
#: (re)opened it: one to wait, one for the probe to be made.
OUTAGE_SEEN_COOLDOWNS = 2


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Transition(StrEnum):
    """A change of state worth telling an operator."""

    OPENED = "opened"  # closed → open: the threshold of consecutive failures was reached
    REOPENED = "reopened"  # half-open → open: the probe failed, the outage goes on
    CLOSED_AGAIN = "closed_again"  # half-open → closed: the probe succeeded, the outage is over


@dataclass
class BreakerStats:
    """What the status endpoint reports about a breaker's history."""

    opened: int = 0
    probes: int = 0
    closed_again: int = 0
    rejected: int = 0


class CircuitBreaker:
    """In-process breaker; ``clock`` is monotonic seconds (injectable for tests)."""

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 5,
        cooldown_seconds: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1 or cooldown_seconds < 0:
            raise ValueError("failure_threshold must be ≥ 1 and cooldown_seconds ≥ 0")
        self.name = name
        self.failure_threshold = failure_threshold
        self.cooldown_seconds = cooldown_seconds
        self.stats = BreakerStats()
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._outage_began = 0.0
        self._last_outage = 0.0
        self._probe_in_flight = False

    @property
    def state(self) -> BreakerState:
        """The state, with an elapsed cool-down already showing as half-open."""
        if self._state is BreakerState.OPEN and self._clock() >= self.retry_at:
            return BreakerState.HALF_OPEN
        return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    @property
    def retry_at(self) -> float:
        """Clock time at which an open breaker lets a probe through."""
        return self._opened_at + self.cooldown_seconds

    def outage_seconds(self) -> float:
        """How long the outage has lasted since the breaker opened from closed, failed probes included;
        while closed, how long the last one lasted (0 if there was none)."""
        if self._state is BreakerState.CLOSED:
            return self._last_outage
        return max(0.0, self._clock() - self._outage_began)

    def seconds_until_probe(self) -> float:
        return max(0.0, self.retry_at - self._clock()) if self._state is BreakerState.OPEN else 0.0

    def seeing_outage(self) -> bool:
        """Whether the system still looks down from here: open, probing, or half-open with the failure
        that opened it (or a failed probe) less than :data:`OUTAGE_SEEN_COOLDOWNS` cool-downs ago.

        Half-open alone says nothing: only a probe closes the breaker, and a replica makes one only
        when it claims work for the system. In a quiet hour a replica stayed half-open long after
        another replica's probe had found the system back, and the alert on it fired for hours.
        Through an outage that goes on (open, cool-down, probe, open again) this stays true: the probe
        is made as the cool-down ends and counts as long as it runs (up to the call's timeouts)."""
        state = self.state
        if state is BreakerState.CLOSED:
            return False
        if state is BreakerState.OPEN or self._probe_in_flight:
            return True
        return self._clock() - self._opened_at < OUTAGE_SEEN_COOLDOWNS * self.cooldown_seconds

    def can_call(self) -> bool:
        """Whether :meth:`acquire` would let a call through now (without taking the probe slot)."""
        state = self.state
        return state is BreakerState.CLOSED or (state is BreakerState.HALF_OPEN and not self._probe_in_flight)

    def acquire(self) -> bool:
        """Ask to make one call. Every granted call must end in :meth:`record_success`,
        :meth:`record_failure` or :meth:`release`."""
        if not self.can_call():
            self.stats.rejected += 1
            return False
        if self.state is BreakerState.HALF_OPEN:
            self._state = BreakerState.HALF_OPEN
            self._probe_in_flight = True
            self.stats.probes += 1
        return True

    def record_success(self) -> Transition | None:
        """The system answered; :attr:`Transition.CLOSED_AGAIN` if that ended an outage."""
        if self._state is BreakerState.OPEN:
            return None  # a call let through before it opened: the cool-down and the probe decide
        transition = None
        if self._state is not BreakerState.CLOSED:
            self.stats.closed_again += 1
            self._last_outage = self.outage_seconds()
            transition = Transition.CLOSED_AGAIN
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._probe_in_flight = False
        return transition

    def record_failure(self) -> Transition | None:
        """The system looked unwell; the transition if that opened the breaker."""
        if self._state is BreakerState.OPEN:
            return None  # late news from before it opened; it does not extend the cool-down
        self._failures += 1
        transition = None
        if self._state is BreakerState.HALF_OPEN or (
            self._state is BreakerState.CLOSED and self._failures >= self.failure_threshold
        ):
            transition = self._open()
        self._probe_in_flight = False
        return transition

    def release(self) -> None:
        """The granted call was not made or said nothing about health (e.g. a 429): free the probe."""
        self._probe_in_flight = False

    def _open(self) -> Transition:
        now = self._clock()
        transition = Transition.REOPENED
        if self._state is BreakerState.CLOSED:
            self.stats.opened += 1
            self._outage_began, transition = now, Transition.OPENED
        self._state = BreakerState.OPEN
        self._opened_at = now
        return transition

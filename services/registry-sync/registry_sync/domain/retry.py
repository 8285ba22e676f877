"""The retry policy: exponential backoff with jitter, the system's Retry-After honoured, and a
point at which we give up and report a failure."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from eventkit.backoff import doubling


@dataclass(frozen=True)
class RetryPolicy:
    """When to try again after a transient failure, and when to stop trying."""

    base_seconds: float = 0.5
    max_delay_seconds: float = 300.0
    #: A safety net. A national registry down for hours (maintenance) must not fail the bundles waiting
    #: on it: at 15 attempts and a 60 s cap, a command gave up after 4 to 8 minutes of outage, while
    #: the 24 hours below were never reached. At a 300 s cap, 1,000 attempts last 1.7 to 3.4 days.
    max_attempts: int = 1000
    give_up_after_seconds: float = 24 * 3600.0
    #: The longest Retry-After honoured. A system asking for more (a year; more seconds than a date
    #: can hold) is misconfigured, and honouring it put the next attempt past the give-up, or crashed
    #: the worker recording it.
    max_retry_after_seconds: float = 3600.0

    def delay(self, attempt: int, retry_after: float | None = None, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based).

        "Equal jitter": half the exponential step for sure, the other half at random, so retries
        keep backing off yet callers that failed together do not retry together. A Retry-After
        from the system is a floor, up to an hour: it asked us not to come back sooner.
        """
        step = doubling(attempt, base=self.base_seconds, cap=self.max_delay_seconds)
        jittered = step / 2 + step / 2 * rand()
        return float(max(jittered, min(retry_after or 0.0, self.max_retry_after_seconds)))

    def exhausted(self, attempts: int, seconds_since_first_attempt: float) -> bool:
        """Whether to stop after ``attempts`` calls spread over that many seconds."""
        return attempts >= self.max_attempts or seconds_since_first_attempt >= self.give_up_after_seconds

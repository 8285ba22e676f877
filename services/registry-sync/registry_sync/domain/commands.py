"""A registry command as registry-sync keeps it: received from workflow, pending until an
external system has done it (or refused it, or we gave up), then succeeded or failed."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from registry_sync.domain.outcomes import Transient, mask_personal_numbers
from registry_sync.domain.retry import RetryPolicy


class CommandStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass
class RegistryCommand:
    """One command and where it stands. ``next_attempt_at`` doubles as the lease of a worker
    that claimed it: until then nobody else picks it up."""

    command_id: str
    system: str
    operation: str
    dossier_id: str
    data: dict[str, Any]
    requested_at: datetime
    received_at: datetime
    correlation_id: str
    causation_id: str
    next_attempt_at: datetime
    bundle_id: str | None = None
    step_id: str | None = None
    agency: str | None = None
    status: CommandStatus = CommandStatus.PENDING
    attempts: int = 0
    first_attempt_at: datetime | None = None
    last_error: str | None = None
    error_code: str | None = None
    last_http_status: int | None = None
    result: dict[str, Any] | None = None
    completed_at: datetime | None = None

    @property
    def done(self) -> bool:
        return self.status is not CommandStatus.PENDING

    def lease(self, until: datetime) -> None:
        """A worker claimed it until ``until``."""
        self.next_attempt_at = until

    def postpone(self, until: datetime) -> None:
        """Not attempted (the system's breaker is open): try at ``until``, no attempt counted."""
        self.next_attempt_at = until

    def attempted(self, now: datetime) -> None:
        self.attempts += 1
        if self.first_attempt_at is None:
            self.first_attempt_at = now

    def succeed(self, result: dict[str, Any], now: datetime) -> None:
        self._finish(CommandStatus.SUCCEEDED, now)
        self.result = result
        self.last_error = None

    def fail(
        self, reason: str, now: datetime, *, error_code: str | None = None, http_status: int | None = None
    ) -> None:
        self._finish(CommandStatus.FAILED, now)
        self.last_error = mask_personal_numbers(reason)
        self.error_code = error_code
        self.last_http_status = http_status or self.last_http_status

    def retry_later(
        self, outcome: Transient, policy: RetryPolicy, now: datetime, rand: Callable[[], float] = random.random
    ) -> bool:
        """After a transient failure of an attempt: schedule the next one, or give up (→ True)."""
        self.last_error = mask_personal_numbers(outcome.reason)
        self.last_http_status = outcome.status
        first = self.first_attempt_at or now
        if policy.exhausted(self.attempts, (now - first).total_seconds()):
            self.fail(f"gave up after {self.attempts} attempts: {outcome.reason}", now, error_code="gave_up")
            return True
        delay = policy.delay(self.attempts, outcome.retry_after, rand)
        self.next_attempt_at = now + timedelta(seconds=delay)
        return False

    def _finish(self, status: CommandStatus, now: datetime) -> None:
        if self.done:
            raise ValueError(f"command {self.command_id} is already {self.status.value}")
        self.status = status
        self.completed_at = now

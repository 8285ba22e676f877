"""Where one dossier stands with the national portal: synced, pending (a change the portal has
not acknowledged yet) or failed (with the reason), plus what the status endpoint reports:
last attempt and lag.

``revision`` counts our local changes; ``synced_revision`` is the one the portal acknowledged.
Changes that arrive while a push is in flight are not lost: the push completes the revision it
sent, and the dossier stays pending for the newer one. ``generation`` is bumped whenever we
deliberately push again what we pushed before (reconciliation), so the push gets fresh
idempotency keys instead of the portal's replay of the earlier answer.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from registry_sync.domain.outcomes import Transient, mask_personal_numbers
from registry_sync.domain.portal_record import PortalRecord
from registry_sync.domain.retry import RetryPolicy

#: How a failure after retries begins (:meth:`DossierSync.retry_later`); any other failure is a refusal.
GAVE_UP = "gave up after "


class SyncStatus(StrEnum):
    PENDING = "pending"
    SYNCED = "synced"
    FAILED = "failed"


class PortalOperation(StrEnum):
    CREATE = "create"
    UPDATE = "update"


@dataclass
class DossierSync:
    dossier_id: str
    record: PortalRecord
    changed_at: datetime
    next_attempt_at: datetime
    revision: int = 0
    synced_revision: int = 0
    status: SyncStatus = SyncStatus.PENDING
    portal_revision: int | None = None
    generation: int = 0
    attempts: int = 0
    first_attempt_at: datetime | None = None
    last_attempt_at: datetime | None = None
    last_error: str | None = None
    last_http_status: int | None = None
    unsynced_since: datetime | None = None
    synced_at: datetime | None = None
    last_lag_seconds: float | None = None
    correlation_id: str | None = None
    causation_id: str | None = None

    @property
    def code(self) -> str:
        return self.record.code

    @property
    def refused(self) -> bool:
        """Failed because the portal refused the push, not because we gave up retrying (which a 412 we
        could not resolve also ends in: its status alone said "refused")."""
        return self.status is SyncStatus.FAILED and not (self.last_error or "").startswith(GAVE_UP)

    @property
    def ready(self) -> bool:
        """The record holds everything the portal requires."""
        return not self.record.missing()

    @property
    def operation(self) -> PortalOperation:
        """Create until the portal has acknowledged a create of ours, update afterwards."""
        return PortalOperation.CREATE if self.portal_revision is None else PortalOperation.UPDATE

    def idempotency_key(self, operation: PortalOperation) -> str:
        return f"{self.dossier_id}:r{self.revision}:g{self.generation}:{operation.value}"

    def change(
        self,
        record: PortalRecord,
        *,
        at: datetime,
        now: datetime,
        correlation_id: str,
        causation_id: str,
        seen_by_portal: bool = True,
    ) -> bool:
        """Take a newer local record; returns False (and changes nothing) when it is the same.

        A change the portal would not see (``seen_by_portal`` False: what was paid so far on a line,
        kept to know when the parts add up) is kept without a new revision, so nothing is pushed for
        it. Pushed, the portal's dossier was written again unchanged, and the extra
        PortalSyncSucceeded counted in reporting's syncs and lag."""
        if record == self.record and self.revision > 0:
            return False
        self.record = record
        if not seen_by_portal and self.revision > 0:
            return True
        self.revision += 1
        self.changed_at = at
        self.correlation_id, self.causation_id = correlation_id, causation_id
        self._reopen(now)
        return True

    def lease(self, until: datetime) -> None:
        self.next_attempt_at = until

    def postpone(self, until: datetime) -> None:
        self.next_attempt_at = until

    def attempted(self, now: datetime) -> None:
        self.attempts += 1
        self.last_attempt_at = now
        if self.first_attempt_at is None:
            self.first_attempt_at = now

    def pushed(self, sent: DossierSync, portal_revision: int | None, now: datetime) -> float:
        """The portal acknowledged ``sent`` (the state claimed for the push); returns the lag: how long
        the portal went without a change it now has, from the oldest one ``sent`` held unacknowledged
        (a dossier submitted during a portal outage and received after it waited the whole outage,
        not the second since its reception)."""
        self.synced_revision = max(self.synced_revision, sent.revision)
        self.portal_revision = portal_revision
        self.synced_at = now
        since = sent.unsynced_since or sent.changed_at
        self.last_lag_seconds = max(0.0, (now - since).total_seconds())
        self.last_error, self.last_http_status = None, None
        self.attempts, self.first_attempt_at = 0, None
        if self.synced_revision >= self.revision:
            self.status, self.unsynced_since = SyncStatus.SYNCED, None
        else:
            # A newer change arrived meanwhile: push it next, its wait counted from it (the latest
            # change's time: exact for one, and a push in flight seldom sees more).
            self.unsynced_since = self.changed_at
            self.next_attempt_at = now
        return self.last_lag_seconds

    def retry_later(
        self, outcome: Transient, policy: RetryPolicy, now: datetime, rand: Callable[[], float] = random.random
    ) -> bool:
        """After a transient failure: schedule the next push, or mark failed (→ True)."""
        first = self.first_attempt_at or now
        self.last_http_status = outcome.status
        if policy.exhausted(self.attempts, (now - first).total_seconds()):
            self.reject(f"{GAVE_UP}{self.attempts} attempts: {outcome.reason}", now, http_status=outcome.status)
            return True
        self.last_error = mask_personal_numbers(outcome.reason)
        self.next_attempt_at = now + timedelta(seconds=policy.delay(self.attempts, outcome.retry_after, rand))
        return False

    def reject(self, reason: str, now: datetime, *, http_status: int | None = None) -> int:
        """The portal refused this revision (or we gave up); a new change or reconciliation retries.
        Returns the attempts this revision took."""
        attempts = self.attempts
        self.status = SyncStatus.FAILED
        self.last_error = mask_personal_numbers(reason)
        self.last_http_status = http_status
        self.attempts, self.first_attempt_at = 0, None
        return attempts

    def repush(self, now: datetime, *, lost: bool) -> None:
        """Reconciliation found the portal without it (``lost``) or with an older state: push again."""
        self.generation += 1
        if lost:
            self.portal_revision = None
        self.unsynced_since = self.unsynced_since or now
        self._reopen(now)

    def pending_lag(self, now: datetime) -> float:
        """Seconds since the oldest change the portal has not acknowledged (0 when synced)."""
        if self.status is SyncStatus.SYNCED or self.unsynced_since is None:
            return 0.0
        return max(0.0, (now - self.unsynced_since).total_seconds())

    def _reopen(self, now: datetime) -> None:
        if self.unsynced_since is None:
            self.unsynced_since = self.changed_at
        if self.status is SyncStatus.PENDING:
            # Already queued: keep its schedule (a backoff, or the lease of a push in flight,
            # which must finish before the next push so the portal never sees them reordered).
            return
        self.attempts, self.first_attempt_at = 0, None
        self.status = SyncStatus.PENDING
        self.next_attempt_at = now

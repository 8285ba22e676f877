"""Reconciliation with the national portal: what the portal lists against what we believe we
synchronised, one verdict per dossier, and the counts a run reports."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from registry_sync.domain.portal_sync import DossierSync, SyncStatus


@dataclass(frozen=True)
class PortalSummary:
    """What the portal's listing says about one dossier."""

    code: str
    state: int
    revision: int


class Verdict(StrEnum):
    IN_SYNC = "in_sync"
    MISSING = "missing_on_portal"
    STALE = "stale_on_portal"
    RETRY_FAILED = "failed_retried"
    REFUSED = "refused_waiting"  # refused by the portal lately: the same body would be refused again
    PENDING = "pending"
    AWAITING_DATA = "awaiting_data"
    NOT_LISTED = "not_judged"  # the listing ended early (an error, or the page bound)


def judge(
    sync: DossierSync, on_portal: PortalSummary | None, *, listed_from: datetime, refused_before: datetime | None = None
) -> Verdict:
    """One dossier's verdict. Only dossiers we consider synced are compared with the portal; a
    failed one is retried whatever the portal says, unless the portal refused it (a 4xx) after
    ``refused_before``: pushed again every run, the same body met the same refusal, a portal write
    and a failure event each time, for ever; pending ones are already on their way, and so is
    one synced since ``listed_from`` (the run's start, less how far the replicas' clocks may
    differ: ``synced_at`` is the pushing replica's time; no page of the listing is older): the page
    that names it (or not) may have been read before that push landed. Judged by it, a dossier first
    created on the portal meanwhile counted as missing and was pushed again as lost."""
    if not sync.ready:
        return Verdict.AWAITING_DATA
    if sync.status is SyncStatus.PENDING:
        return Verdict.PENDING
    if sync.status is SyncStatus.FAILED:
        last = sync.last_attempt_at
        lately = refused_before is not None and last is not None and last > refused_before
        return Verdict.REFUSED if sync.refused and lately else Verdict.RETRY_FAILED
    if sync.synced_at is not None and sync.synced_at >= listed_from:
        return Verdict.PENDING
    if on_portal is None:
        return Verdict.MISSING
    if on_portal.state != sync.record.state:
        return Verdict.STALE
    if sync.portal_revision is not None and on_portal.revision != sync.portal_revision:
        return Verdict.STALE  # someone else wrote over our version
    return Verdict.IN_SYNC


REPUSHED = frozenset({Verdict.MISSING, Verdict.STALE, Verdict.RETRY_FAILED})


@dataclass
class ReconciliationReport:
    """The counts one run reports."""

    trigger: str
    started_at: datetime
    finished_at: datetime | None = None
    portal_dossiers: int = 0
    local_dossiers: int = 0
    found_on_portal: int = 0
    in_sync: int = 0
    missing_on_portal: int = 0
    stale_on_portal: int = 0
    failed_retried: int = 0
    refused_waiting: int = 0
    pending: int = 0
    awaiting_data: int = 0
    not_judged: int = 0
    unknown_to_us: int = 0
    listing_complete: bool = False
    error: str | None = None
    id: int | None = None

    @property
    def repushed(self) -> int:
        return self.missing_on_portal + self.stale_on_portal + self.failed_retried

    def count(self, verdict: Verdict) -> None:
        setattr(self, verdict.value, getattr(self, verdict.value) + 1)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["repushed"] = self.repushed
        for key in ("started_at", "finished_at"):
            data[key] = data[key].isoformat() if data[key] else None
        return data

"""Reconciliation: walk the portal's listing and our dossiers side by side, both in code order
(memory stays bounded however many dossiers there are), and queue again every dossier the portal
lost or holds in an older state, plus those whose sync failed. The portal worker does the pushes."""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from eventkit.backoff import doubling, stop_if_cancelled
from eventkit.logging import get_logger
from registry_sync.adapters.portal import NationalPortal
from registry_sync.domain.outcomes import Rejected, Succeeded, Transient
from registry_sync.domain.reconciliation import REPUSHED, PortalSummary, ReconciliationReport, Verdict, judge
from registry_sync.domain.retry import RetryPolicy
from registry_sync.service_layer.guard import SystemGuard
from registry_sync.service_layer.unit_of_work import Clock, UnitOfWorkFactory

log = get_logger(__name__)

PAGE_ATTEMPTS: Final = 3
#: The longest a listing waits between page attempts when the portal asks (Retry-After).
RETRY_AFTER_CAP: Final = 60.0
UNKNOWN: Final = object()  # the listing ended before this code: no verdict possible


class ReconciliationRunning(Exception):
    """Another run is in progress in this process."""


@dataclass
class PortalListing:
    """A cursor over the portal's listing, fetched page by page through the portal's guard."""

    portal: NationalPortal
    guard: SystemGuard
    policy: RetryPolicy
    page_size: int
    max_pages: int
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    total: int = 0
    pages: int = 0
    complete: bool = False
    error: str | None = None
    _items: deque[PortalSummary] = field(default_factory=deque)
    _after: str | None = None
    _ended: bool = False

    async def find(self, code: str) -> PortalSummary | object | None:
        """The portal's summary of ``code``, None if the portal does not have it, or UNKNOWN."""
        while True:
            if not self._items:  # a page may be empty and not the last: read on
                if not await self._next_page():
                    return None if self.complete else UNKNOWN
                continue
            head = self._items[0]
            if head.code < code:
                self._items.popleft()  # a dossier we do not track
                continue
            if head.code == code:
                return self._items.popleft()
            return None

    async def _next_page(self) -> bool:
        if self._ended:
            return False
        if self.pages >= self.max_pages:
            return self._end(f"stopped after {self.pages} pages (reconciliation_max_pages)")
        outcome = None
        for attempt in range(1, PAGE_ATTEMPTS + 1):
            outcome = await self.guard.call(lambda: self.portal.list_page(after=self._after, limit=self.page_size))
            if isinstance(outcome, Succeeded | Rejected) or attempt == PAGE_ATTEMPTS:
                break
            retry_after = outcome.retry_after if isinstance(outcome, Transient) else None
            wait = (
                self.guard.breaker.seconds_until_probe() if outcome is None else self.policy.delay(attempt, retry_after)
            )
            # Our own backoff stays short (a listing is one pass); a wait the portal asked for
            # (Retry-After) is honoured, up to a minute.
            await self.sleep(max(min(wait, 5.0), min(retry_after or 0.0, RETRY_AFTER_CAP)))
        if not isinstance(outcome, Succeeded):
            reason = outcome.reason if isinstance(outcome, Rejected | Transient) else "portal breaker open"
            return self._end(f"portal listing failed: {reason}")
        body = outcome.body
        self.pages += 1
        self.total = int(body.get("total") or 0)
        previous = self._after
        for item in body.get("items") or []:
            summary = PortalSummary(str(item["code"]), int(item["state"]), int(item.get("revision") or 0))
            if previous is not None and summary.code <= previous:
                return self._end("portal listing is not in code order")
            self._items.append(summary)
            previous = summary.code
        self._after = body.get("next_after")
        if self._after is None:
            self._ended, self.complete = True, True
        return bool(self._items) or not self._ended

    def _end(self, error: str) -> bool:
        self._ended, self.error = True, error
        return False


@dataclass
class Reconciler:
    uow: UnitOfWorkFactory
    portal: NationalPortal
    guard: SystemGuard
    policy: RetryPolicy
    clock: Clock
    page_size: int = 500
    max_pages: int = 10_000
    chunk_size: int = 500
    #: How far the replicas' clocks may differ (a push's time is its replica's, the run's start ours).
    clock_skew_seconds: float = 5.0
    #: A push the portal refused is pushed again only this long after (a new change pushes it at once).
    refused_retry_seconds: float = 24 * 3600.0
    #: A progress line every this many chunks: a run over millions of dossiers takes many minutes,
    #: and without one a long run could not be told from a stuck one.
    progress_every_chunks: int = 20
    on_repush: Callable[[], None] = lambda: None
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def running(self) -> bool:
        return self._lock.locked()

    async def run(self, trigger: str) -> ReconciliationReport:
        """One reconciliation; raises :class:`ReconciliationRunning` if one is under way here."""
        if self._lock.locked():
            raise ReconciliationRunning
        async with self._lock:
            report = ReconciliationReport(trigger=trigger, started_at=self.clock())
            listing = PortalListing(self.portal, self.guard, self.policy, self.page_size, self.max_pages, self.sleep)
            after: str | None = None
            chunks = 0
            while True:
                async with self.uow() as uow:
                    chunk = await uow.dossiers.in_code_order(after, self.chunk_size)
                if not chunk:
                    break
                verdicts = [(sync.dossier_id, await listing.find(sync.code)) for sync in chunk]
                await self._apply(verdicts, report)
                after = chunk[-1].code
                chunks += 1
                if chunks % self.progress_every_chunks == 0:
                    self._log_progress(report, listing, chunks)
            report.portal_dossiers = listing.total
            # Every page our dossiers needed was read (the rest are dossiers we do not track).
            report.listing_complete = listing.error is None
            report.error = listing.error
            if report.listing_complete:
                report.unknown_to_us = max(0, listing.total - report.found_on_portal)
            report.finished_at = self.clock()
            async with self.uow() as uow:
                report.id = await uow.reconciliations.add(report)
        if report.repushed:
            self.on_repush()
        if report.listing_complete:
            log.info("reconciliation finished", **report.as_json())
        else:
            # The error is the portal's answer or our bound, personal numbers already masked. Left out,
            # an incomplete run read as a clean one with many dossiers "not judged", for no said reason.
            log.warning("reconciliation finished without the portal's whole listing: the rest was not judged",
                        **report.as_json())  # fmt: skip
        return report

    def _log_progress(self, report: ReconciliationReport, listing: PortalListing, chunks: int) -> None:
        log.info(
            "reconciliation in progress",
            trigger=report.trigger,
            chunks=chunks,
            local_dossiers=report.local_dossiers,
            portal_pages=listing.pages,
            portal_dossiers=listing.total,
            repushed=report.repushed,
            not_judged=report.not_judged,
            seconds=round((self.clock() - report.started_at).total_seconds(), 3),
        )

    async def _apply(
        self, verdicts: list[tuple[str, PortalSummary | object | None]], report: ReconciliationReport
    ) -> None:
        now = self.clock()
        listed_from = report.started_at - timedelta(seconds=self.clock_skew_seconds)
        async with self.uow() as uow:
            # Locked as the consumer and the push recorder lock them: the whole chunk at once, in
            # dossier-id order. One by one in code order, a run and a consumer's batch could each hold
            # a row the other waited for: a deadlock, and the run, never recorded, started over.
            current = await uow.dossiers.get_many(sorted({dossier_id for dossier_id, _ in verdicts}), for_update=True)
            for dossier_id, on_portal in verdicts:
                sync = current.get(dossier_id)
                if sync is None:
                    continue
                report.local_dossiers += 1
                if on_portal is UNKNOWN:
                    verdict = Verdict.NOT_LISTED if sync.ready else Verdict.AWAITING_DATA
                else:
                    assert on_portal is None or isinstance(on_portal, PortalSummary)
                    refused_before = now - timedelta(seconds=self.refused_retry_seconds)
                    verdict = judge(sync, on_portal, listed_from=listed_from, refused_before=refused_before)
                report.count(verdict)
                report.found_on_portal += isinstance(on_portal, PortalSummary)
                if verdict in REPUSHED:
                    sync.repush(now, lost=verdict is Verdict.MISSING)
                    await uow.dossiers.save(sync)

    async def periodic(self, interval_seconds: float) -> None:
        """Run every ``interval_seconds`` until cancelled; a failed run is logged, not fatal.

        Due ``interval_seconds`` after the last recorded run, whichever replica made it, not after
        this process started: restarted more often than the interval (deploys, a crash loop), no
        replica had ever run one. With none recorded yet, due an interval after this start. A run is
        recorded when it ends, so replicas whose jittered wake-ups fall within one run's length may
        still both run (harmless: a repush is idempotent; twice the portal listing). A failing run is
        tried again after a growing wait, up to the interval."""
        started = self.clock()
        failures = 0
        while True:
            await self.sleep(
                await self._until_due(interval_seconds, started) + random.uniform(0, min(interval_seconds / 20, 60))
            )
            try:
                if await self._until_due(interval_seconds, started) > 0:  # another replica ran one meanwhile
                    continue
                await self.run("periodic")
                failures = 0
            except ReconciliationRunning:
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                stop_if_cancelled(exc)  # a stop the database driver turned into its own error is a stop
                failures += 1
                log.exception("periodic reconciliation failed", failures=failures)
                # None recorded: it would be due at once again, and each try may list the whole portal.
                await self.sleep(doubling(failures, base=60.0, cap=interval_seconds))

    async def _until_due(self, interval_seconds: float, started: datetime) -> float:
        """Seconds until the next periodic run: the interval after the last recorded one, or after
        ``started`` when there is none (the whole interval when the database cannot say)."""
        try:
            async with self.uow() as uow:
                latest = await uow.reconciliations.latest()
        except Exception as exc:
            stop_if_cancelled(exc)
            log.warning("cannot read when reconciliation last ran; waiting a full interval", error=repr(exc))
            return interval_seconds
        since = latest.started_at if latest is not None else started
        elapsed = (self.clock() - since).total_seconds()
        if elapsed < 0:  # recorded by a replica whose clock runs ahead: due now, or it never would be
            return 0.0
        return max(interval_seconds - elapsed, 0.0)

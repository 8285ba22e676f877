"""The repair, once after the upgrade, of the fee lines of dossiers that ended without a result.

Since that upgrade the portal is sent only what was paid for a dossier refused, withdrawn or stopped
(``portal_record.ENDED_WITHOUT_RESULT``). A record an older build saved for one still holds, and the
portal still shows, the fee or the request it owed: its lines are made again only at the dossier's
next event, which for an ended dossier never comes, and reconciliation pushes a record as it is. Each
process looks for such records once at start and rebuilds their lines by the fold's own rule, saving
each as the consumer saves a change (a new revision, queued for the portal worker's push). A record
repaired no longer matches: a later start finds nothing to do, and a replica running at the same time
waits for the batch's locks, then reads the records repaired and changes nothing.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from eventkit.backoff import doubling, stop_if_cancelled
from eventkit.db import is_contention, is_unavailable
from eventkit.logging import get_logger
from registry_sync.adapters.portal import same_on_portal
from registry_sync.domain.portal_record import ENDED_WITHOUT_RESULT, with_fee_lines_remade
from registry_sync.service_layer.unit_of_work import Clock, UnitOfWorkFactory

log = get_logger(__name__)


@dataclass(frozen=True)
class RepairCount:
    """What one pass did: records it looked at again (found), and those it saved as a change."""

    found: int = 0
    repaired: int = 0


@dataclass
class EndedFeeLinesRepair:
    uow: UnitOfWorkFactory
    clock: Clock
    #: Records per transaction: each batch is locked, rebuilt and saved in one small transaction.
    batch_size: int = 100
    #: Called after a batch saved something: the portal worker can push it at once.
    on_repaired: Callable[[], None] = lambda: None
    #: After a failed pass, the wait before the next, doubled at each failure up to the cap.
    retry_base_seconds: float = 10.0
    retry_cap_seconds: float = 600.0
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    async def run_until_done(self) -> None:
        """Run a pass until one ends; a failed pass is logged and the next one tried later, so the
        service never stops for it. What a failed pass committed stays repaired."""
        failures = 0
        while True:
            try:
                await self.run()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                stop_if_cancelled(exc)  # a stop the database driver turned into its own error is a stop
                failures += 1
                wait = doubling(failures, base=self.retry_base_seconds, cap=self.retry_cap_seconds)
                if is_unavailable(exc) or is_contention(exc):
                    log.warning("cannot repair ended dossiers' fee lines now; trying again",
                                failures=failures, retry_in_seconds=wait, error=repr(exc))  # fmt: skip
                else:
                    log.exception("repairing ended dossiers' fee lines failed; trying again",
                                  failures=failures, retry_in_seconds=wait)  # fmt: skip
                await self.sleep(wait)

    async def run(self) -> RepairCount:
        """One pass over the matching records, in dossier-id order, a batch at a time."""
        total = RepairCount()
        after: str | None = None
        # A chain of its own for a record saved without one: the repair is caused by no event.
        chain = f"ended-fee-lines-{uuid.uuid4()}"
        while True:
            found, repaired = await self._batch(after, chain)
            if not found:
                break
            total = RepairCount(total.found + len(found), total.repaired + repaired)
            log.info("repairing ended dossiers' fee lines", found=total.found, repaired=total.repaired)
            if repaired:
                self.on_repaired()
            after = found[-1]
        log.info("ended dossiers' fee lines repaired", found=total.found, repaired=total.repaired)
        return total

    async def _batch(self, after: str | None, chain: str) -> tuple[list[str], int]:
        """The next batch after ``after``: its ids, and how many of them were saved as a change."""
        now = self.clock()
        async with self.uow() as uow:
            found = await uow.dossiers.showing_unpaid(ENDED_WITHOUT_RESULT, after, self.batch_size)
            if not found:
                return [], 0
            # Locked as the consumer, the push recorder and reconciliation lock them: the whole batch
            # at once, in dossier-id order. Read under the lock, a record a consumer or another
            # replica changed meanwhile is rebuilt from what it holds now (the same, if repaired).
            current = await uow.dossiers.get_many(sorted(found), for_update=True)
            changed = []
            for sync in current.values():
                if sync.record.state not in ENDED_WITHOUT_RESULT:
                    continue  # no longer ended without a result: its lines are what it owes
                record = with_fee_lines_remade(sync.record)
                # As the consumer saves a change; the dossier's causal chain, as reconciliation's repush.
                correlation_id = sync.correlation_id or chain
                if sync.change(
                    record, at=now, now=now, correlation_id=correlation_id,
                    causation_id=sync.causation_id or correlation_id,
                    seen_by_portal=not same_on_portal(sync.record, record),
                ):  # fmt: skip
                    changed.append(sync)
            await uow.dossiers.save_many(changed)
        return found, len(changed)

"""Periodic reconciliation stops when cancelled, even when the cancellation surfaces as a database error."""

from __future__ import annotations

import asyncio

from sqlalchemy.exc import PendingRollbackError

from registry_sync.adapters.memory import InMemoryDossierStore, InMemoryRegistry
from registry_sync.domain.portal_sync import DossierSync
from registry_sync.service_layer.reconciliation import Reconciler
from tests.unit.registry_sync.fakes import Clock, FakePortal, guards


class InterruptedDossiers(InMemoryDossierStore):
    """Dossiers whose read in code order reports the first cancellation of it as the driver's error."""

    def __init__(self) -> None:
        super().__init__()
        self.reading = asyncio.Event()
        self.turned = False

    async def in_code_order(self, after: str | None, limit: int) -> list[DossierSync]:
        self.reading.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            if self.turned:  # only once, so that a failing test still ends
                raise
            self.turned = True
            raise PendingRollbackError("interrupted in the middle of the operation") from None
        return []


async def test_periodic_reconciliation_stops_when_its_cancellation_surfaces_as_a_database_error() -> None:
    """The run's failure was logged as an error and waited out like any other (a minute, then the next
    run), so a stopping service waited its 10 s for the reconciler and then left it running."""
    registry, clock, portal, guarded = InMemoryRegistry(), Clock(), FakePortal(), guards()
    registry.dossiers = dossiers = InterruptedDossiers()

    async def time_passes(seconds: float) -> None:
        clock.advance(seconds)
        await asyncio.sleep(0)

    reconciler = Reconciler(
        registry.unit_of_work, portal, guarded["national_portal"], guarded.policy, clock, sleep=time_passes
    )
    task = asyncio.create_task(reconciler.periodic(900))
    await asyncio.wait_for(dossiers.reading.wait(), timeout=5)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=2)
    if task not in done:
        task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert task in done and task.cancelled()

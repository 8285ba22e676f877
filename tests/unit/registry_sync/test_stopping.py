"""Periodic reconciliation stops when cancelled, even when the cancellation surfaces as a database or HTTP error."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy.exc import PendingRollbackError

from registry_sync.adapters.http_client import ExternalHttpClient
from registry_sync.adapters.memory import InMemoryDossierStore, InMemoryRegistry
from registry_sync.adapters.portal import HttpNationalPortal
from registry_sync.domain.portal_sync import DossierSync
from registry_sync.service_layer.reconciliation import PortalListing, Reconciler
from registry_sync.settings import ExternalSystemSettings
from tests.support.cancellation import InterruptedCall, stopped_when_cancelled
from tests.unit.registry_sync.fakes import Clock, FakePortal, guards


class InterruptedDossiers(InMemoryDossierStore):
    """Dossiers whose read in code order reports the first cancellation of it as the driver's error."""

    def __init__(self) -> None:
        super().__init__()
        self.reading = InterruptedCall(PendingRollbackError("interrupted in the middle of the operation"))

    async def in_code_order(self, after: str | None, limit: int) -> list[DossierSync]:
        await self.reading()
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
    assert await stopped_when_cancelled(asyncio.create_task(reconciler.periodic(900)), dossiers.reading.entered)


class InterruptedTransport(httpx.AsyncBaseTransport):
    """A connection to the portal that reports the first cancellation of a request as httpx's own
    connection error (as httpx did for a cancelled connect: encode/httpx#2381)."""

    def __init__(self) -> None:
        self.requesting = InterruptedCall(
            httpx.ConnectError(
                "connection closed in the middle of the operation", request=httpx.Request("GET", "http://portal")
            )
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await self.requesting()
        return httpx.Response(200, json={"items": [], "total": 0, "next_after": None})


async def test_the_portal_listing_stops_when_its_cancellation_surfaces_as_an_http_error() -> None:
    """The call took the stop for a transient failure: the portal's breaker counted it, and the
    reconciliation's page loop waited its backoff and asked for the page again, its stop lost."""
    transport, guarded, waits = InterruptedTransport(), guards(), []

    async def wait(seconds: float) -> None:
        waits.append(seconds)

    client = ExternalHttpClient("national_portal", ExternalSystemSettings(), "http://portal", transport=transport)
    guard = guarded["national_portal"]
    listing = PortalListing(HttpNationalPortal(client), guard, guarded.policy, page_size=500, max_pages=10, sleep=wait)
    stopped = await stopped_when_cancelled(asyncio.create_task(listing.find("D-1")), transport.requesting.entered)
    await client.aclose()
    assert stopped
    assert (waits, guard.calls, guard.breaker.consecutive_failures) == ([], 1, 0)

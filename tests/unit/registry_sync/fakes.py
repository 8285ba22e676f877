"""Fakes of registry-sync's ports: a scripted registry, a portal in memory, a settable clock."""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta
from typing import Any

from contracts.envelope import Envelope
from registry_sync.adapters.memory import InMemoryRegistry
from registry_sync.adapters.operations import OperationCall
from registry_sync.domain.outcomes import CallOutcome, Rejected, Succeeded, Transient
from registry_sync.domain.retry import RetryPolicy
from registry_sync.service_layer.guard import Guards
from registry_sync.service_layer.portal_sync import PortalPusher, record_dossier_event
from tests.unit.registry_sync.events import T0


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class FakeOperations:
    """Supports ``population_db/register_permanent_residence``; answers from a script, then succeeds."""

    def __init__(self, *script: CallOutcome) -> None:
        self.script: deque[CallOutcome] = deque(script)
        self.calls: list[OperationCall] = []

    def supports(self, system: str, operation: str) -> bool:
        return (system, operation) == ("population_db", "register_permanent_residence")

    async def perform(self, system: str, operation: str, call: OperationCall) -> CallOutcome:
        self.calls.append(call)
        if self.script:
            return self.script.popleft()
        return Succeeded({"residence_address": call.data.get("address")})


class DatabaseGoesAway:
    """The registry's units of work, refused ``down`` times from when ``go_away`` is called."""

    def __init__(self, registry: InMemoryRegistry) -> None:
        self.registry, self.down, self.refused = registry, 0, 0

    def go_away(self, times: int) -> None:
        self.down = times

    def __call__(self):  # type: ignore[no-untyped-def]
        if self.down:
            self.down, self.refused = self.down - 1, self.refused + 1
            raise ConnectionRefusedError(111, "Connection refused")
        return self.registry.unit_of_work()


class FakePortal:
    """The portal's dossiers by code; ``script`` answers writes before they take effect."""

    def __init__(self) -> None:
        self.dossiers: dict[str, dict[str, Any]] = {}
        self.script: deque[CallOutcome] = deque()
        self.writes: list[tuple[str, str]] = []
        self.list_failures: deque[CallOutcome] = deque()
        self.in_flight: list[tuple[str, dict[str, Any], int | None]] = []

    async def create(self, body: dict[str, Any], *, idempotency_key: str, correlation_id: str | None) -> CallOutcome:
        self.writes.append(("create", idempotency_key))
        if self.script:
            return self.script.popleft()
        if body["code"] in self.dossiers:
            return Rejected("409 dossier_exists", 409, "dossier_exists")
        self.dossiers[body["code"]] = {**body, "revision": 1}
        return Succeeded(self.dossiers[body["code"]], 201)

    async def update(
        self,
        code: str,
        body: dict[str, Any],
        *,
        idempotency_key: str,
        correlation_id: str | None,
        if_match: int | None = None,
    ) -> CallOutcome:
        self.writes.append(("update", idempotency_key))
        if self.script:
            answer = self.script.popleft()
            if isinstance(answer, Transient) and answer.reason == "timeout, still in flight":
                self.in_flight.append((code, body, if_match))  # it lands later: apply_in_flight()
            return answer
        return self._apply(code, body, if_match)

    def _apply(self, code: str, body: dict[str, Any], if_match: int | None) -> CallOutcome:
        if code not in self.dossiers:
            return Rejected("404 not_found", 404, "not_found")
        held = self.dossiers[code]["revision"]
        if if_match is not None and if_match != held:
            return Rejected(f"412 revision_mismatch: current revision is {held}", 412, "revision_mismatch")
        self.dossiers[code] = {**body, "revision": held + 1}
        return Succeeded(self.dossiers[code], 200)

    def apply_in_flight(self) -> list[CallOutcome]:
        """The updates whose answers were lost land now, as a slow portal would apply them."""
        landed = [self._apply(*write) for write in self.in_flight]
        self.in_flight.clear()
        return landed

    async def revision(self, code: str) -> CallOutcome:
        if code not in self.dossiers:
            return Rejected("404 not_found", 404, "not_found")
        return Succeeded(dict(self.dossiers[code]), 200)

    async def list_page(self, *, after: str | None, limit: int) -> CallOutcome:
        if self.list_failures:
            return self.list_failures.popleft()
        codes = sorted(c for c in self.dossiers if after is None or c > after)
        page = codes[:limit]
        items = [
            {"code": c, "state": self.dossiers[c]["state"], "revision": self.dossiers[c]["revision"]} for c in page
        ]
        more = len(codes) > limit
        return Succeeded({"items": items, "total": len(self.dossiers), "next_after": page[-1] if more else None})


def guards(threshold: int = 3, cooldown: float = 10.0, **policy: Any) -> Guards:
    systems = [("population_db", 2), ("national_portal", 2)]
    return Guards.build(
        systems, RetryPolicy(**{"base_seconds": 1.0, **policy}), failure_threshold=threshold, cooldown_seconds=cooldown
    )


async def consume(registry: InMemoryRegistry, clock: Clock, *envelopes: Envelope) -> None:
    """Each envelope as the portal consumer folds it, a transaction each."""
    for envelope in envelopes:
        async with registry.unit_of_work() as uow:
            await record_dossier_event(envelope, uow, now=clock())


async def push_due(pusher: PortalPusher) -> int:
    """Push every portal copy due now; returns how many."""
    claimed = await pusher.claim(10)
    for sync in claimed:
        await pusher.push(sync)
    return len(claimed)

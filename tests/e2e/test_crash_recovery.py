"""Nothing lost and nothing done twice when services die in the middle of the work.

Birth bundles go through the whole stack while intake, workflow, registry-sync and reporting are
killed together (SIGKILL: no shutdown, no draining, as a crash or an out-of-memory kill would) and
started again, twice: once while the submissions and their first events are in flight, once while
the social-insurance system has issued every child's health-insurance card but not yet answered
(the simulator answers late on purpose), so registry-sync dies between a registry's effect and
recording it. In between, PostgreSQL itself crashes (immediate shutdown, crash recovery at the
restart) under the running services while they work off the first crash's backlog.

The clients behave as real ones do: the portal sends a submission again under the same
Idempotency-Key when it got no answer, and an official whose decision got no answer looks the
dossier up before deciding again. Afterwards every bundle has completed with its three results, the
calls registry-sync made again were answered from their idempotency keys (one card per child, not
two), reporting counts every bundle and dossier once, and no consumer dead-lettered an event (an
outage is waited out, never blamed on the event).

A stack of its own: the kills would disturb the other e2e tests' exact counts. A command the killed
registry-sync had claimed waits out its lease before a restarted one takes it up; the lease is 3 s
there instead of 15 (it is renewed while a call runs, so the 15 s late answers do not lose it).
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.e2e.api import COMMUNE, READER, Json, birth_bundle, new_person_number, pick, today
from tests.e2e.conftest import RunningStack, local_stack
from tests.e2e.flows import HOTICH

pytestmark = pytest.mark.e2e

BUNDLES = 8
KILLED = ("intake", "workflow", "registry-sync", "reporting")
DEADLINE = 120.0  # seconds for the whole story, restarts included
INSURANCE = "social_insurance"
CARDS = f"/admin/records/{INSURANCE}/health_insurance_cards"
#: What a client sees while a service is down or starting: no connection, a cut one, or a 503.
UNAVAILABLE = (httpx.TransportError,)


@pytest.fixture(scope="module")
def crash_stack() -> Iterator[RunningStack]:
    if os.environ.get("E2E_INTAKE_URL"):
        pytest.skip("kills processes: only on a stack of its own, not a shared one")
    # Durable commits, as in production: the test crashes PostgreSQL, and a server that acknowledged
    # commits before writing them (the other tests' setting) loses them in a crash. The consumers
    # had already committed those events' offsets, so the events would be lost: not what is tested.
    with local_stack({"REGISTRY_SYNC_WORKER_LEASE_SECONDS": "3"}, durable=True) as running:
        yield running


class Client:
    """The public APIs as a client that retries what a crash interrupted (loopback only)."""

    def __init__(self, stack: RunningStack, http: httpx.AsyncClient) -> None:
        self.urls, self.http = stack.urls, http
        self.officials = stack.officials
        self.retries = Counter[str]()

    async def request(self, method: str, service: str, path: str, *, ok: tuple[int, ...] = (200,), **kw: Any) -> Any:
        """The answer's JSON once it is one of ``ok``; retries through outages; other answers fail.
        Workflow is called as the official a decision names, else as the tests' reader."""
        official = (kw.get("json") or {}).get("official_id", READER)
        kw["headers"] = self.officials.on(service, official, kw.get("headers"))
        while True:
            try:
                response = await self.http.request(method, f"{self.urls[service]}{path}", **kw)
            except UNAVAILABLE:
                self.retries[service] += 1
                await asyncio.sleep(0.2)
                continue
            if response.status_code == 503:
                self.retries[service] += 1
                await asyncio.sleep(0.2)
                continue
            assert response.status_code in ok, f"{method} {service}{path}: {response.status_code} {response.text}"
            return response.json() if response.content else None

    async def until(self, probe: Callable[[], Awaitable[Any]]) -> Any:
        """Poll ``probe`` until it returns something truthy (outages are retried inside it)."""
        async with asyncio.timeout(DEADLINE):
            while True:
                if found := await probe():
                    return found
                await asyncio.sleep(0.1)


async def one_birth(client: Client, may_approve: asyncio.Event) -> Json:
    """Submit a birth bundle as the portal would, have the official approve it (once ``may_approve``
    is set), wait for the end."""
    mother = new_person_number("female", 1995)
    body = birth_bundle(mother, "female", today() - timedelta(days=10))
    key = f"crash-test-{uuid.uuid4()}"  # the same key on every attempt: one bundle, however many tries
    receipt = await client.request(
        "POST", "intake", "/v1/bundles", ok=(200, 201), json=body, headers={"Idempotency-Key": key}
    )
    registration = receipt["dossiers"][0]["dossier_id"]

    async def on_task_list() -> bool:
        listed = await client.request("GET", "workflow", "/v1/tasks", params={"agency": COMMUNE, "limit": 1000})
        return any(t["dossier_id"] == registration and t["waiting_for"] == "decision" for t in listed["tasks"])

    async def approved() -> Json | None:
        state = await client.request("GET", "workflow", f"/v1/dossiers/{registration}")
        return state if state["results"] else None

    await client.until(on_task_list)
    await may_approve.wait()
    decision = {"decision": "approve", "official_id": HOTICH}
    # 409: an earlier attempt went through but its answer was lost in the crash (approved() says so).
    await client.request("POST", "workflow", f"/v1/dossiers/{registration}/decisions", ok=(200, 409), json=decision)
    state = await client.until(approved)

    async def ended() -> Json | None:
        view = await client.request("GET", "intake", f"/v1/bundles/{receipt['bundle_id']}")
        return view if view["status"] in ("completed", "partially_completed") else None

    view = await client.until(ended)
    return {"receipt": receipt, "view": view, "number": state["results"][0]["data"]["personal_id_number"]}


async def crash(stack: RunningStack) -> None:
    assert stack.local is not None
    await asyncio.to_thread(stack.local.restart, *KILLED, sig=signal.SIGKILL)


async def test_killed_services_lose_nothing_and_do_nothing_twice(crash_stack: RunningStack) -> None:
    async with httpx.AsyncClient(timeout=10.0, trust_env=False) as http:
        client = Client(crash_stack, http)
        may_approve = asyncio.Event()
        births = []
        for _ in range(BUNDLES):
            births.append(asyncio.create_task(one_birth(client, may_approve)))
            await asyncio.sleep(0.05)
        # First crash: submissions still arriving, their events on the way to every consumer.
        await crash(crash_stack)
        # The database crashes under the restarted services as they work off what the crash left.
        assert crash_stack.local is not None
        if crash_stack.local.postgres is not None:  # the embedded server (not one named by DATABASE_URL)
            await asyncio.to_thread(crash_stack.local.postgres.restart, immediate=True)

        # Second crash: every card issued, none of the answers back yet.
        # Answers later than the read timeout (10 s): however spread out the calls, none is answered
        # before the crash, and one that outlived it would be timed out and made again anyway.
        late = {"timeout_after_effect_rate": 1.0, "timeout_after_effect_ms": 15_000}
        await client.request("PUT", "registry-simulator", f"/admin/faults/{INSURANCE}", json=late)
        may_approve.set()

        async def all_cards_issued() -> bool:
            return len(await client.request("GET", "registry-simulator", CARDS)) == BUNDLES

        await client.until(all_cards_issued)
        unfinished = sum(not task.done() for task in births)
        await crash(crash_stack)
        await client.request("DELETE", "registry-simulator", "/admin/faults")
        done = await asyncio.gather(*births)
        assert unfinished == BUNDLES, "a bundle had finished before the second crash: nothing of it was tested"

        # Every bundle completed, each step with its result, under the number its birth registration issued.
        assert [d["view"]["status"] for d in done] == ["completed"] * BUNDLES, unfinished
        assert all(len(d["view"]["steps"]) == 3 for d in done)
        numbers = [d["number"] for d in done]
        assert len(set(numbers)) == BUNDLES

        # The national systems acted once per child: the calls repeated after the crash were
        # answered from their idempotency keys, not carried out again.
        cards = Counter(c["id_number"] for c in await client.request("GET", "registry-simulator", CARDS))
        assert cards == Counter(numbers), cards
        counters = await client.request("GET", "registry-simulator", f"/admin/counters/{INSURANCE}")
        assert counters["replays"] >= BUNDLES, counters  # every interrupted call was made again

        # Reporting counted each bundle and dossier once, through two crashes of its consumer.
        expected = {
            "received.total": 3 * BUNDLES,
            "bundles.by_type.birth.started": BUNDLES,
            "bundles.by_type.birth.completed": BUNDLES,
            "portal_sync.synced": 3 * BUNDLES,
        }

        async def counted() -> Json | None:
            summary = await client.request("GET", "reporting", "/v1/metrics/summary")
            return summary if pick(summary, expected) == expected else None

        try:
            await client.until(counted)
        except TimeoutError:
            summary = await client.request("GET", "reporting", "/v1/metrics/summary")
            assert pick(summary, expected) == expected, crash_stack.log_dir
        assert client.retries, "no request met a crash: the kills came too late to test anything"
    assert await dead_letters(crash_stack.database_url) == {}, crash_stack.log_dir


async def dead_letters(database_url: str) -> dict[str, int]:
    """Dead-lettered events per service schema that has any (an operator's query: no API lists them)."""
    find = "SELECT table_schema FROM information_schema.tables WHERE table_name = 'dead_letters'"
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            schemas = (await conn.execute(text(find))).scalars().all()
            counts = {}
            for schema in schemas:
                counted = await conn.execute(text(f'SELECT count(*) FROM "{schema}".dead_letters'))
                counts[schema] = counted.scalar_one()
    finally:
        await engine.dispose()
    assert len(counts) == 4, counts  # every service's schema was looked at
    return {schema: n for schema, n in counts.items() if n}

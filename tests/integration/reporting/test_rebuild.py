"""Rebuilding the read models from the topics gives the numbers the live projection gave, and
events published while a rebuild runs are counted exactly once."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog.testing
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from sqlalchemy import text

from devstack.identity import ISSUER, DevIdentity
from reporting.adapters import pg_store
from reporting.bootstrap import create_app
from reporting.settings import ReportingSettings
from tests.integration.reporting.support import projected_count, publish
from tests.support.infra import Infra
from tests.support.kafka import eventually
from tests.support.services import create_topics, running, settings_for
from tests.unit.reporting import scenario
from tests.unit.reporting.scenario import EXPECTED

pytestmark = pytest.mark.integration

MARCH = {"from": "2024-03-01", "to": "2024-03-31"}


async def numbers(client: httpx.AsyncClient) -> dict[str, Any]:
    """Everything the API reports about March, plus the raw read-model rows."""
    out = {}
    for name, url, params in [
        ("summary", "/v1/metrics/summary", MARCH),
        ("summary_all", "/v1/metrics/summary", {}),
        ("district", "/v1/metrics/summary", {**MARCH, "agency": "UBND-H-HOAMY"}),
        ("index", "/v1/index", {"period": "2024-03"}),
        ("losses", "/v1/index/losses", {"period": "2024-03", "limit": "50"}),
        ("trend", "/v1/metrics/trend", {"interval": "day", "limit": "60"}),
    ]:
        response = await client.get(url, params=params)
        assert response.status_code == 200, response.text
        out[name] = response.json()
    return out


async def rows(app: FastAPI) -> dict[str, list[tuple[Any, ...]]]:
    async with app.state.runtime.engine.connect() as conn:
        return {
            table: [tuple(r) for r in await conn.execute(text(f"SELECT * FROM {table} ORDER BY 1"))]
            for table in ("rm_dossiers", "rm_bundles")
        }


async def publish_raw(servers: str, topic: str, envelope: Any) -> None:
    """An event of a version no model here reads, as a newer producer would publish it."""
    producer = AIOKafkaProducer(bootstrap_servers=servers)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value=envelope.to_json(), key=envelope.key.encode())
    finally:
        await producer.stop()


async def rebuild(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.post("/v1/projections/rebuild", params={"wait": "true", "timeout": "60"})
    assert response.status_code == 200, response.text
    status = response.json()["rebuild"]
    assert status["state"] == "succeeded", status
    return status  # type: ignore[no-any-return]


async def test_rebuilt_numbers_equal_live_ones_and_redelivery_counts_once(infra: Infra) -> None:
    # A cache smaller than the scenario: facts are evicted, read back and written in chunks of 7.
    settings = settings_for(
        ReportingSettings, infra, "rb" + secrets.token_hex(3), rebuild_batch_size=7, rebuild_cache_size=3,
        rebuild_progress_seconds=0,
    )  # fmt: skip
    await create_topics(infra, settings.topics)
    app = create_app(settings)
    async with running(app) as client:
        envelopes = scenario.build().all()
        await publish(infra.bootstrap_servers, settings.topics, envelopes + envelopes[10:20])  # 10 redelivered

        async def all_projected() -> bool:
            return await projected_count(app) == len(envelopes)

        await eventually(all_projected, timeout=30)
        live_numbers, live_rows = await numbers(client), await rows(app)
        shapes_before = await table_shapes(app)
        # logged, with its key and four more indexes (by occurrence, projection, dossier, bundle)
        assert shapes_before["rm_event_log"][0] == "p" and len(shapes_before["rm_event_log"][1]) == 5
        assert live_numbers["summary"]["received"]["total"] == EXPECTED["received"]

        with structlog.testing.capture_logs() as logs:
            status = await rebuild(client)
        assert (status["records_read"], status["events_applied"]) == (len(envelopes) + 10, len(envelopes))
        progress = [e["records_read"] for e in logs if e["event"] == "rebuild progress"]
        assert len(progress) >= 2 and progress == sorted(progress) and progress[-1] <= status["records_read"]
        assert status["duplicates"] == 10
        # Where the time went: the fixed costs around the replay are reported apart from it.
        assert 0 < status["first_record_seconds"] <= status["seconds"]
        assert status["replay_seconds"] >= 0 and status["replay_events_per_second"] >= status["events_per_second"]
        assert status["finish_seconds"] > 0 and status["swap_seconds"] > 0
        parts = status["first_record_seconds"] + status["replay_seconds"] + status["finish_seconds"]
        assert parts + status["swap_seconds"] <= status["seconds"] + 0.01
        assert await numbers(client) == live_numbers
        assert await rows(app) == live_rows
        assert await projected_count(app) == len(envelopes)
        again = await client.post("/v1/projections/rebuild", params={"wait": "true"})
        assert again.json()["rebuild"]["state"] == "succeeded"
        assert await numbers(client) == live_numbers
        assert await table_shapes(app) == shapes_before


async def table_shapes(app: FastAPI) -> dict[str, tuple[str, list[str]]]:
    """Each read-model table's persistence (p = logged) and its index definitions, generation suffixes removed."""
    async with app.state.runtime.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT c.relname, c.relpersistence::text, array_agg(regexp_replace(pg_get_indexdef(i.indexrelid),"
                " '(__r[0-9a-f]+|_pkey[0-9]*)', '', 'g') ORDER BY 1) FROM pg_class c JOIN pg_index i"
                " ON i.indrelid = c.oid WHERE c.relname LIKE 'rm\\_%'"
                " AND c.relnamespace = current_schema()::regnamespace GROUP BY 1, 2"
            )
        )
        return {name: (persistence, sorted(indexes)) for name, persistence, indexes in rows}


async def test_events_published_during_a_rebuild_are_counted_once(infra: Infra) -> None:
    settings = settings_for(ReportingSettings, infra, "rc" + secrets.token_hex(3), rebuild_batch_size=3)
    await create_topics(infra, settings.topics)
    app = create_app(settings)
    copies = 4
    async with running(app) as client:
        history = [e for k in range(copies - 1) for e in scenario.build(f"h{k}-").all()]
        await publish(infra.bootstrap_servers, settings.topics, history)

        async def projected(n: int) -> Any:
            async def check() -> bool:
                return await projected_count(app) == n

            return check

        await eventually(await projected(len(history)), timeout=60)
        started = await client.post("/v1/projections/rebuild")
        assert started.status_code == 202
        late = scenario.build("late-").all()
        await asyncio.gather(
            publish(infra.bootstrap_servers, settings.topics, late),
            client.post("/v1/projections/rebuild"),  # a second request while one runs: 409 (or it had finished)
        )
        status = await app.state.reporting.rebuilder.wait()
        assert status.state == "succeeded", status
        await eventually(await projected(len(history) + len(late)), timeout=60)
        body = (await client.get("/v1/metrics/summary", params=MARCH)).json()
        assert body["received"]["total"] == copies * EXPECTED["received"]
        assert body["resolved"]["overdue"] == copies * EXPECTED["overdue"]
        assert body["payment"]["paid_online"] == copies * EXPECTED["paid_online"]
        assert body["portal_sync"]["syncs"] == copies * EXPECTED["syncs"]
        assert body["digitisation"]["documents"] == copies * EXPECTED["documents"]
        assert body["resolved"]["on_time_rate"] == 0.75


async def test_api_reads_wait_for_a_swap_instead_of_deadlocking_with_it(infra: Infra) -> None:
    """A read used to take its tables' locks in its own order while a swap renamed them in another:
    PostgreSQL broke the deadlock by failing the read (a 500). Reads now queue behind the swap's
    lock, as projections do, and answer once it is done."""
    settings = settings_for(ReportingSettings, infra, "rb" + secrets.token_hex(3))
    await create_topics(infra, settings.topics)
    app = create_app(settings)
    async with running(app) as client:
        async with app.state.runtime.engine.connect() as swap:
            await swap.execute(text(pg_store.SWAP_LOCK_EXCLUSIVE))  # a swap in progress
            reads = [
                asyncio.create_task(client.get(url))
                for url in ("/v1/events/recent", "/v1/metrics/summary", "/v1/index/losses?period=2024-03")
            ]
            await asyncio.sleep(1.0)
            assert not any(read.done() for read in reads), "a read went ahead of the swap"
            await swap.commit()
        responses = await asyncio.wait_for(asyncio.gather(*reads), timeout=10)
    assert [r.status_code for r in responses] == [200, 200, 200]


async def test_only_an_operator_starts_a_rebuild(infra: Infra, tmp_path: Path) -> None:
    """With AUTH_JWKS set, a rebuild (minutes of load on a province's database) is an operator's act;
    the reads stay open (aggregates, no personal data)."""
    identity = DevIdentity.create(tmp_path / "idp")
    settings = settings_for(
        ReportingSettings, infra, "ra" + secrets.token_hex(3), auth_jwks=str(identity.jwks_path), auth_issuer=ISSUER
    )
    await create_topics(infra, settings.topics)
    app = create_app(settings)
    official = identity.headers("cb-1", ["UBND-X-YENHOA"], audience="reporting")
    operator = identity.headers("ops-1", roles=["operator"], audience="reporting")
    async with running(app) as client:
        assert (await client.post("/v1/projections/rebuild")).status_code == 401
        refused = await client.post("/v1/projections/rebuild", headers=official)
        assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
        assert app.state.reporting.rebuilder.status is None  # nothing was started
        assert (await client.get("/v1/metrics/summary")).status_code == 200
        # Its status too is an operator's: a failure names tables and the database's error.
        assert (await client.get("/v1/projections/rebuild")).status_code == 401
        assert (await client.get("/v1/projections/rebuild", headers=official)).status_code == 403
        params = {"wait": "true", "timeout": "60"}
        done = await client.post("/v1/projections/rebuild", params=params, headers=operator)
        assert done.status_code == 200 and done.json()["rebuild"]["state"] == "succeeded", done.text
        assert (await client.get("/v1/projections/rebuild", headers=operator)).json()["rebuild"]["state"] == "succeeded"


async def test_a_history_with_events_this_build_cannot_read_is_not_swapped_in(infra: Infra) -> None:
    """Rebuilt without them, the read model lost for good any event a newer replica had applied (its
    inbox said so, and nothing would apply it again): the rebuild fails and the live tables stay."""
    settings = settings_for(ReportingSettings, infra, "rv" + secrets.token_hex(3))
    await create_topics(infra, settings.topics)
    app = create_app(settings)
    async with running(app) as client:
        history = scenario.build().all()
        newer = history[0].model_copy(update={"version": 99, "event_id": history[0].event_id.__class__(int=1)})
        await publish(infra.bootstrap_servers, settings.topics, history)
        await publish_raw(infra.bootstrap_servers, settings.topics.intake_events, newer)

        async def projected() -> bool:
            return await projected_count(app) == len(history)

        await eventually(projected, timeout=30)
        before = await numbers(client)
        response = await client.post("/v1/projections/rebuild", params={"wait": "true", "timeout": "60"})
        status = response.json()["rebuild"]
        assert status["state"] == "failed"
        assert "1 events are of types or versions this build cannot read" in status["error"]
        assert await numbers(client) == before


async def test_a_rebuild_cancelled_by_shutdown_says_it_failed(infra: Infra) -> None:
    """Cancelled (the service stopping), its status stayed 'running' and its metric counted a rebuild
    in state 'running'."""
    settings = settings_for(ReportingSettings, infra, "rx" + secrets.token_hex(3), rebuild_batch_size=2)
    await create_topics(infra, settings.topics)
    app = create_app(settings)
    async with running(app) as client:
        history = [e for k in range(6) for e in scenario.build(f"x{k}-").all()]  # to cancel mid-replay
        await publish(infra.bootstrap_servers, settings.topics, history)

        async def projected() -> bool:
            return await projected_count(app) == len(history)

        await eventually(projected, timeout=60)
        before = await numbers(client)
        rebuilder = app.state.reporting.rebuilder
        status = rebuilder.start()

        async def replaying() -> bool:
            return status.phase == "replaying" or status.state != "running"

        await eventually(replaying, timeout=30)
        rebuilder._task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await rebuilder._task
        assert (status.state, status.error) == ("failed", "cancelled: the service stopped")
        assert await numbers(client) == before

"""A minimal service in-process: readiness reflects its dependencies, bad input never gives a 500."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import make_url, text

from intake.bootstrap import create_app
from intake.settings import IntakeSettings
from tests.support.infra import Infra
from tests.support.kafka import eventually
from tests.support.services import create_topics, running, settings_for, until_ready
from tests.unit.intake.samples import criminal_record_dossier

pytestmark = pytest.mark.integration


async def test_ready_once_database_and_broker_answer(infra: Infra, unique: str) -> None:
    settings = settings_for(IntakeSettings, infra, unique)
    await create_topics(infra, settings.topics)
    app = create_app(settings)
    async with running(app) as client:
        assert (await client.get("/healthz")).json() == {"status": "alive"}
        await until_ready(client, timeout=20)
        body = (await client.get("/readyz")).json()
        assert body["status"] == "ready"
        assert body["checks"]["database"] == "ok"
        assert body["checks"]["broker"] == "ok"
        async with app.state.runtime.engine.connect() as conn:
            tables = set(
                (
                    await conn.execute(
                        text("SELECT tablename FROM pg_tables WHERE schemaname = :s"), {"s": settings.schema_name}
                    )
                ).scalars()
            )
        assert {"events", "outbox", "inbox", "dead_letters", "schema_migrations"} <= tables


async def test_every_service_serves_its_runtime_metrics(infra: Infra, unique: str) -> None:
    settings = settings_for(IntakeSettings, infra, unique)
    await create_topics(infra, settings.topics)
    async with running(create_app(settings)) as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert 'outbox_published_messages_total{service="intake"}' in response.text
    assert 'consumer_events_total{consumer="intake.tracking",outcome="processed",service="intake"}' in response.text


async def test_not_ready_without_a_broker_but_ready_to_serve_its_api(infra: Infra, unique: str) -> None:
    """Without a broker the service is not fully ready (monitoring sees why), but its API serves:
    a submission waits in the outbox. A load balancer probing the full /readyz would have taken the
    portal's API down with the broker; its probe excludes the broker and the consumers."""
    settings = settings_for(IntakeSettings, infra, unique, kafka_bootstrap_servers="127.0.0.1:1")
    async with running(create_app(settings)) as client:
        response = await client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["checks"]["database"] == "ok"
        assert response.json()["checks"]["broker"] != "ok"
        serving = await client.get("/readyz", params={"exclude": ["broker", "consumer"]})
        assert serving.status_code == 200 and serving.json()["status"] == "ready"
        assert serving.json()["checks"]["broker"] != "ok"  # still reported, not judged by
        assert (await client.post("/v1/dossiers", json=criminal_record_dossier())).status_code == 201
        assert (await client.get("/readyz", params={"exclude": "consumer"})).status_code == 503  # the broker counts


async def test_oversized_bodies_get_413(infra: Infra, unique: str) -> None:
    settings = settings_for(IntakeSettings, infra, unique)
    async with running(create_app(settings)) as client:
        response = await client.post("/v1/anything", content=b"x" * 2_000_001)
        assert response.status_code == 413
        assert response.json()["error"] == "body_too_large"


async def test_a_service_started_while_postgresql_is_starting_up_waits_for_it(infra: Infra, unique: str) -> None:
    """Compose and Kubernetes start the services and the database together: for a while the server
    answers every connection with 57P03 "the database system is starting up" (then, here, refuses
    them), and the service must wait through both rather than crash."""
    real = make_url(infra.database_url)
    answered: list[str] = []

    async def starting_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        header = await reader.readexactly(8)
        if header[4:] == SSL_REQUEST:
            writer.write(b"N")  # no TLS; the startup message follows
            header = await reader.readexactly(8)
        await reader.readexactly(int.from_bytes(header[:4], "big") - 8)
        fields = b"SFATAL\0VFATAL\0C57P03\0Mthe database system is starting up\0\0"
        writer.write(b"E" + (len(fields) + 4).to_bytes(4, "big") + fields)
        await writer.drain()
        writer.close()
        answered.append("57P03")

    server = await asyncio.start_server(starting_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = settings_for(
        IntakeSettings, infra, unique, database_url=real.set(port=port).render_as_string(hide_password=False)
    )
    runtime = create_app(settings).state.runtime
    starting = asyncio.create_task(runtime.start(database_wait_seconds=30))
    try:
        await eventually(lambda: _answered(answered, 2), timeout=10)
        server.close()
        await server.wait_closed()  # now the port refuses connections

        async def forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            upstream_reader, upstream_writer = await asyncio.open_connection(real.host, real.port)
            await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))

        await asyncio.sleep(1.5)
        assert not starting.done(), "the service gave up instead of waiting"
        server = await asyncio.start_server(forward, "127.0.0.1", port)  # the database is up
        await asyncio.wait_for(starting, timeout=20)
    finally:
        starting.cancel()
        await runtime.stop()
        server.close()


SSL_REQUEST = (80877103).to_bytes(4, "big")


async def _answered(answered: list[str], n: int) -> bool:
    return len(answered) >= n


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()

"""A minimal service in-process: readiness reflects its dependencies, bad input never gives a 500."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from intake.bootstrap import create_app
from intake.settings import IntakeSettings
from tests.support.infra import Infra
from tests.support.kafka import eventually
from tests.support.services import create_topics, running, settings_for

pytestmark = pytest.mark.integration


async def test_ready_once_database_and_broker_answer(infra: Infra, unique: str) -> None:
    settings = settings_for(IntakeSettings, infra, unique)
    await create_topics(infra, settings.topics)
    app = create_app(settings)
    async with running(app) as client:
        assert (await client.get("/healthz")).json() == {"status": "alive"}

        async def ready() -> bool:
            return (await client.get("/readyz")).status_code == 200

        await eventually(ready, timeout=20)
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


async def test_not_ready_without_a_broker(infra: Infra, unique: str) -> None:
    settings = settings_for(IntakeSettings, infra, unique, kafka_bootstrap_servers="127.0.0.1:1")
    async with running(create_app(settings)) as client:
        response = await client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["checks"]["database"] == "ok"
        assert response.json()["checks"]["broker"] != "ok"


async def test_oversized_bodies_get_413(infra: Infra, unique: str) -> None:
    settings = settings_for(IntakeSettings, infra, unique)
    async with running(create_app(settings)) as client:
        response = await client.post("/v1/anything", content=b"x" * 2_000_001)
        assert response.status_code == 413
        assert response.json()["error"] == "body_too_large"

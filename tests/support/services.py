"""Running a service in-process against the real servers, isolated from other tests: its own
schema, its own copies of the topics and its own consumer groups."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TypeVar

import httpx
from fastapi import FastAPI

from contracts.topics import Topics
from eventkit.kafka import ensure_topics
from eventkit.settings import ServiceSettings
from tests.support.infra import Infra
from tests.support.kafka import eventually

S = TypeVar("S", bound=ServiceSettings)


def isolated_topics(unique: str) -> Topics:
    """The four topics, suffixed so that one test's events never reach another's consumers."""
    base = Topics()
    return Topics(**{field: f"{getattr(base, field)}.{unique}" for field in Topics.model_fields})


async def create_topics(infra: Infra, topics: Topics, partitions: int = 3) -> None:
    await ensure_topics(infra.bootstrap_servers, topics.all_with_dead_letters(), partitions=partitions)


def settings_for(settings_cls: type[S], infra: Infra, unique: str, **overrides: object) -> S:
    """Settings of ``settings_cls`` pointing at the test servers, in a schema and topics of the test's own."""
    values: dict[str, object] = {
        "environment": "test",
        "database_url": infra.database_url,
        "kafka_bootstrap_servers": infra.bootstrap_servers,
        "db_schema": f"{settings_cls.service_name.replace('-', '_')}_{unique}",
        "topics": isolated_topics(unique),
        "consumer_group_prefix": f"{unique}.",
        "consumer_session_timeout_ms": 2000,  # the Tansu broker accepts short sessions: quick joins
        "consumer_heartbeat_ms": 500,
        "relay_poll_seconds": 0.02,
    }
    values.update(overrides)
    return settings_cls(**values)


@contextlib.asynccontextmanager
async def running(app: FastAPI, base_url: str = "http://service") -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan (runtime start/stop) and give an HTTP client talking to it in-process."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield client


async def until_ready(client: httpx.AsyncClient, timeout: float = 30) -> None:
    """Wait until the service behind ``client`` answers /readyz with 200 (its consumers have joined)."""

    async def ready() -> bool:
        return (await client.get("/readyz")).status_code == 200

    await eventually(ready, timeout=timeout)

"""Registry-sync against the real servers and the registry simulator on a real loopback HTTP
port (so timeouts are real), with fast retry, breaker and poll settings."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from contracts.envelope import Envelope
from eventkit.kafka import KafkaPublisher
from eventkit.outbox import to_message
from registry_sim import SimulatorSettings
from registry_sim import create_app as create_simulator
from registry_sync.bootstrap import create_app
from registry_sync.settings import DEFAULT_PATHS, ExternalSystemSettings, RegistrySyncSettings
from tests.support.infra import Infra
from tests.support.kafka import eventually, read_topic
from tests.support.services import create_topics, running, settings_for, until_ready


@dataclass
class Simulator:
    url: str
    admin: httpx.AsyncClient

    async def counters(self, system: str) -> dict[str, Any]:
        response = await self.admin.get(f"/admin/counters/{system}")
        assert response.status_code == 200
        result: dict[str, Any] = response.json()
        return result

    async def faults(self, system: str | None = None, **config: Any) -> None:
        path = f"/admin/faults/{system}" if system else "/admin/faults"
        response = await self.admin.patch(path, json=config)
        assert response.status_code == 200, response.text

    async def heal(self) -> None:
        assert (await self.admin.delete("/admin/faults")).status_code == 200

    async def seed_citizen(self, id_number: str) -> None:
        body = {
            "full_name": "Trần Văn An",
            "sex": "male",
            "date_of_birth": "1985-03-02",
            "birth_province_code": "036",
            "id_number": id_number,
        }
        response = await self.admin.post("/admin/population/citizens", json=body)
        assert response.status_code == 201, response.text

    async def portal_dossiers(self) -> dict[str, dict[str, Any]]:
        response = await self.admin.get("/admin/records/national_portal/dossiers")
        return {d["code"]: d for d in response.json()}


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    """A fresh simulator on its own loopback port."""
    app = create_simulator(SimulatorSettings(seed=17))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))

    async def started() -> bool:
        return server.started

    await eventually(started, timeout=10)
    async with httpx.AsyncClient(base_url=url, timeout=5) as admin:
        yield Simulator(url, admin)
    server.should_exit = True
    await asyncio.wait_for(task, timeout=10)
    sock.close()


def fast_settings(infra: Infra, unique: str, simulator: Simulator, **overrides: Any) -> RegistrySyncSettings:
    read_timeout = overrides.pop("read_timeout_seconds", 2.0)
    systems = {
        name: ExternalSystemSettings(read_timeout_seconds=read_timeout, connect_timeout_seconds=1.0)
        for name in DEFAULT_PATHS
    }
    values: dict[str, Any] = {
        "registries_url": simulator.url,
        "retry_base_seconds": 0.02,
        "retry_max_delay_seconds": 0.2,
        "retry_max_attempts": 200,
        "breaker_failure_threshold": 3,
        "breaker_cooldown_seconds": 0.3,
        "worker_poll_seconds": 0.02,
        "reconciliation_interval_seconds": 0,
        # One process, one clock: a dossier the portal lost a moment after its push is judged at once.
        "reconciliation_clock_skew_seconds": 0,
        # These tests publish commands without their dossiers' submissions: nothing to wait for.
        "dossier_wait_seconds": 0,
        **systems,
        **overrides,
    }
    return settings_for(RegistrySyncSettings, infra, unique, **values)


@dataclass
class RunningService:
    settings: RegistrySyncSettings
    client: httpx.AsyncClient
    app: FastAPI
    publisher: KafkaPublisher
    bootstrap: str

    async def publish(self, topic: str, envelopes: Iterable[Envelope]) -> None:
        await self.publisher.publish([to_message(topic, e) for e in envelopes])

    async def outcomes(self, done: Callable[[list[Envelope]], bool], *, timeout: float = 20.0) -> list[Envelope]:
        """Everything registry-sync published on registry.events, once ``done`` says it is all there."""

        async def everything() -> list[Envelope] | None:
            records = await read_topic(self.bootstrap, self.settings.topics.registry_events, expect=10**9, timeout=1.0)
            envelopes = [Envelope.from_json(r.value) for r in records]
            return envelopes if done(envelopes) else None

        result: list[Envelope] = await eventually(everything, timeout=timeout, interval=0.1)
        return result

    async def status(self) -> dict[str, Any]:
        response = await self.client.get("/v1/sync/status")
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result


@contextlib.asynccontextmanager
async def registry_sync(
    infra: Infra, unique: str, simulator: Simulator, **overrides: Any
) -> AsyncIterator[RunningService]:
    settings = fast_settings(infra, unique, simulator, **overrides)
    await create_topics(infra, settings.topics)
    app = create_app(settings)
    publisher = KafkaPublisher(infra.bootstrap_servers, client_id=f"tests-{unique}")
    async with running(app) as client:
        await until_ready(client)
        try:
            yield RunningService(settings, client, app, publisher, infra.bootstrap_servers)
        finally:
            await publisher.stop()

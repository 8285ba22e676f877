"""Fixtures for registry-sync unit tests: the registry simulator in-process (through httpx's ASGI
transport, no network) with "today" fixed, and clients of it as registry-sync builds them."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from contracts import citizen_id
from registry_sim import SimulatorSettings, create_app
from registry_sim.state import VIETNAM
from registry_sync.adapters.http_client import ExternalHttpClient
from registry_sync.adapters.memory import InMemoryRegistry
from registry_sync.service_layer.portal_sync import PortalPusher
from registry_sync.settings import RegistrySyncSettings
from tests.unit.registry_sync.fakes import Clock, FakePortal, guards

NOW = datetime(2024, 7, 15, 10, 30, tzinfo=VIETNAM)
SIM = "http://registry-sim"


@pytest.fixture
def simulator() -> FastAPI:
    return create_app(SimulatorSettings(seed=11), clock=lambda: NOW)


@pytest.fixture
async def admin(simulator: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=simulator), base_url=SIM) as client:
        yield client


@pytest.fixture
async def clients(simulator: FastAPI) -> AsyncIterator[dict[str, ExternalHttpClient]]:
    """One client per external system, configured as the service configures them by default."""
    settings = RegistrySyncSettings(registries_url=SIM)
    made = {
        name: ExternalHttpClient(name, s, settings.base_url(name), transport=httpx.ASGITransport(app=simulator))
        for name, s in settings.systems().items()
    }
    yield made
    for client in made.values():
        await client.aclose()


@pytest.fixture
def rng() -> random.Random:
    return random.Random(5)


def person_number(rng: random.Random, *, sex: str = "male", year: int = 1985, province: str = "036") -> str:
    return citizen_id.generate(province, sex, year, rng)


async def seed_citizen(admin: httpx.AsyncClient, rng: random.Random, *, residence: bool = False) -> dict[str, Any]:
    """Someone the population database already knows (optionally with a permanent residence)."""
    body: dict[str, Any] = {
        "full_name": "Trần Văn An",
        "sex": "male",
        "date_of_birth": "1950-03-02",
        "birth_province_code": "036",
        "id_number": person_number(rng, year=1950),
    }
    if residence:
        body["permanent_residence"] = {"address": "Số 3 phố Hàng Bè", "province_code": "036"}
    response = await admin.post("/admin/population/citizens", json=body)
    assert response.status_code == 201, response.text
    citizen: dict[str, Any] = response.json()
    return citizen


async def counters(admin: httpx.AsyncClient, system: str) -> dict[str, Any]:
    response = await admin.get(f"/admin/counters/{system}")
    assert response.status_code == 200
    result: dict[str, Any] = response.json()
    return result


@pytest.fixture
def registry() -> InMemoryRegistry:
    return InMemoryRegistry()


@pytest.fixture
def portal() -> FakePortal:
    return FakePortal()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def pusher(registry: InMemoryRegistry, portal: FakePortal, clock: Clock) -> PortalPusher:
    """The portal worker over the in-memory registry and portal, publishing on registry.events."""
    return PortalPusher(
        registry.unit_of_work, portal, guards(), lambda p, k: k, "registry.events", clock, rand=lambda: 1.0
    )

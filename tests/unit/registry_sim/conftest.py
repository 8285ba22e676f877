"""A fresh simulator per test, driven in-process through httpx's ASGI transport (no network),
with "today" fixed so age and date rules give the same answers every day."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from registry_sim import SimulatorSettings, create_app
from registry_sim.state import VIETNAM

NOW = datetime(2024, 7, 15, 10, 30, tzinfo=VIETNAM)

Effects = Callable[[str], Awaitable[dict[str, int]]]


@pytest.fixture
def app() -> FastAPI:
    return create_app(SimulatorSettings(seed=7), clock=lambda: NOW)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://registry-sim") as client:
        yield client


@pytest.fixture
def effects(client: httpx.AsyncClient) -> Effects:
    """The effect counters of one system, through the admin API."""

    async def read(system: str) -> dict[str, int]:
        response = await client.get(f"/admin/counters/{system}")
        assert response.status_code == 200
        counts: dict[str, int] = response.json()["effects"]
        return counts

    return read


@pytest.fixture
def newborn() -> dict[str, Any]:
    return {
        "full_name": "Trần Thị Bình",
        "sex": "female",
        "date_of_birth": "2024-07-10",
        "birth_province_code": "036",
    }


@pytest.fixture
def dossier() -> dict[str, Any]:
    return {
        "code": "000.00.12.H40-240710-0001",
        "procedure_code": "2.000986",
        "agency_code": "000.00.12.H40",
        "channel": 2,
        "state": 2,
        "applicant": {"full_name": "Trần Văn Cường", "id_number": "036090001234"},
        "submitted_at": "20240710083000",
        "received_at": "20240710090000",
        "appointment_at": "20240712170000",
        "documents": [{"name": "Tờ khai đăng ký khai sinh", "digitised": True}],
        "fees": [{"name": "Lệ phí", "amount_vnd": 0}],
        "history": [
            {
                "official": "Nguyễn Thị Lan",
                "title": "Công chức tư pháp - hộ tịch",
                "at": "20240710090000",
                "content": "Tiếp nhận hồ sơ",
                "state": 2,
                "step_deadline": "20240710170000",
            }
        ],
        "national_databases": ["population"],
    }


def assert_field_error(response: httpx.Response, status: int, field: str) -> dict[str, Any]:
    """The response is a ``status`` error that names ``field``; returns its body."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    named = {body["field"], *(item["field"] for item in body["detail"])}
    assert field in named, body
    return body


@pytest.fixture
def field_error() -> Callable[[httpx.Response, int, str], dict[str, Any]]:
    return assert_field_error

"""Fault knobs: outage, error rate and mix, latency; a failed call never has an effect."""

from __future__ import annotations

import time
from typing import Any

import pytest
from httpx import AsyncClient

from registry_sim import SimulatorSettings, create_app

CITIZENS = "/population/v1/citizens"
DOSSIERS = "/portal/v1/dossiers"


async def test_an_outage_answers_503_without_effect_and_recovers(
    client: AsyncClient, dossier: dict[str, Any], newborn: dict[str, Any], effects: Any
) -> None:
    configured = await client.patch("/admin/faults/national_portal", json={"outage": True})
    assert configured.status_code == 200 and configured.json()["outage"] is True
    down = await client.post(DOSSIERS, json=dossier)
    assert down.status_code == 503 and down.json()["error"] == "service_unavailable"
    assert (await client.get(DOSSIERS)).status_code == 503  # reads fail too
    assert (await client.post(CITIZENS, json=newborn)).status_code == 201  # other systems unaffected
    assert (await client.get("/admin/records/national_portal")).json() == {}
    assert await effects("national_portal") == {}

    await client.patch("/admin/faults/national_portal", json={"outage": False})
    assert (await client.post(DOSSIERS, json=dossier)).status_code == 201
    counters = (await client.get("/admin/counters/national_portal")).json()
    assert counters["faults"] == {"503": 2} and counters["effects"] == {"create_dossier": 1}


async def test_a_total_outage_spares_the_admin_api(client: AsyncClient, newborn: dict[str, Any]) -> None:
    everything = await client.patch("/admin/faults", json={"outage": True})
    assert all(config["outage"] for config in everything.json().values())
    assert (await client.post(CITIZENS, json=newborn)).status_code == 503
    assert (await client.get("/admin/counters")).status_code == 200
    assert (await client.get("/healthz")).status_code == 200
    await client.delete("/admin/faults")
    assert (await client.post(CITIZENS, json=newborn)).status_code == 201


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_the_error_mix_picks_the_status(client: AsyncClient, newborn: dict[str, Any], status: int) -> None:
    await client.put("/admin/faults/population_db", json={"error_rate": 1.0, "error_mix": {str(status): 1}})
    response = await client.post(CITIZENS, json=newborn)
    assert response.status_code == status and response.json()["message"] == "simulated fault"


async def test_429_carries_retry_after(client: AsyncClient, newborn: dict[str, Any]) -> None:
    config = {"error_rate": 1.0, "error_mix": {"429": 1}, "retry_after_seconds": 7}
    await client.put("/admin/faults/population_db", json=config)
    response = await client.post(CITIZENS, json=newborn)
    assert response.status_code == 429 and response.headers["Retry-After"] == "7"


async def test_an_error_rate_fails_about_that_share_and_only_successes_take_effect(
    client: AsyncClient, newborn: dict[str, Any], effects: Any
) -> None:
    mix = {"503": 2, "500": 1, "429": 1}
    await client.patch("/admin/faults/population_db", json={"error_rate": 0.3, "error_mix": mix})
    answers = [(await client.post(CITIZENS, json=newborn)).status_code for _ in range(300)]
    successes = answers.count(201)
    assert 0.2 < 1 - successes / 300 < 0.4
    assert set(answers) == {201, 503, 500, 429}
    assert await effects("population_db") == {"assign_id_number": successes}
    stored = (await client.get("/admin/records/population_db/citizens")).json()
    assert len(stored) == successes


async def test_latency_and_jitter_delay_calls(client: AsyncClient) -> None:
    await client.patch("/admin/faults/national_portal", json={"latency_ms": 30, "jitter_ms": 10})
    started = time.perf_counter()
    assert (await client.get(DOSSIERS)).status_code == 200
    elapsed = time.perf_counter() - started
    assert 0.03 <= elapsed < 1.0


async def test_bad_knobs_are_rejected_by_name(client: AsyncClient, field_error: Any) -> None:
    field_error(await client.patch("/admin/faults/population_db", json={"error_rate": 1.5}), 422, "error_rate")
    field_error(await client.patch("/admin/faults", json={"latency_ms": -1}), 422, "latency_ms")
    field_error(
        await client.put("/admin/faults/population_db", json={"error_mix": {"404": 1}}), 422, "error_mix.404.[key]"
    )
    field_error(await client.patch("/admin/faults/population_db", json={"error_mix": {"503": 0}}), 422, "error_mix")
    field_error(await client.patch("/admin/faults/population_db", json={"outgae": True}), 422, "outgae")
    field_error(await client.get("/admin/faults/registry"), 422, "system")
    # Nothing half-applied by the rejected "all systems" patch.
    assert all(c["latency_ms"] == 0 for c in (await client.get("/admin/faults")).json().values())


async def test_faults_can_be_configured_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, newborn: dict[str, Any]
) -> None:
    monkeypatch.setenv("REGISTRY_SIM_FAULTS", '{"population_db": {"outage": true}}')
    monkeypatch.setenv("REGISTRY_SIM_PORT", "18009")
    settings = SimulatorSettings()
    assert settings.port == 18009 and settings.host == "127.0.0.1"
    from httpx import ASGITransport

    async with AsyncClient(transport=ASGITransport(app=create_app(settings)), base_url="http://sim") as client:
        assert (await client.post(CITIZENS, json=newborn)).status_code == 503
        await client.post("/admin/reset")  # a reset restores the configured faults
        assert (await client.post(CITIZENS, json=newborn)).status_code == 503

"""Idempotency keys: one effect per key, the first answer replayed, a reused key with another body refused."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from httpx import AsyncClient

from registry_sim.idempotency import IdempotencyStore, StoredAnswer

CITIZENS = "/population/v1/citizens"


def key(value: str) -> dict[str, str]:
    return {"Idempotency-Key": value}


async def test_the_same_key_twice_has_one_effect(client: AsyncClient, newborn: dict[str, Any], effects: Any) -> None:
    first = await client.post(CITIZENS, json=newborn, headers=key("birth-1"))
    second = await client.post(CITIZENS, json=newborn, headers=key("birth-1"))
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert await effects("population_db") == {"assign_id_number": 1}
    counters = (await client.get("/admin/counters/population_db")).json()
    assert counters["calls"] == 2 and counters["replays"] == 1


async def test_without_a_key_a_retry_acts_twice(client: AsyncClient, newborn: dict[str, Any], effects: Any) -> None:
    first = (await client.post(CITIZENS, json=newborn)).json()
    second = (await client.post(CITIZENS, json=newborn)).json()
    assert first["id_number"] != second["id_number"]
    assert await effects("population_db") == {"assign_id_number": 2}


async def test_a_key_reused_for_another_body_is_a_conflict(
    client: AsyncClient, newborn: dict[str, Any], effects: Any, field_error: Any
) -> None:
    await client.post(CITIZENS, json=newborn, headers=key("k"))
    other = await client.post(CITIZENS, json={**newborn, "sex": "male"}, headers=key("k"))
    assert field_error(other, 409, "Idempotency-Key")["error"] == "idempotency_key_reused"
    await client.post(f"{CITIZENS}/036324001234/permanent-residence", json={}, headers=key("k"))
    assert await effects("population_db") == {"assign_id_number": 1}


async def test_the_key_covers_the_path_and_is_scoped_per_system(
    client: AsyncClient, newborn: dict[str, Any], dossier: dict[str, Any], field_error: Any
) -> None:
    numbers = [(await client.post(CITIZENS, json=newborn)).json()["id_number"] for _ in range(2)]
    address = {"address": "1 Lê Lợi", "province_code": "036"}
    ok = await client.post(f"{CITIZENS}/{numbers[0]}/permanent-residence", json=address, headers=key("r"))
    assert ok.status_code == 201
    other_path = await client.post(f"{CITIZENS}/{numbers[1]}/permanent-residence", json=address, headers=key("r"))
    field_error(other_path, 409, "Idempotency-Key")
    assert (await client.post("/portal/v1/dossiers", json=dossier, headers=key("r"))).status_code == 201


async def test_rejected_and_faulted_calls_do_not_burn_the_key(
    client: AsyncClient, newborn: dict[str, Any], effects: Any
) -> None:
    bad = await client.post(CITIZENS, json={**newborn, "date_of_birth": "2030-01-01"}, headers=key("k"))
    assert bad.status_code == 422
    await client.patch("/admin/faults/population_db", json={"error_rate": 1.0})
    assert (await client.post(CITIZENS, json=newborn, headers=key("k"))).status_code == 503
    await client.delete("/admin/faults")
    assert (await client.post(CITIZENS, json=newborn, headers=key("k"))).status_code == 201
    assert await effects("population_db") == {"assign_id_number": 1}


async def test_concurrent_retries_with_one_key_act_once(
    client: AsyncClient, newborn: dict[str, Any], effects: Any
) -> None:
    await client.patch("/admin/faults/population_db", json={"latency_ms": 2, "jitter_ms": 3})
    answers = await asyncio.gather(*(client.post(CITIZENS, json=newborn, headers=key("same")) for _ in range(10)))
    assert {a.json()["id_number"] for a in answers} == {answers[0].json()["id_number"]}
    assert await effects("population_db") == {"assign_id_number": 1}


async def test_a_timeout_after_the_effect_is_repaired_by_retrying_with_the_key(
    client: AsyncClient, dossier: dict[str, Any], effects: Any
) -> None:
    await client.patch(
        "/admin/faults/national_portal", json={"timeout_after_effect_rate": 1.0, "timeout_after_effect_ms": 5000}
    )
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(client.post("/portal/v1/dossiers", json=dossier, headers=key("sync-1")), 0.05)
    # The caller saw a failure, yet the portal has the dossier.
    assert (await client.get(f"/portal/v1/dossiers/{dossier['code']}")).status_code == 200
    await client.patch("/admin/faults/national_portal", json={"timeout_after_effect_rate": 0.0})
    retry = await client.post("/portal/v1/dossiers", json=dossier, headers=key("sync-1"))
    assert retry.status_code == 201 and retry.headers["Idempotent-Replayed"] == "true"
    assert await effects("national_portal") == {"create_dossier": 1}
    assert (await client.get("/admin/counters/national_portal")).json()["late_answers"] == 1


async def test_a_replay_returns_the_first_answer_even_after_the_record_changed(
    client: AsyncClient, newborn: dict[str, Any]
) -> None:
    first = (await client.post(CITIZENS, json=newborn, headers=key("b"))).json()
    address = {"address": "1 Lê Lợi", "province_code": "036"}
    await client.post(f"{CITIZENS}/{first['id_number']}/permanent-residence", json=address)
    replay = (await client.post(CITIZENS, json=newborn, headers=key("b"))).json()
    assert replay == first and replay["permanent_residence"] is None


async def test_a_malformed_key_is_rejected_by_name(
    client: AsyncClient, newborn: dict[str, Any], field_error: Any
) -> None:
    field_error(await client.post(CITIZENS, json=newborn, headers=key("has space")), 422, "Idempotency-Key")
    field_error(await client.post(CITIZENS, json=newborn, headers=key("x" * 256)), 422, "Idempotency-Key")


def test_each_system_keeps_its_own_keys() -> None:
    """One shared store let the portal's keys (a new one per revision) push out a registry's: a
    retry of a paid allowance then met 'already paid', a refusal, instead of the first answer."""
    store = IdempotencyStore(capacity=2)
    paid = StoredAnswer("f", 201, {"payment_id": "TCMT-00000001"})
    store.remember("social_insurance", "c1", paid)
    for revision in range(5):
        store.remember("national_portal", f"d1:r{revision}", StoredAnswer("g", 200, {}))
    assert store.get("social_insurance", "c1") == paid
    assert store.get("national_portal", "d1:r0") is None  # each system still forgets its oldest
    assert len(store) == 3

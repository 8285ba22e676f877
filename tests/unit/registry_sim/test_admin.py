"""Health, reset, counters, stored records, and the tampering reconciliation tests rely on."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient

CITIZENS = "/population/v1/citizens"
DOSSIERS = "/portal/v1/dossiers"


async def test_health_endpoints(client: AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "alive"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}
    schema = (await client.get("/openapi.json")).json()
    assert "/portal/v1/dossiers/{code}" in schema["paths"]


async def test_unknown_routes_and_methods_answer_json(client: AsyncClient, field_error: Any) -> None:
    missing = await client.get("/population/v2/citizens")
    # not "not_found": that says a record is missing
    assert missing.status_code == 404 and missing.json()["error"] == "no_such_route"
    wrong = await client.delete(CITIZENS)
    assert wrong.status_code == 405 and wrong.json()["error"] == "method_not_allowed"
    broken = await client.post(CITIZENS, content=b"{not json", headers={"Content-Type": "application/json"})
    field_error(broken, 422, "body")
    field_error(await client.post(CITIZENS, json=[1, 2]), 422, "body")


async def test_reset_forgets_everything_and_reseeds(
    client: AsyncClient, newborn: dict[str, Any], dossier: dict[str, Any]
) -> None:
    first = (await client.post(CITIZENS, json=newborn, headers={"Idempotency-Key": "a"})).json()
    await client.post(DOSSIERS, json=dossier)
    await client.patch("/admin/faults/social_welfare", json={"latency_ms": 5})
    assert (await client.post("/admin/reset")).json() == {"status": "reset", "seed": 7}

    assert (await client.get("/admin/records")).json() == {
        s: {} for s in ("population_db", "civil_status", "social_insurance", "social_welfare", "national_portal")
    }
    counters = (await client.get("/admin/counters")).json()
    assert counters["idempotency_keys"] == 0
    assert all(c["calls"] == 0 and c["effects"] == {} for c in counters["systems"].values())
    assert (await client.get("/admin/faults/social_welfare")).json()["latency_ms"] == 0
    again = (await client.post(CITIZENS, json=newborn, headers={"Idempotency-Key": "a"})).json()
    assert again["id_number"] == first["id_number"]  # same seed, same numbers; the key was forgotten


async def test_reset_can_keep_faults_and_take_a_new_seed(client: AsyncClient) -> None:
    await client.patch("/admin/faults/social_welfare", json={"latency_ms": 5})
    answer = await client.post("/admin/reset", params={"seed": 11, "keep_faults": True})
    assert answer.json()["seed"] == 11
    assert (await client.get("/admin/faults/social_welfare")).json()["latency_ms"] == 5


async def test_records_can_be_read_lost_and_rolled_back(
    client: AsyncClient, dossier: dict[str, Any], field_error: Any
) -> None:
    await client.post(DOSSIERS, json=dossier)
    stored = (await client.get("/admin/records/national_portal/dossiers")).json()
    assert [d["code"] for d in stored] == [dossier["code"]]

    record = f"/admin/records/national_portal/dossiers/{dossier['code']}"
    rolled_back = await client.patch(record, json={"state": 1})
    assert rolled_back.status_code == 200
    assert (await client.get(f"{DOSSIERS}/{dossier['code']}")).json()["state"] == 1

    assert (await client.delete(record)).status_code == 204
    assert (await client.get(f"{DOSSIERS}/{dossier['code']}")).status_code == 404
    field_error(await client.delete(record), 404, "key")
    assert (await client.get("/admin/records/national_portal/nothing")).json() == []
    counters = (await client.get("/admin/counters/national_portal")).json()
    assert counters["effects"] == {"create_dossier": 1}


def seed(number: str, name: str, born: str, **extra: Any) -> dict[str, Any]:
    return {"id_number": number, "full_name": name, "sex": "male", "date_of_birth": born,
            "birth_province_code": "036", **extra}  # fmt: skip


async def test_a_batch_of_people_is_seeded_at_once_known_ones_left_alone(client: AsyncClient, field_error: Any) -> None:
    home = {"address": "Thôn Hải Nạp, xã Yên Hòa", "province_code": "036"}
    first = [seed("036085000001", "Trần Văn An", "1985-03-02", permanent_residence=home),
             seed("036090000002", "Lê Văn Bình", "1990-01-01")]  # fmt: skip
    answer = await client.post("/admin/population/citizens/batch", json=first)
    assert (answer.status_code, answer.json()) == (200, {"seeded": 2, "known": 0})
    an = (await client.get(f"{CITIZENS}/036085000001")).json()
    assert an["permanent_residence"]["address"] == home["address"]
    again = await client.post(
        "/admin/population/citizens/batch", json=[first[0], seed("036070000003", "C", "1970-05-05")]
    )
    assert again.json() == {"seeded": 1, "known": 1}
    # All or nothing: a person the number contradicts (born 1985, not 1999) adds nobody.
    bad = [seed("036080000004", "D", "1980-01-01"), seed("036085000005", "E", "1999-01-01")]
    field_error(await client.post("/admin/population/citizens/batch", json=bad), 422, "1.id_number")
    assert (await client.get(f"{CITIZENS}/036080000004")).status_code == 404
    no_number = [{k: v for k, v in seed("036080000006", "F", "1980-01-01").items() if k != "id_number"}]
    field_error(await client.post("/admin/population/citizens/batch", json=no_number), 422, "0.id_number")

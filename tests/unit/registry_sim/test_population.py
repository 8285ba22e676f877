"""Population database: numbers at birth, permanent residence, look-up."""

from __future__ import annotations

from typing import Any

from httpx import ASGITransport, AsyncClient

from contracts import citizen_id
from registry_sim import SimulatorSettings, create_app

BASE = "/population/v1/citizens"
ADDRESS = {"address": "12 Trần Hưng Đạo, phường Bà Triệu", "province_code": "036"}


async def test_a_newborn_gets_a_valid_consistent_number(client: AsyncClient, newborn: dict[str, Any]) -> None:
    response = await client.post(BASE, json=newborn)
    assert response.status_code == 201
    citizen = response.json()
    number = citizen["id_number"]
    assert citizen_id.check_consistency(number, sex="female", birth_year=2024, province_code="036") == []
    assert citizen["status"] == "living" and citizen["permanent_residence"] is None
    looked_up = await client.get(f"{BASE}/{number}")
    assert looked_up.status_code == 200 and looked_up.json() == citizen


async def test_residence_is_registered_moved_and_deregistered_on_death(
    client: AsyncClient, newborn: dict[str, Any], effects: Any
) -> None:
    number = (await client.post(BASE, json=newborn)).json()["id_number"]
    first = await client.post(f"{BASE}/{number}/permanent-residence", json=ADDRESS)
    assert first.status_code == 201 and first.json()["status"] == "active"
    moved = await client.post(f"{BASE}/{number}/permanent-residence", json={**ADDRESS, "address": "5 Lê Lợi"})
    assert moved.status_code == 201
    citizen = (await client.get(f"{BASE}/{number}")).json()
    assert citizen["permanent_residence"]["address"] == "5 Lê Lợi"
    assert [r["status"] for r in citizen["residence_history"]] == ["superseded"]

    ended = await client.post(f"{BASE}/{number}/permanent-residence/deregistration", json={"reason": "death"})
    assert ended.status_code == 200 and ended.json()["status"] == "deregistered"
    citizen = (await client.get(f"{BASE}/{number}")).json()
    assert citizen["status"] == "deceased" and citizen["permanent_residence"] is None
    assert await effects("population_db") == {
        "assign_id_number": 1,
        "register_permanent_residence": 2,
        "deregister_permanent_residence": 1,
    }


async def test_residence_rules_answer_409_naming_the_citizen(
    client: AsyncClient, newborn: dict[str, Any], field_error: Any
) -> None:
    number = (await client.post(BASE, json=newborn)).json()["id_number"]
    nothing = await client.post(f"{BASE}/{number}/permanent-residence/deregistration", json={"reason": "other"})
    assert field_error(nothing, 409, "id_number")["error"] == "no_permanent_residence"
    await client.post(f"{BASE}/{number}/permanent-residence", json=ADDRESS)
    await client.post(f"{BASE}/{number}/permanent-residence/deregistration", json={"reason": "death"})
    dead = await client.post(f"{BASE}/{number}/permanent-residence", json=ADDRESS)
    assert field_error(dead, 409, "id_number")["error"] == "citizen_deceased"


async def test_unknown_and_malformed_numbers(client: AsyncClient, field_error: Any) -> None:
    field_error(await client.get(f"{BASE}/001090000001"), 404, "id_number")
    field_error(await client.get(f"{BASE}/12345"), 422, "id_number")
    field_error(await client.post(f"{BASE}/003090000001/permanent-residence", json=ADDRESS), 422, "id_number")
    field_error(await client.post(f"{BASE}/001090000001/permanent-residence", json=ADDRESS), 404, "id_number")


async def test_bad_births_are_rejected_by_field(client: AsyncClient, newborn: dict[str, Any], field_error: Any) -> None:
    field_error(await client.post(BASE, json={**newborn, "date_of_birth": "2024-07-16"}), 422, "date_of_birth")
    field_error(await client.post(BASE, json={**newborn, "birth_province_code": "003"}), 422, "birth_province_code")
    field_error(await client.post(BASE, json={**newborn, "sex": "f"}), 422, "sex")
    field_error(await client.post(BASE, json={**newborn, "mother_id_number": "1"}), 422, "mother_id_number")
    field_error(await client.post(BASE, json={**newborn, "nickname": "Bi"}), 422, "nickname")
    field_error(await client.post(BASE, json={k: v for k, v in newborn.items() if k != "sex"}), 422, "sex")
    field_error(await client.post(f"{BASE}/001090000001/permanent-residence", json={}), 422, "address")


async def test_the_same_seed_assigns_the_same_numbers(newborn: dict[str, Any]) -> None:
    numbers = []
    for _ in range(2):
        app = create_app(SimulatorSettings(seed=99))
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://sim") as client:
            numbers.append([(await client.post(BASE, json=newborn)).json()["id_number"] for _ in range(3)])
    assert numbers[0] == numbers[1] and len(set(numbers[0])) == 3


async def test_admin_seeds_known_people_without_counting_an_effect(
    client: AsyncClient, effects: Any, field_error: Any
) -> None:
    person = {
        "id_number": "036058001234",
        "full_name": "Lê Văn Đức",
        "sex": "male",
        "date_of_birth": "1958-02-01",
        "birth_province_code": "036",
        "permanent_residence": ADDRESS,
    }
    seeded = await client.post("/admin/population/citizens", json=person)
    assert seeded.status_code == 201
    citizen = (await client.get(f"{BASE}/036058001234")).json()
    assert citizen["permanent_residence"]["address"] == ADDRESS["address"]
    assert await effects("population_db") == {}
    field_error(await client.post("/admin/population/citizens", json=person), 409, "id_number")
    wrong = {**person, "id_number": "036158001234"}  # encodes female
    field_error(await client.post("/admin/population/citizens", json=wrong), 422, "id_number")


async def test_a_number_issued_at_birth_registration_is_recorded_once(
    client: AsyncClient, newborn: dict[str, Any], effects: Any, field_error: Any
) -> None:
    issued = {**newborn, "id_number": "036324000777"}  # 036, female born in the 2000s, 2024
    first = await client.post(BASE, json=issued)
    assert first.status_code == 201 and first.json()["id_number"] == "036324000777"
    again = await client.post(BASE, json=issued)  # the same birth notified again, without a key
    assert again.status_code == 200 and again.json() == first.json()
    keyed = [await client.post(BASE, json=issued, headers={"Idempotency-Key": "birth-1"}) for _ in range(2)]
    assert [r.status_code for r in keyed] == [200, 200]
    assert keyed[1].headers["Idempotent-Replayed"] == "true"
    assert await effects("population_db") == {"assign_id_number": 1}

    someone_else = {**issued, "full_name": "Lê Thị Hoa"}
    assert field_error(await client.post(BASE, json=someone_else), 409, "id_number")["error"] == "citizen_exists"
    male = {**issued, "id_number": "036224000777"}  # encodes a boy; the newborn is a girl
    assert field_error(await client.post(BASE, json=male), 422, "id_number")["error"] == "inconsistent_id_number"
    born_2023 = {**issued, "id_number": "036323000777"}
    field_error(await client.post(BASE, json=born_2023), 422, "id_number")
    assert await effects("population_db") == {"assign_id_number": 1}

"""Civil-status registry: births and deaths."""

from __future__ import annotations

from typing import Any

import pytest
from httpx import AsyncClient

BIRTHS, DEATHS = "/civil-status/v1/births", "/civil-status/v1/deaths"


@pytest.fixture
def birth() -> dict[str, Any]:
    return {
        "child": {
            "full_name": "Trần Thị Bình",
            "sex": "female",
            "date_of_birth": "2024-07-10",
            "place_of_birth": "Bệnh viện Phụ sản Nam Định",
            "birth_province_code": "036",
        },
        "mother": {"full_name": "Phạm Thị Hoa", "id_number": "036195001234"},
        "registering_agency_code": "000.00.12.H40",
    }


@pytest.fixture
def death() -> dict[str, Any]:
    return {
        "deceased": {
            "full_name": "Lê Văn Đức",
            "id_number": "036058001234",
            "sex": "male",
            "date_of_death": "2024-07-14",
            "place_of_death": "Nam Định",
        },
        "declarant": {"full_name": "Lê Văn Minh", "relationship": "con"},
        "registering_agency_code": "000.00.12.H40",
    }


async def test_a_birth_is_recorded_and_can_be_read_back(client: AsyncClient, birth: dict[str, Any]) -> None:
    response = await client.post(BIRTHS, json=birth)
    assert response.status_code == 201
    record = response.json()
    assert record["record_id"] == "KS-2024-000001" and record["registered_on"] == "2024-07-15"
    assert (await client.get(f"{BIRTHS}/{record['record_id']}")).json() == record


async def test_registration_numbers_start_again_each_year(client: AsyncClient, birth: dict[str, Any]) -> None:
    """The simulator counted births over all years: the first birth registered in 2024, after one of
    late 2023, was "2/2024", a number no register issues."""
    late = {**birth, "child": {**birth["child"], "date_of_birth": "2023-12-20"}, "registered_on": "2023-12-31"}
    numbers = [(await client.post(BIRTHS, json=body)).json()["registration_number"] for body in (late, birth, birth)]
    assert numbers == ["1/2023", "1/2024", "2/2024"]


async def test_a_birth_with_a_consistent_number_is_accepted(client: AsyncClient, birth: dict[str, Any]) -> None:
    birth["child"]["id_number"] = "036324001234"
    assert (await client.post(BIRTHS, json=birth)).status_code == 201


async def test_a_child_number_contradicting_the_child_is_rejected(
    client: AsyncClient, birth: dict[str, Any], field_error: Any
) -> None:
    birth["child"]["id_number"] = "079224001234"  # Hồ Chí Minh, male
    body = field_error(await client.post(BIRTHS, json=birth), 422, "child.id_number")
    assert body["error"] == "inconsistent_id_number"
    assert [d["message"].split(":")[0] for d in body["detail"]] == ["sex", "province_code"]


async def test_bad_births_name_the_field(client: AsyncClient, birth: dict[str, Any], field_error: Any) -> None:
    future = {**birth, "child": {**birth["child"], "date_of_birth": "2025-01-01"}}
    field_error(await client.post(BIRTHS, json=future), 422, "child.date_of_birth")
    early = {**birth, "registered_on": "2024-07-01"}
    field_error(await client.post(BIRTHS, json=early), 422, "registered_on")
    field_error(await client.post(BIRTHS, json={**birth, "mother": {"full_name": ""}}), 422, "mother.full_name")
    field_error(await client.post(BIRTHS, json={"child": birth["child"]}), 422, "registering_agency_code")


async def test_a_death_is_recorded_once(client: AsyncClient, death: dict[str, Any], field_error: Any) -> None:
    response = await client.post(DEATHS, json=death)
    assert response.status_code == 201
    record_id = response.json()["record_id"]
    assert record_id.startswith("KT-2024-")
    assert (await client.get(f"{DEATHS}/{record_id}")).status_code == 200
    again = await client.post(DEATHS, json=death)
    assert field_error(again, 409, "deceased.id_number")["error"] == "death_already_registered"


async def test_bad_deaths_name_the_field(client: AsyncClient, death: dict[str, Any], field_error: Any) -> None:
    deceased = death["deceased"]
    before_birth = {**death, "deceased": {**deceased, "date_of_death": "1957-12-31"}}
    field_error(await client.post(DEATHS, json=before_birth), 422, "deceased.date_of_death")
    wrong_sex = {**death, "deceased": {**deceased, "sex": "female"}}
    field_error(await client.post(DEATHS, json=wrong_sex), 422, "deceased.id_number")
    no_number = {**death, "deceased": {k: v for k, v in deceased.items() if k != "id_number"}}
    field_error(await client.post(DEATHS, json=no_number), 422, "deceased.id_number")


async def test_unknown_records_are_404(client: AsyncClient, field_error: Any) -> None:
    field_error(await client.get(f"{BIRTHS}/KS-2024-999999"), 404, "record_id")
    field_error(await client.get(f"{DEATHS}/nope"), 404, "record_id")

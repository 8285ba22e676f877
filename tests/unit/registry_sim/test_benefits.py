"""Social insurance (child health-insurance cards, funeral allowance) and social welfare (burial support)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from httpx import AsyncClient
from pydantic import ValidationError

from registry_sim.settings import SimulatorSettings
from registry_sim.social_insurance import card_valid_to

CARDS = "/social-insurance/v1/health-insurance-cards"
ALLOWANCES = "/social-insurance/v1/funeral-allowances"
SUPPORTS = "/social-welfare/v1/burial-supports"


@pytest.fixture
def child() -> dict[str, Any]:
    return {
        "id_number": "036324001234",
        "full_name": "Trần Thị Bình",
        "sex": "female",
        "date_of_birth": "2024-07-10",
    }


@pytest.fixture
def funeral() -> dict[str, Any]:
    return {
        "deceased": {
            "id_number": "036058001234",
            "full_name": "Lê Văn Đức",
            "date_of_death": "2024-07-14",
            "social_insurance_number": "3601234567",
        },
        "recipient": {"full_name": "Lê Văn Minh", "relationship": "con"},
    }


async def test_a_child_gets_one_card(client: AsyncClient, child: dict[str, Any], field_error: Any) -> None:
    response = await client.post(CARDS, json=child)
    assert response.status_code == 201
    card = response.json()
    assert re.fullmatch(r"TE136[0-9]{10}", card["card_number"])
    assert card["valid_from"] == "2024-07-15" and card["valid_to"] == "2030-09-30"
    assert (await client.get(f"{CARDS}/{card['card_number']}")).json() == card
    again = await client.post(CARDS, json={**child, "province_code": "079"})
    assert field_error(again, 409, "id_number")["error"] == "card_exists"


async def test_the_issuing_province_appears_in_the_card_number(client: AsyncClient, child: dict[str, Any]) -> None:
    card = (await client.post(CARDS, json={**child, "province_code": "079"})).json()
    assert card["card_number"].startswith("TE179") and card["province_code"] == "079"


async def test_bad_card_requests_name_the_field(client: AsyncClient, child: dict[str, Any], field_error: Any) -> None:
    field_error(await client.post(CARDS, json={**child, "sex": "male"}), 422, "id_number")
    too_old = {**child, "id_number": "036317001234", "date_of_birth": "2017-03-01"}
    field_error(await client.post(CARDS, json=too_old), 422, "date_of_birth")
    field_error(await client.post(CARDS, json={**child, "date_of_birth": "2024-08-01"}), 422, "date_of_birth")
    field_error(await client.post(CARDS, json={**child, "province_code": "1"}), 422, "province_code")
    field_error(await client.get(f"{CARDS}/TE1360000000000"), 404, "card_number")


@pytest.mark.parametrize(
    ("born", "valid_to"),
    [
        (date(2024, 7, 10), date(2030, 9, 30)),  # turns 6 before the school year: until 30 September
        (date(2024, 11, 5), date(2030, 11, 4)),  # turns 6 after 30 September: the day before
        (date(2020, 2, 29), date(2026, 9, 30)),
        (date(2019, 10, 1), date(2025, 9, 30)),
        (date(2019, 10, 2), date(2025, 10, 1)),
    ],
)
def test_a_child_card_lasts_until_school_age(born: date, valid_to: date) -> None:
    assert card_valid_to(born) == valid_to


async def test_a_funeral_allowance_is_paid_once(client: AsyncClient, funeral: dict[str, Any], field_error: Any) -> None:
    response = await client.post(ALLOWANCES, json=funeral)
    assert response.status_code == 201
    payment = response.json()
    assert payment["amount_vnd"] == 23_400_000 and payment["payment_id"].startswith("TCMT-")
    assert (await client.get(f"{ALLOWANCES}/{payment['payment_id']}")).json() == payment
    field_error(await client.post(ALLOWANCES, json=funeral), 409, "deceased.id_number")


@pytest.mark.parametrize(
    ("died", "amount"),
    [("2024-06-30", 18_000_000), ("2024-07-01", 23_400_000), ("2023-06-20", 14_900_000)],
)
async def test_the_allowance_is_ten_base_salaries_of_the_month_of_death(
    client: AsyncClient, funeral: dict[str, Any], died: str, amount: int
) -> None:
    """It took the base salary of the day it was paid: a death in June 2024 (1,800,000 VND until the
    end of that month) was paid as if the 2,340,000 of July applied."""
    request = {**funeral, "deceased": {**funeral["deceased"], "date_of_death": died}}
    assert (await client.post(ALLOWANCES, json=request)).json()["amount_vnd"] == amount


@pytest.mark.parametrize(("died", "amount"), [("2024-06-30", 7_200_000), ("2024-07-01", 10_000_000)])
async def test_burial_support_is_twenty_assistance_levels_in_force_at_the_death(
    client: AsyncClient, died: str, amount: int
) -> None:
    request = {
        "deceased": {"id_number": "036140001234", "full_name": "Nguyễn Thị Mai", "date_of_death": died,
                     "beneficiary_category": "elderly_80_plus"},
        "applicant": {"full_name": "Nguyễn Văn Tâm", "relationship": "con"},
    }  # fmt: skip
    assert (await client.post(SUPPORTS, json=request)).json()["amount_vnd"] == amount


async def test_bad_funeral_requests_name_the_field(
    client: AsyncClient, funeral: dict[str, Any], field_error: Any
) -> None:
    deceased = funeral["deceased"]
    bad_si = {**funeral, "deceased": {**deceased, "social_insurance_number": "12345"}}
    field_error(await client.post(ALLOWANCES, json=bad_si), 422, "deceased.social_insurance_number")
    future = {**funeral, "deceased": {**deceased, "date_of_death": "2024-07-16"}}
    field_error(await client.post(ALLOWANCES, json=future), 422, "deceased.date_of_death")
    field_error(await client.post(ALLOWANCES, json={**funeral, "recipient": {}}), 422, "recipient.full_name")


async def test_burial_support_is_granted_once(client: AsyncClient, field_error: Any) -> None:
    request = {
        "deceased": {
            "id_number": "036140001234",
            "full_name": "Nguyễn Thị Mai",
            "date_of_death": "2024-07-12",
            "beneficiary_category": "elderly_80_plus",
        },
        "applicant": {"full_name": "Nguyễn Văn Tâm", "relationship": "con"},
    }
    response = await client.post(SUPPORTS, json=request)
    assert response.status_code == 201
    support = response.json()
    assert support["amount_vnd"] == 10_000_000 and support["support_id"].startswith("HTMT-")
    assert (await client.get(f"{SUPPORTS}/{support['support_id']}")).json() == support
    assert (
        field_error(await client.post(SUPPORTS, json=request), 409, "deceased.id_number")["error"] == "already_granted"
    )
    no_category = {**request, "deceased": {k: v for k, v in request["deceased"].items() if k != "beneficiary_category"}}
    field_error(await client.post(SUPPORTS, json=no_category), 422, "deceased.beneficiary_category")


@pytest.mark.parametrize("levels", [{}, {"2024-07-01": -500_000}])
def test_a_benefit_table_needs_a_level_and_no_negative_one(levels: dict[str, int]) -> None:
    """An empty table answered every allowance with a 500 (no level to take), a negative level paid
    a negative support."""
    with pytest.raises(ValidationError, match="social_assistance_base_vnd"):
        SimulatorSettings(social_assistance_base_vnd=levels)  # type: ignore[arg-type]

"""Social insurance agency (BHXH), simulated: child health-insurance cards and funeral allowances.

Card numbers follow the 15-character layout printed on cards: a 2-letter beneficiary group
("TE", trẻ em: children under 6), a benefit-level digit (1 = 100% for TE), the 2-digit province
and the 10-digit social-insurance number, e.g. ``TE1790123456789``. A child holds one card and
a death is compensated once, so repeats without an idempotency key are 409s.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import JSONResponse
from pydantic import StringConstraints

from registry_sim.common import (
    Code,
    IdNumber,
    Name,
    ProvinceCode,
    Reference,
    Sex,
    Strict,
    check_date_of_death,
    level_on,
    not_in_future,
    require_consistent,
)
from registry_sim.errors import SimError
from registry_sim.faults import System
from registry_sim.gateway import IdQuery, Mutation, SimDep, fault_gate, holding, lookup, mutation
from registry_sim.state import Record, SimulatorState

SYSTEM = System.SOCIAL_INSURANCE
CARDS, ALLOWANCES = "health_insurance_cards", "funeral_allowances"

MutationDep = Annotated[Mutation, Depends(mutation(SYSTEM))]
SocialInsuranceNumber = Annotated[str, StringConstraints(pattern=r"^[0-9]{10}$")]


class CardRequest(Strict):
    """A child under 6 to issue a health-insurance card to."""

    id_number: IdNumber
    full_name: Name
    sex: Sex
    date_of_birth: date
    province_code: ProvinceCode | None = None  # where the card is issued; default: the birth province
    initial_clinic_code: Code | None = None
    guardian_full_name: Name | None = None
    reference: Reference | None = None  # the caller's, kept with the record


class InsuredDeceased(Strict):
    id_number: IdNumber
    full_name: Name
    date_of_death: date
    social_insurance_number: SocialInsuranceNumber


class Recipient(Strict):
    full_name: Name
    id_number: IdNumber | None = None
    relationship: Name
    bank_account: Code | None = None


class FuneralAllowanceRequest(Strict):
    """A funeral allowance (trợ cấp mai táng) for an insured person who died."""

    deceased: InsuredDeceased
    recipient: Recipient
    death_record_id: Code | None = None
    reference: Reference | None = None  # the caller's, kept with the record


def card_valid_to(date_of_birth: date) -> date:
    """The day before the 6th birthday, or 30 September of that year if the child turns 6 before
    then (Law on Health Insurance art. 16: the card lasts until the school year starts)."""
    try:
        sixth = date_of_birth.replace(year=date_of_birth.year + 6)
    except ValueError:  # born on 29 February
        sixth = date(date_of_birth.year + 6, 3, 1)
    school_start = date(sixth.year, 9, 30)
    return school_start if sixth <= school_start else sixth - timedelta(days=1)


def issue_card(sim: SimulatorState, body: CardRequest) -> Record:
    today = sim.today()
    not_in_future(body.date_of_birth, today, "date_of_birth")
    require_consistent(body.id_number, "id_number", sex=body.sex, birth_year=body.date_of_birth.year)
    valid_to = card_valid_to(body.date_of_birth)
    if valid_to < today:
        raise SimError.invalid("date_of_birth", "the child is 6 or older: no child card")
    cards = sim.records.collection(SYSTEM, CARDS)
    existing = next((c for c in cards.values() if c["id_number"] == body.id_number), None)
    if existing is not None:
        raise SimError(409, "card_exists", f"the child already holds card {existing['card_number']}", field="id_number")
    province = body.province_code or body.id_number[:3]
    card_number = ""
    while not card_number or card_number in cards:
        si_number = sim.random_digits(10)
        card_number = f"TE1{province[-2:]}{si_number}"
    record: Record = {
        "card_number": card_number,
        "social_insurance_number": card_number[-10:],
        "beneficiary_group": "TE",
        "benefit_level": 1,
        **body.model_dump(mode="json", exclude={"province_code"}),
        "province_code": province,
        "valid_from": today.isoformat(),
        "valid_to": valid_to.isoformat(),
        "issued_at": sim.now().isoformat(),
    }
    cards[card_number] = record
    return record


def pay_funeral_allowance(sim: SimulatorState, body: FuneralAllowanceRequest) -> Record:
    deceased = body.deceased
    check_date_of_death(deceased.id_number, deceased.date_of_death, sim.today(), "deceased.date_of_death")
    allowances = sim.records.collection(SYSTEM, ALLOWANCES)
    if any(a["deceased"]["id_number"] == deceased.id_number for a in allowances.values()):
        raise SimError(409, "already_paid", "a funeral allowance was already paid", field="deceased.id_number")
    settings = sim.settings
    # 10 × the base salary of the month of death (Law on Social Insurance 2014, art. 66), not today's
    base_salary = level_on(settings.base_salary_vnd, deceased.date_of_death)
    record: Record = {
        "payment_id": f"TCMT-{sim.records.next_sequence(SYSTEM, ALLOWANCES):08d}",
        **body.model_dump(mode="json"),
        "amount_vnd": settings.funeral_allowance_multiplier * base_salary,
        "paid_at": sim.now().isoformat(),
    }
    allowances[record["payment_id"]] = record
    return record


def build_router() -> APIRouter:
    router = APIRouter(
        prefix="/social-insurance/v1", tags=["social_insurance"], dependencies=[Depends(fault_gate(SYSTEM))]
    )

    @router.post("/health-insurance-cards", status_code=201)
    async def issue_health_insurance_card(body: CardRequest, call: MutationDep) -> JSONResponse:
        """Issue a health-insurance card to a child under 6."""
        return await call.run("issue_health_insurance_card", body, lambda: issue_card(call.sim, body))

    @router.get("/health-insurance-cards")
    async def find_cards(id_number: IdQuery, sim: SimDep) -> dict[str, list[Record]]:
        """The card a child holds (a list: empty if none)."""
        return holding(sim, SYSTEM, CARDS, "id_number", id_number)

    @router.get("/health-insurance-cards/{card_number}")
    async def get_card(card_number: Annotated[str, Path(max_length=32)], sim: SimDep) -> Record:
        """A card by its number."""
        return lookup(sim, SYSTEM, CARDS, card_number, "card_number")

    @router.post("/funeral-allowances", status_code=201)
    async def pay_funeral(body: FuneralAllowanceRequest, call: MutationDep) -> JSONResponse:
        """Pay the funeral allowance for an insured person who died."""
        return await call.run("pay_funeral_allowance", body, lambda: pay_funeral_allowance(call.sim, body))

    @router.get("/funeral-allowances")
    async def find_allowances(deceased_id_number: IdQuery, sim: SimDep) -> dict[str, list[Record]]:
        """The funeral allowance paid for a person (a list: empty if none)."""
        return holding(sim, SYSTEM, ALLOWANCES, "deceased.id_number", deceased_id_number)

    @router.get("/funeral-allowances/{payment_id}")
    async def get_allowance(payment_id: Annotated[str, Path(max_length=32)], sim: SimDep) -> Record:
        """A funeral-allowance payment by its id."""
        return lookup(sim, SYSTEM, ALLOWANCES, payment_id, "payment_id")

    return router

"""Electronic civil-status registry (hộ tịch điện tử), simulated: births and deaths.

A person dies once, so a second death registration for one identification number is a 409;
births have no such natural key (see :mod:`registry_sim.population`).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import JSONResponse

from registry_sim.common import (
    Code,
    IdNumber,
    Name,
    ProvinceCode,
    Reference,
    Sex,
    Strict,
    Text,
    check_date_of_death,
    not_in_future,
    require_consistent,
)
from registry_sim.errors import SimError
from registry_sim.faults import System
from registry_sim.gateway import IdQuery, Mutation, SimDep, fault_gate, holding, lookup, mutation
from registry_sim.state import Record, SimulatorState

SYSTEM = System.CIVIL_STATUS
BIRTHS, DEATHS = "births", "deaths"

MutationDep = Annotated[Mutation, Depends(mutation(SYSTEM))]


class Child(Strict):
    full_name: Name
    sex: Sex
    date_of_birth: date
    place_of_birth: Text
    birth_province_code: ProvinceCode
    id_number: IdNumber | None = None


class Parent(Strict):
    full_name: Name
    id_number: IdNumber | None = None


class BirthRegistration(Strict):
    """A birth to register (đăng ký khai sinh)."""

    child: Child
    mother: Parent | None = None
    father: Parent | None = None
    registering_agency_code: Code
    registered_on: date | None = None


class Deceased(Strict):
    full_name: Name
    id_number: IdNumber
    sex: Sex | None = None
    date_of_death: date
    place_of_death: Text
    cause: Text | None = None


class Declarant(Strict):
    full_name: Name
    id_number: IdNumber | None = None
    relationship: Name


class DeathRegistration(Strict):
    """A death to register (đăng ký khai tử)."""

    deceased: Deceased
    declarant: Declarant
    registering_agency_code: Code
    registered_on: date | None = None
    reference: Reference | None = None  # the caller's, kept with the record


def register_birth(sim: SimulatorState, body: BirthRegistration) -> Record:
    child = body.child
    today = sim.today()
    not_in_future(child.date_of_birth, today, "child.date_of_birth")
    registered_on = body.registered_on or today
    not_in_future(registered_on, today, "registered_on")
    if registered_on < child.date_of_birth:
        raise SimError.invalid("registered_on", "is before child.date_of_birth")
    if child.id_number is not None:
        require_consistent(
            child.id_number,
            "child.id_number",
            sex=child.sex,
            birth_year=child.date_of_birth.year,
            province_code=child.birth_province_code,
        )
    seq = sim.records.next_sequence(SYSTEM, BIRTHS, registered_on.year)
    record: Record = {
        "record_id": f"KS-{registered_on.year}-{seq:06d}",
        "registration_number": f"{seq}/{registered_on.year}",
        **body.model_dump(mode="json", exclude={"registered_on"}),
        "registered_on": registered_on.isoformat(),
        "recorded_at": sim.now().isoformat(),
    }
    sim.records.collection(SYSTEM, BIRTHS)[record["record_id"]] = record
    return record


def register_death(sim: SimulatorState, body: DeathRegistration) -> Record:
    deceased = body.deceased
    today = sim.today()
    check_date_of_death(deceased.id_number, deceased.date_of_death, today, "deceased.date_of_death")
    if deceased.sex is not None:
        require_consistent(deceased.id_number, "deceased.id_number", sex=deceased.sex)
    registered_on = body.registered_on or today
    not_in_future(registered_on, today, "registered_on")
    if registered_on < deceased.date_of_death:
        raise SimError.invalid("registered_on", "is before deceased.date_of_death")
    deaths = sim.records.collection(SYSTEM, DEATHS)
    if any(d["deceased"]["id_number"] == deceased.id_number for d in deaths.values()):
        raise SimError(409, "death_already_registered", "this death is already registered", field="deceased.id_number")
    seq = sim.records.next_sequence(SYSTEM, DEATHS, registered_on.year)
    record: Record = {
        "record_id": f"KT-{registered_on.year}-{seq:06d}",
        "registration_number": f"{seq}/{registered_on.year}",
        **body.model_dump(mode="json", exclude={"registered_on"}),
        "registered_on": registered_on.isoformat(),
        "recorded_at": sim.now().isoformat(),
    }
    deaths[record["record_id"]] = record
    return record


def build_router() -> APIRouter:
    router = APIRouter(prefix="/civil-status/v1", tags=["civil_status"], dependencies=[Depends(fault_gate(SYSTEM))])

    @router.post("/births", status_code=201)
    async def record_birth(body: BirthRegistration, call: MutationDep) -> JSONResponse:
        """Register a birth."""
        return await call.run("record_birth", body, lambda: register_birth(call.sim, body))

    @router.get("/births/{record_id}")
    async def get_birth(record_id: Annotated[str, Path(max_length=64)], sim: SimDep) -> Record:
        """A birth record by its id."""
        return lookup(sim, SYSTEM, BIRTHS, record_id, "record_id")

    @router.post("/deaths", status_code=201)
    async def record_death(body: DeathRegistration, call: MutationDep) -> JSONResponse:
        """Register a death."""
        return await call.run("record_death", body, lambda: register_death(call.sim, body))

    @router.get("/deaths")
    async def find_deaths(deceased_id_number: IdQuery, sim: SimDep) -> dict[str, list[Record]]:
        """The death recorded for a person (a list: empty if none)."""
        return holding(sim, SYSTEM, DEATHS, "deceased.id_number", deceased_id_number)

    @router.get("/deaths/{record_id}")
    async def get_death(record_id: Annotated[str, Path(max_length=64)], sim: SimDep) -> Record:
        """A death record by its id."""
        return lookup(sim, SYSTEM, DEATHS, record_id, "record_id")

    return router

"""National population database (Cơ sở dữ liệu quốc gia về dân cư), simulated.

Assigns the 12-digit identification number at birth, registers and deregisters permanent
residence, and answers look-ups for data reuse. A number is assigned each time one is asked
for: the real database has no natural key to recognise a repeated birth (twins share parents
and date), so a retry without an ``Idempotency-Key`` shows up as a second citizen.

A birth registration may already have issued the number (the civil-status step of the birth
bundle does): ``POST /citizens`` with ``id_number`` records the newborn under it. The number is
then the natural key: the same person again changes nothing (200, the stored citizen), someone
else under it is a 409 ``citizen_exists``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path
from fastapi.responses import JSONResponse

from contracts import citizen_id
from registry_sim.common import (
    IdNumber,
    Name,
    ProvinceCode,
    Reference,
    Sex,
    Strict,
    Text,
    not_in_future,
    require_consistent,
)
from registry_sim.errors import SimError
from registry_sim.faults import System
from registry_sim.gateway import Mutation, SimDep, fault_gate, lookup, mutation
from registry_sim.state import Record, SimulatorState

SYSTEM = System.POPULATION
CITIZENS = "citizens"

MutationDep = Annotated[Mutation, Depends(mutation(SYSTEM))]
IdNumberPath = Annotated[str, Path(description="12-digit personal identification number.")]


class CitizenCreate(Strict):
    """A newborn to give a number to, or to record under the number its birth registration issued
    (through the admin API: an existing person to seed)."""

    id_number: IdNumber | None = None
    full_name: Name
    sex: Sex
    date_of_birth: date
    birth_province_code: ProvinceCode
    place_of_birth: Text | None = None
    father_id_number: IdNumber | None = None
    mother_id_number: IdNumber | None = None
    birth_record_id: Name | None = None


class ResidenceRegistration(Strict):
    """A permanent residence (thường trú) to register; it replaces the current one, if any."""

    address: Text
    province_code: ProvinceCode
    ward: Name | None = None
    household_head_id_number: IdNumber | None = None
    relationship_to_head: Name | None = None
    registered_on: date | None = None
    reference: Reference | None = None  # the caller's, kept with the residence


class ResidenceDeregistration(Strict):
    """Why and when the permanent residence ends (xóa đăng ký thường trú)."""

    reason: Literal["death", "declared_dead", "settled_abroad", "other"]
    effective_date: date | None = None
    death_record_id: Name | None = None
    note: Text | None = None
    reference: Reference | None = None  # the caller's, kept with the ended residence


def valid_path_id(id_number: str) -> str:
    try:
        citizen_id.parse(id_number)
    except citizen_id.InvalidCitizenId as exc:
        raise SimError.invalid("id_number", exc.reason) from exc
    return id_number


def _check_given_number(body: CitizenCreate) -> None:
    if body.id_number is not None:
        require_consistent(
            body.id_number,
            "id_number",
            sex=body.sex,
            birth_year=body.date_of_birth.year,
            province_code=body.birth_province_code,
        )


def same_person(sim: SimulatorState, body: CitizenCreate) -> Record | None:
    """The citizen already stored under ``body.id_number`` if it is this very person: a repeated
    notice of one birth, which changes nothing. None when the number is free (or not given)."""
    if body.id_number is None:
        return None
    _check_given_number(body)
    stored = sim.records.collection(SYSTEM, CITIZENS).get(body.id_number)
    given = body.model_dump(mode="json", include={"full_name", "sex", "date_of_birth"})
    if stored is not None and all(stored[k] == v for k, v in given.items()):
        return stored
    return None


def assign(sim: SimulatorState, body: CitizenCreate) -> Record:
    """Store a citizen under the number given (checked against the person) or a freshly generated one."""
    not_in_future(body.date_of_birth, sim.today(), "date_of_birth")
    year = body.date_of_birth.year
    if not citizen_id.MIN_BIRTH_YEAR <= year <= citizen_id.MAX_BIRTH_YEAR:
        raise SimError.invalid("date_of_birth", "year cannot be encoded in an identification number")
    _check_given_number(body)
    citizens = sim.records.collection(SYSTEM, CITIZENS)
    id_number = body.id_number
    if id_number is not None and id_number in citizens:
        raise SimError(409, "citizen_exists", f"{id_number} is assigned to someone else", field="id_number")
    while id_number is None or id_number in citizens:
        id_number = citizen_id.generate(body.birth_province_code, body.sex, year, sim.rng)
    record: Record = {
        "id_number": id_number,
        **body.model_dump(mode="json", exclude={"id_number"}),
        "status": "living",
        "permanent_residence": None,
        "residence_history": [],
        "assigned_at": sim.now().isoformat(),
    }
    citizens[id_number] = record
    return record


def register_residence(sim: SimulatorState, id_number: str, body: ResidenceRegistration) -> Record:
    citizen = lookup(sim, SYSTEM, CITIZENS, id_number, "id_number")
    if citizen["status"] != "living":
        raise SimError(409, "citizen_deceased", f"{id_number} is recorded as deceased", field="id_number")
    registered_on = body.registered_on or sim.today()
    not_in_future(registered_on, sim.today(), "registered_on")
    residence_id = f"TT-{sim.records.next_sequence(SYSTEM, 'residences'):08d}"
    if citizen["permanent_residence"] is not None:
        previous = {**citizen["permanent_residence"], "status": "superseded", "ended_on": registered_on.isoformat()}
        citizen["residence_history"].append(previous)
    residence = {
        "residence_id": residence_id,
        "id_number": id_number,
        **body.model_dump(mode="json", exclude={"registered_on"}),
        "registered_on": registered_on.isoformat(),
        "status": "active",
    }
    citizen["permanent_residence"] = residence
    return dict(residence)


def deregister_residence(sim: SimulatorState, id_number: str, body: ResidenceDeregistration) -> Record:
    citizen = lookup(sim, SYSTEM, CITIZENS, id_number, "id_number")
    current = citizen["permanent_residence"]
    if current is None:
        raise SimError(409, "no_permanent_residence", f"{id_number} has no permanent residence", field="id_number")
    effective = body.effective_date or sim.today()
    ended = {
        **current,
        "status": "deregistered",
        "ended_on": effective.isoformat(),
        "deregistration": body.model_dump(mode="json"),
    }
    citizen["residence_history"].append(ended)
    citizen["permanent_residence"] = None
    if body.reason in ("death", "declared_dead"):
        citizen["status"] = "deceased"
    return dict(ended)


def build_router() -> APIRouter:
    router = APIRouter(prefix="/population/v1", tags=["population_db"], dependencies=[Depends(fault_gate(SYSTEM))])

    @router.post("/citizens", status_code=201)
    async def assign_id_number(body: CitizenCreate, call: MutationDep) -> JSONResponse:
        """Assign a personal identification number to a newborn, or record the one its birth registration issued."""
        known = lambda: same_person(call.sim, body)  # noqa: E731
        return await call.run("assign_id_number", body, lambda: assign(call.sim, body), unchanged=known)

    @router.get("/citizens/{id_number}")
    async def get_citizen(id_number: IdNumberPath, sim: SimDep) -> Record:
        """Look up a citizen by identification number (data reuse)."""
        return lookup(sim, SYSTEM, CITIZENS, valid_path_id(id_number), "id_number")

    @router.post("/citizens/{id_number}/permanent-residence", status_code=201)
    async def register_permanent_residence(
        id_number: IdNumberPath, body: ResidenceRegistration, call: MutationDep
    ) -> JSONResponse:
        """Register (or move) a citizen's permanent residence."""
        valid_path_id(id_number)
        effect = lambda: register_residence(call.sim, id_number, body)  # noqa: E731
        return await call.run("register_permanent_residence", body, effect)

    @router.get("/citizens/{id_number}/permanent-residence/deregistrations")
    async def deregistrations(id_number: IdNumberPath, sim: SimDep) -> dict[str, list[Record]]:
        """The citizen's ended permanent residences, oldest first."""
        citizen = lookup(sim, SYSTEM, CITIZENS, valid_path_id(id_number), "id_number")
        return {"items": [r for r in citizen["residence_history"] if r.get("status") == "deregistered"]}

    @router.post("/citizens/{id_number}/permanent-residence/deregistration", status_code=200)
    async def deregister_permanent_residence(
        id_number: IdNumberPath, body: ResidenceDeregistration, call: MutationDep
    ) -> JSONResponse:
        """End a citizen's permanent residence (on death, settling abroad …)."""
        valid_path_id(id_number)
        effect = lambda: deregister_residence(call.sim, id_number, body)  # noqa: E731
        return await call.run("deregister_permanent_residence", body, effect, status_code=200)

    return router

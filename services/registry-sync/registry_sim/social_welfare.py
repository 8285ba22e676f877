"""Social welfare (bảo trợ xã hội), simulated: burial support for social-assistance beneficiaries.

The amount is a multiple of the social-assistance standard level (both in settings); one death
is supported once, so a repeat without an idempotency key is a 409.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import JSONResponse

from registry_sim.common import Code, IdNumber, Name, Reference, Strict, check_date_of_death, level_on
from registry_sim.errors import SimError
from registry_sim.faults import System
from registry_sim.gateway import IdQuery, Mutation, SimDep, fault_gate, holding, lookup, mutation
from registry_sim.state import Record, SimulatorState

SYSTEM = System.SOCIAL_WELFARE
SUPPORTS = "burial_supports"

MutationDep = Annotated[Mutation, Depends(mutation(SYSTEM))]


class Beneficiary(Strict):
    id_number: IdNumber
    full_name: Name
    date_of_death: date
    beneficiary_category: Code  # which social-assistance group the person belonged to


class Applicant(Strict):
    full_name: Name
    id_number: IdNumber | None = None
    relationship: Name


class BurialSupportRequest(Strict):
    """Burial support (hỗ trợ chi phí mai táng) for a social-assistance beneficiary who died."""

    deceased: Beneficiary
    applicant: Applicant
    death_record_id: Code | None = None
    reference: Reference | None = None  # the caller's, kept with the record


def grant_burial_support(sim: SimulatorState, body: BurialSupportRequest) -> Record:
    deceased = body.deceased
    check_date_of_death(deceased.id_number, deceased.date_of_death, sim.today(), "deceased.date_of_death")
    supports = sim.records.collection(SYSTEM, SUPPORTS)
    if any(s["deceased"]["id_number"] == deceased.id_number for s in supports.values()):
        raise SimError(409, "already_granted", "burial support was already granted", field="deceased.id_number")
    settings = sim.settings
    level = level_on(settings.social_assistance_base_vnd, deceased.date_of_death)  # in force at the death
    record: Record = {
        "support_id": f"HTMT-{sim.records.next_sequence(SYSTEM, SUPPORTS):08d}",
        **body.model_dump(mode="json"),
        "amount_vnd": settings.burial_support_multiplier * level,
        "granted_at": sim.now().isoformat(),
    }
    supports[record["support_id"]] = record
    return record


def build_router() -> APIRouter:
    router = APIRouter(prefix="/social-welfare/v1", tags=["social_welfare"], dependencies=[Depends(fault_gate(SYSTEM))])

    @router.post("/burial-supports", status_code=201)
    async def grant_burial(body: BurialSupportRequest, call: MutationDep) -> JSONResponse:
        """Grant burial support."""
        return await call.run("grant_burial_support", body, lambda: grant_burial_support(call.sim, body))

    @router.get("/burial-supports")
    async def find_supports(deceased_id_number: IdQuery, sim: SimDep) -> dict[str, list[Record]]:
        """The burial support granted for a person (a list: empty if none)."""
        return holding(sim, SYSTEM, SUPPORTS, "deceased.id_number", deceased_id_number)

    @router.get("/burial-supports/{support_id}")
    async def get_support(support_id: Annotated[str, Path(max_length=32)], sim: SimDep) -> Record:
        """A burial-support grant by its id."""
        return lookup(sim, SYSTEM, SUPPORTS, support_id, "support_id")

    return router

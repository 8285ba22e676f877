"""Adapters of the population database and the civil-status registry: one interface per system,
implemented over HTTP against the API the registry simulator stands in for."""

from __future__ import annotations

from typing import Any, Protocol

from contracts import citizen_id
from registry_sync.adapters.http_client import ExternalHttpClient
from registry_sync.adapters.operations import (
    KEY_REUSED,
    OperationCall,
    ReadBack,
    drop_none,
    id_number,
    mapped,
    post,
    post_once,
    post_referenced,
)
from registry_sync.domain.outcomes import CallOutcome, Rejected, Succeeded, Transient

#: The catalogue's deregistration reasons, in the population database's words.
DEREGISTRATION_REASONS = {"deceased": "death", "moved_abroad": "settled_abroad", "other": "other"}


class PopulationDatabase(Protocol):
    """National population database (Cơ sở dữ liệu quốc gia về dân cư)."""

    async def assign_personal_id_number(self, call: OperationCall) -> CallOutcome: ...

    async def register_permanent_residence(self, call: OperationCall) -> CallOutcome: ...

    async def deregister_permanent_residence(self, call: OperationCall) -> CallOutcome: ...

    async def lookup_citizen(self, call: OperationCall) -> CallOutcome: ...


class CivilStatusRegistry(Protocol):
    """Electronic civil-status registry (hộ tịch điện tử)."""

    async def record_birth(self, call: OperationCall) -> CallOutcome: ...

    async def record_death(self, call: OperationCall) -> CallOutcome: ...


class HttpPopulationDatabase:
    def __init__(self, client: ExternalHttpClient, province_code: str) -> None:
        self._client = client
        self._province = province_code

    async def assign_personal_id_number(self, call: OperationCall) -> CallOutcome:
        """Data: the birth-registration form (child, mother, father)."""
        body = drop_none(
            {
                "full_name": call.require("child.full_name"),
                "sex": call.require("child.sex"),
                "date_of_birth": call.require("child.date_of_birth"),
                "birth_province_code": call.get("child.birth_province_code") or self._province,
                "place_of_birth": call.get("child.place_of_birth"),
                "mother_id_number": call.get("mother.id_number"),
                "father_id_number": call.get("father.id_number"),
                "birth_record_id": call.get("birth_record_id"),
            }
        )
        outcome = await post(self._client, "/citizens", body, call)
        return mapped(outcome, lambda r: {"personal_id_number": r.get("id_number")}, required=("personal_id_number",))

    async def register_permanent_residence(self, call: OperationCall) -> CallOutcome:
        """Data: the permanent-residence form (person, address, household head, relation).

        A child whose birth was registered just before (the birth bundle: ``person`` carries the
        birth certificate number) is not in the database yet, because the birth registration issued
        the number: the child is recorded under it first, then the residence registered. Recording
        first is what keeps a stranger's record safe: if the number already belongs to someone else
        (409 ``citizen_exists``), the step is refused and nobody's residence moves. Registering first
        and recording only on a 404 moved the residence of whoever held the number."""
        person = id_number(call.require("person.id_number"), "person.id_number")
        if call.get("person.birth_certificate_number"):
            recorded = await self._record_newborn(call, person)  # the same child again changes nothing
            if not isinstance(recorded, Succeeded):
                return recorded
        outcome = await self._register_residence(call, person)
        return mapped(
            outcome,
            lambda r: {
                "residence_address": r.get("address"),
                "residence_id": r.get("residence_id"),
                "household_id": r.get("household_id"),
                "registered_on": r.get("registered_on"),
            },
            required=("residence_id",),
        )

    async def _register_residence(self, call: OperationCall, person: str) -> CallOutcome:
        """Registered once: a retry (whose key the database may have forgotten: it keeps keys for
        hours, we retry for a day) first looks whether the person's residence is already ours. Made
        again, it superseded the first registration with a copy under a new residence id."""
        if call.attempt > 1 and (ours := await self._registered_by(call, person)) is not None:
            return ours
        body = drop_none(
            {
                "address": call.require("address"),
                # Registered here: in this deployment's province unless the data says otherwise.
                "province_code": call.get("province_code") or self._province,
                "ward": call.get("ward"),
                "household_head_id_number": call.get("household_head_id_number"),
                "relationship_to_head": call.get("relation_to_head"),
            }
        )
        outcome = await post_referenced(self._client, f"/citizens/{person}/permanent-residence", body, call)
        if isinstance(outcome, Rejected) and outcome.error == KEY_REUSED:  # made by the first attempt
            return await self._registered_by(call, person) or outcome
        return outcome

    async def _registered_by(self, call: OperationCall, person: str) -> CallOutcome | None:
        """The person's current residence if this command registered it (it carries our reference);
        None if not, or the look-up's failure for now."""
        found = await self._client.call("GET", f"/citizens/{person}", correlation_id=call.correlation_id)
        if isinstance(found, Transient):
            return found
        residence = found.body.get("permanent_residence") if isinstance(found, Succeeded) else None
        if isinstance(residence, dict) and residence.get("reference") == call.reference:
            return Succeeded(residence, 200, replayed=True)
        return None

    async def _record_newborn(self, call: OperationCall, person: str) -> CallOutcome:
        """The newborn under the number its birth registration issued; sex, century and birth
        province are what the number encodes (the database checks them against the person)."""
        encoded = citizen_id.parse(person)
        body = drop_none(
            {
                "id_number": person,
                "full_name": call.require("person.full_name"),
                "sex": call.get("person.sex") or encoded.sex.value,
                "date_of_birth": call.require("person.date_of_birth", "to record the newborn"),
                "birth_province_code": encoded.province_code,
                "birth_record_id": call.get("person.birth_certificate_number"),
            }
        )
        return await post(self._client, "/citizens", body, call, key_suffix=":newborn")

    async def deregister_permanent_residence(self, call: OperationCall) -> CallOutcome:
        """Data: the deregistration form (person, reason, death extract number)."""
        person = id_number(call.require("person.id_number"), "person.id_number")
        reason = call.require("reason")
        body = drop_none(
            {
                "reason": DEREGISTRATION_REASONS.get(reason, reason),
                "death_record_id": call.get("death_extract_number"),
                "effective_date": call.get("effective_date"),
            }
        )
        path = f"/citizens/{person}/permanent-residence"
        held = ReadBack(f"{path}/deregistrations", reference_at="deregistration.reference")
        done = "no_permanent_residence"
        outcome = await post_once(self._client, f"{path}/deregistration", body, call, done=done, read_back=held)
        return mapped(outcome, lambda r: {"deregistered_on": r.get("ended_on")}, required=("deregistered_on",))

    async def lookup_citizen(self, call: OperationCall) -> CallOutcome:
        """Data: ``id_number``. Result: what the database holds, for data reuse."""
        person = id_number(call.require("id_number"), "id_number")
        outcome = await self._client.call("GET", f"/citizens/{person}", correlation_id=call.correlation_id)
        return mapped(outcome, _citizen, required=("id_number",))


def _citizen(record: dict[str, Any]) -> dict[str, Any]:
    residence = record.get("permanent_residence") or {}
    return {
        "id_number": record.get("id_number"),
        "full_name": record.get("full_name"),
        "sex": record.get("sex"),
        "date_of_birth": record.get("date_of_birth"),
        "status": record.get("status"),
        "residence_address": residence.get("address"),
    }


class HttpCivilStatusRegistry:
    def __init__(self, client: ExternalHttpClient, province_code: str) -> None:
        self._client = client
        self._province = province_code

    async def record_birth(self, call: OperationCall) -> CallOutcome:
        """Data: the birth-registration form."""
        child = drop_none(
            {
                "full_name": call.require("child.full_name"),
                "sex": call.require("child.sex"),
                "date_of_birth": call.require("child.date_of_birth"),
                "place_of_birth": call.require("child.place_of_birth"),
                "birth_province_code": call.get("child.birth_province_code") or self._province,
                "id_number": call.get("child.id_number") or call.get("child.personal_id_number"),
            }
        )
        body = drop_none(
            {
                "child": child,
                "mother": _parent(call, "mother"),
                "father": _parent(call, "father"),
                "registering_agency_code": call.agency_code or call.require("registering_agency_code"),
            }
        )
        outcome = await post(self._client, "/births", body, call)
        return mapped(
            outcome,
            lambda r: {
                "birth_certificate_number": r.get("registration_number"),
                "birth_record_id": r.get("record_id"),
                "personal_id_number": (r.get("child") or {}).get("id_number"),
            },
            required=("birth_certificate_number",),
        )

    async def record_death(self, call: OperationCall) -> CallOutcome:
        """Data: the death-registration form (deceased, declarant's relation)."""
        deceased = drop_none(
            {
                "full_name": call.require("deceased.full_name"),
                "id_number": id_number(call.require("deceased.id_number"), "deceased.id_number"),
                "date_of_death": call.require("deceased.date_of_death"),
                "place_of_death": call.require("deceased.place_of_death"),
                "cause": call.get("deceased.cause"),
            }
        )
        body = {
            "deceased": deceased,
            "declarant": call.applicant(call.require("declarant_relation")),
            "registering_agency_code": call.agency_code or call.require("registering_agency_code"),
        }
        held = ReadBack("/deaths", {"deceased_id_number": deceased["id_number"]})
        outcome = await post_once(self._client, "/deaths", body, call, done="death_already_registered", read_back=held)
        return mapped(
            outcome,
            lambda r: {
                "death_extract_number": r.get("registration_number"),
                "death_record_id": r.get("record_id"),
                "registered_on": r.get("registered_on"),
            },
            required=("death_extract_number",),
        )


def _parent(call: OperationCall, role: str) -> dict[str, Any] | None:
    name = call.get(f"{role}.full_name")
    return drop_none({"full_name": name, "id_number": call.get(f"{role}.id_number")}) if name else None

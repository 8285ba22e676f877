"""Each registry operation against the simulator's HTTP API: what we send is accepted, what we
return is what the catalogue promises, and errors are classified for the retry policy."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from contracts.catalogue import RegistryPerformer, load_catalogue
from registry_sync.adapters.benefits import HttpSocialInsurance
from registry_sync.adapters.catalogue import unsupported_operations
from registry_sync.adapters.http_client import ExternalHttpClient
from registry_sync.adapters.operations import MAX_RESULT_BYTES, OperationCall, OperationTable, mapped
from registry_sync.adapters.registries import HttpPopulationDatabase
from registry_sync.bootstrap import operation_table
from registry_sync.domain.outcomes import CallOutcome, Rejected, Succeeded, Transient
from registry_sync.settings import ExternalSystemSettings
from tests.support.catalogue import copy_of_packaged_data
from tests.unit.registry_sync.conftest import SIM, counters, person_number, seed_citizen

APPLICANT = {"applicant_full_name": "Trần Thị Bình", "applicant_id_number": "036190001234"}
#: Result fields the catalogue names that the population database has no source for (reported).
KNOWN_GAPS = {("1.004222", "household_id")}


@pytest.fixture
def table(clients: dict[str, ExternalHttpClient]) -> OperationTable:
    return operation_table(clients, "036")


def call(data: dict[str, Any], key: str = "cmd-1", **context: Any) -> OperationCall:
    return OperationCall(data=data, idempotency_key=key, agency_code="UBND-X-ANPHU", **{**APPLICANT, **context})


async def catalogue_data(procedure_code: str, admin: httpx.AsyncClient, rng: random.Random) -> dict[str, Any]:
    """Valid data for each registry procedure, shaped like the procedure's form."""
    if procedure_code == "1.004222":
        citizen = await seed_citizen(admin, rng)
        return {
            "person": {"id_number": citizen["id_number"], "full_name": citizen["full_name"]},
            "address": "Số 12 đường Trần Phú",
            "household_head_id_number": person_number(rng),
            "relation_to_head": "con",
        }
    if procedure_code == "1.003197":
        citizen = await seed_citizen(admin, rng, residence=True)
        person = {"id_number": citizen["id_number"], "full_name": citizen["full_name"]}
        return {"person": person, "reason": "deceased", "death_extract_number": "15/2024"}
    if procedure_code == "9.000001":
        child = {
            "personal_id_number": person_number(rng, sex="female", year=2024),
            "full_name": "Nguyễn Thị Hoa",
            "date_of_birth": "2024-07-10",
            "sex": "female",
        }
        return {"child": child, "address": "Số 12 đường Trần Phú"}
    deceased = {"id_number": person_number(rng, year=1950), "full_name": "Trần Văn An", "date_of_death": "2024-07-01"}
    extra = {"social_insurance_number": "0123456789"} if procedure_code == "9.000002" else {}
    extra |= {"beneficiary_category": "nguoi_cao_tuoi"} if procedure_code == "1.001731" else {}
    return {"deceased": deceased | extra, "death_extract_number": "15/2024", "declarant_relation": "con"}


def registry_procedures() -> list[tuple[str, str, str, list[str]]]:
    catalogue = load_catalogue()
    return [
        (p.code, p.performer.system, p.performer.operation, sorted(p.result.data_fields))
        for p in catalogue.procedures.values()
        if isinstance(p.performer, RegistryPerformer)
    ]


@pytest.mark.parametrize(("code", "system", "operation", "fields"), registry_procedures())
async def test_every_catalogue_operation_performs_and_returns_its_data_fields(
    code: str, system: str, operation: str, fields: list[str], table: OperationTable, admin: httpx.AsyncClient, rng
) -> None:
    assert table.supports(system, operation)
    outcome = await table.perform(system, operation, call(await catalogue_data(code, admin, rng)))
    assert isinstance(outcome, Succeeded), outcome
    missing = {f for f in fields if f not in outcome.body} - {f for c, f in KNOWN_GAPS if c == code}
    assert not missing, f"{code} {operation}: result lacks {missing}"
    effects = (await counters(admin, system))["effects"]
    assert sum(effects.values()) == 1


async def test_the_birth_and_death_operations_the_issue_names(table: OperationTable, admin, rng) -> None:
    child = {"full_name": "Lê Minh Khang", "sex": "male", "date_of_birth": "2024-07-12", "place_of_birth": "Nam Định"}
    mother = {"id_number": person_number(rng, sex="female", year=1995), "full_name": "Phạm Thị Mai"}
    birth = {"child": child, "mother": mother}
    assigned = await table.perform("population_db", "assign_personal_id_number", call(birth, "k1"))
    assert isinstance(assigned, Succeeded)
    number = assigned.body["personal_id_number"]
    assert number.startswith("036") and number[3:6] == "224"
    recorded = await table.perform("civil_status", "record_birth", call(birth, "k2"))
    assert isinstance(recorded, Succeeded) and recorded.body["birth_certificate_number"] == "1/2024"
    looked_up = await table.perform("population_db", "lookup_citizen", call({"id_number": number}, "k3"))
    assert isinstance(looked_up, Succeeded) and looked_up.body["full_name"] == "Lê Minh Khang"
    death = {
        "deceased": {
            "id_number": person_number(rng, year=1940),
            "full_name": "Vũ Văn Tư",
            "date_of_death": "2024-07-01",
            "place_of_death": "Nam Định",
        },
        "declarant_relation": "con",
    }
    died = await table.perform("civil_status", "record_death", call(death, "k4"))
    assert isinstance(died, Succeeded) and died.body["death_extract_number"] == "1/2024"


async def test_a_retry_with_the_same_key_is_answered_from_memory_not_acted_again(table, admin, rng) -> None:
    data = await catalogue_data("1.004222", admin, rng)
    first = await table.perform("population_db", "register_permanent_residence", call(data, "same"))
    again = await table.perform("population_db", "register_permanent_residence", call(data, "same"))
    assert isinstance(first, Succeeded) and isinstance(again, Succeeded)
    assert again.replayed and again.body == first.body
    assert (await counters(admin, "population_db"))["effects"] == {"register_permanent_residence": 1}


async def test_refusals_are_final_and_name_the_system_error(table, admin, rng) -> None:
    data = await catalogue_data("9.000001", admin, rng)
    assert isinstance(
        await table.perform("social_insurance", "issue_child_health_insurance_card", call(data, "a")), Succeeded
    )
    second = await table.perform("social_insurance", "issue_child_health_insurance_card", call(data, "b"))
    assert isinstance(second, Rejected)
    assert (second.status, second.error) == (409, "card_exists")
    unknown = {
        "person": {"id_number": person_number(rng), "full_name": "X"},
        "address": "A",
        "household_head_id_number": person_number(rng),
    }
    lost = await table.perform("population_db", "register_permanent_residence", call(unknown, "c"))
    assert isinstance(lost, Rejected) and (lost.status, lost.error) == (404, "not_found")


#: Writes a system makes once per person, refusing a second one ("card exists", "already paid").
ONCE_PER_PERSON = [
    ("population_db", "deregister_permanent_residence", "1.003197"),
    ("social_insurance", "issue_child_health_insurance_card", "9.000001"),
    ("social_insurance", "pay_funeral_allowance", "9.000002"),
    ("social_welfare", "grant_burial_support", "1.001731"),
    ("civil_status", "record_death", None),
]


async def once_data(procedure_code: str | None, admin: httpx.AsyncClient, rng: random.Random) -> dict[str, Any]:
    if procedure_code is not None:
        return await catalogue_data(procedure_code, admin, rng)
    deceased = {"id_number": person_number(rng, year=1940), "full_name": "Vũ Văn Tư", "date_of_death": "2024-07-01",
                "place_of_death": "Nam Định"}  # fmt: skip
    return {"deceased": deceased, "declarant_relation": "con"}


@pytest.mark.parametrize(("system", "operation", "code"), ONCE_PER_PERSON)
async def test_a_retry_the_system_no_longer_remembers_finds_its_own_record(
    system: str, operation: str, code: str | None, table: OperationTable, simulator, admin, rng
) -> None:
    """Systems forget idempotency keys after hours, and a command is retried for a day. Its retry after
    the system forgot, of a write the system had made, met "card exists" and the dossier recorded a
    refusal of what had been done. The record read back by natural key carries the command's reference."""
    simulator.state.sim.idempotency.capacity = 1  # each system remembers its last key only
    data = await once_data(code, admin, rng)
    first = await table.perform(system, operation, call(data, "ours"))
    assert isinstance(first, Succeeded), first
    theirs = await table.perform(system, operation, call(await once_data(code, admin, rng), "theirs"))
    assert isinstance(theirs, Succeeded)
    again = await table.perform(system, operation, call(data, "ours"))  # "ours" forgotten there
    assert isinstance(again, Succeeded) and again.replayed and again.body == first.body
    someone_else = await table.perform(system, operation, call(data, "another command"))
    assert isinstance(someone_else, Rejected) and someone_else.status == 409
    assert sum((await counters(admin, system))["effects"].values()) == 2


async def test_a_system_that_takes_no_reference_gets_the_write_without_one() -> None:
    """A registry simulator older than registry-sync refused the new field (422): every residence
    registration, the birth bundle's step among them, failed for good."""
    sent: list[dict[str, Any]] = []

    def strict(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        sent.append(body)
        if "reference" in body:
            refusal = {"error": "validation_failed", "message": "reference: Extra inputs are not permitted"}
            return httpx.Response(422, json=refusal)
        return httpx.Response(201, json={"residence_id": "TT-00000001", "address": body["address"]})

    client = ExternalHttpClient("population_db", ExternalSystemSettings(), SIM, transport=httpx.MockTransport(strict))
    data = {"person": {"id_number": "036190001234", "full_name": "Trần Văn An"}, "address": "Số 12"}
    try:
        outcome = await HttpPopulationDatabase(client, "036").register_permanent_residence(call(data))
    finally:
        await client.aclose()
    assert isinstance(outcome, Succeeded) and outcome.body["residence_id"] == "TT-00000001"
    assert ["reference" in body for body in sent] == [True, False]


async def test_a_residence_retried_after_the_database_forgot_the_key_is_registered_once(
    table: OperationTable, simulator, admin: httpx.AsyncClient, rng: random.Random
) -> None:
    """No "already done" refusal here (a person may register again): the retry registered a second
    residence, superseding the first with a copy under a new id."""
    simulator.state.sim.idempotency.capacity = 1  # the database remembers its last key only
    data = await catalogue_data("1.004222", admin, rng)
    first = await table.perform("population_db", "register_permanent_residence", call(data, "ours"))
    assert isinstance(first, Succeeded), first
    other = await table.perform("population_db", "register_permanent_residence",
                                call(await catalogue_data("1.004222", admin, rng), "theirs"))  # fmt: skip
    assert isinstance(other, Succeeded)
    again = await table.perform("population_db", "register_permanent_residence", call(data, "ours", attempt=2))
    assert isinstance(again, Succeeded) and again.replayed
    assert again.body["residence_id"] == first.body["residence_id"]
    assert (await counters(admin, "population_db"))["effects"] == {"register_permanent_residence": 2}


async def test_a_retry_whose_body_changed_since_the_first_attempt_finds_the_record_that_attempt_made(
    table: OperationTable, admin: httpx.AsyncClient, rng: random.Random
) -> None:
    """The first attempt went without the applicant (the dossier's details came late) and its answer was
    lost; the retry, with the applicant, met idempotency_key_reused: the step stopped, the card existing."""
    data = await catalogue_data("9.000001", admin, rng)
    first = await table.perform("social_insurance", "issue_child_health_insurance_card",
                                call(data, "cmd-card", applicant_full_name=None))  # fmt: skip
    assert isinstance(first, Succeeded), first
    again = await table.perform("social_insurance", "issue_child_health_insurance_card", call(data, "cmd-card"))
    assert isinstance(again, Succeeded) and again.body["card_number"] == first.body["card_number"]
    residence = await catalogue_data("1.004222", admin, rng)
    made = await table.perform("population_db", "register_permanent_residence", call(residence, "cmd-res"))
    changed = {**residence, "relation_to_head": "con" if residence.get("relation_to_head") != "con" else "cháu"}
    # Still the first attempt as counted (the worker stopped before recording it): no look first.
    again = await table.perform("population_db", "register_permanent_residence", call(changed, "cmd-res"))
    assert isinstance(made, Succeeded) and isinstance(again, Succeeded)
    assert again.body["residence_id"] == made.body["residence_id"]


async def test_a_write_first_sent_without_a_reference_is_answered_from_memory_when_retried(
    table: OperationTable, admin: httpx.AsyncClient, rng: random.Random
) -> None:
    """Sent by the build before (no reference), its answer lost, retried by this one under the same key:
    the system refused the body that differs (idempotency_key_reused), and the command failed for good."""
    data = await catalogue_data("9.000001", admin, rng)
    child = data["child"]
    earlier = {
        "id_number": child["personal_id_number"], "full_name": child["full_name"], "sex": child["sex"],
        "date_of_birth": child["date_of_birth"], "guardian_full_name": APPLICANT["applicant_full_name"],
    }  # fmt: skip
    path = "/social-insurance/v1/health-insurance-cards"
    first = await admin.post(path, json=earlier, headers={"Idempotency-Key": "cmd-old"})
    assert first.status_code == 201, first.text
    again = await table.perform("social_insurance", "issue_child_health_insurance_card", call(data, "cmd-old"))
    assert isinstance(again, Succeeded) and again.replayed
    assert again.body["card_number"] == first.json()["card_number"]


async def test_a_read_back_that_fails_for_now_is_retried_and_one_refused_leaves_the_refusal() -> None:
    refusal = httpx.Response(409, json={"error": "card_exists", "message": "the child already holds a card"})

    def answering(read_back: httpx.Response) -> Callable[[httpx.Request], httpx.Response]:
        return lambda request: refusal if request.method == "POST" else read_back

    data = {"child": {"personal_id_number": "036324000123", "full_name": "Hoa", "sex": "female",
                      "date_of_birth": "2024-07-10"}}  # fmt: skip
    outcomes = []
    for read_back in (httpx.Response(503), httpx.Response(404, json={"error": "not_found"}), httpx.Response(200)):
        transport = httpx.MockTransport(answering(read_back))
        client = ExternalHttpClient("social_insurance", ExternalSystemSettings(), "http://x", transport=transport)
        outcomes.append(await HttpSocialInsurance(client).issue_child_health_insurance_card(call(data)))
        await client.aclose()
    assert isinstance(outcomes[0], Transient) and outcomes[0].status == 503
    assert all(isinstance(o, Rejected) and o.error == "card_exists" for o in outcomes[1:]), outcomes


async def test_a_newborn_the_population_database_does_not_know_is_recorded_under_its_number_first(
    table, admin, rng
) -> None:
    number = person_number(rng, sex="female", year=2024)  # issued by the birth registration step
    newborn = {
        "person": {
            "id_number": number,
            "full_name": "Nguyễn Thị Hoa",
            "date_of_birth": "2024-07-10",
            "sex": "female",
            "birth_certificate_number": "12/2024",
        },
        "address": "Số 12 đường Trần Phú",
        "household_head_id_number": person_number(rng),
        "relation_to_head": "con",
    }
    first = await table.perform("population_db", "register_permanent_residence", call(newborn, "cmd-birth"))
    assert isinstance(first, Succeeded) and first.body["residence_address"] == "Số 12 đường Trần Phú"
    citizen = (await admin.get(f"/population/v1/citizens/{number}")).json()
    assert (citizen["full_name"], citizen["birth_record_id"]) == ("Nguyễn Thị Hoa", "12/2024")
    assert citizen["permanent_residence"]["address"] == "Số 12 đường Trần Phú"
    again = await table.perform("population_db", "register_permanent_residence", call(newborn, "cmd-birth"))
    assert isinstance(again, Succeeded) and again.replayed
    effects = {"assign_id_number": 1, "register_permanent_residence": 1}
    assert (await counters(admin, "population_db"))["effects"] == effects

    boy = {**newborn, "person": {**newborn["person"], "id_number": person_number(rng, sex="male", year=2024)}}
    boy["person"]["sex"] = "female"  # the number encodes a boy: the database refuses to record it
    refused = await table.perform("population_db", "register_permanent_residence", call(boy, "cmd-boy"))
    assert isinstance(refused, Rejected) and (refused.status, refused.error) == (422, "inconsistent_id_number")
    assert (await counters(admin, "population_db"))["effects"] == effects


async def test_a_newborns_number_held_by_someone_else_moves_nobodys_residence(table, admin, rng) -> None:
    """The number the birth registration issued is already a stranger's: the step is refused, and the
    stranger's record and residence stay as they were (registering first used to move them)."""
    number = person_number(rng, sex="female", year=2024)
    stranger = {"id_number": number, "full_name": "Phạm Thị Lan", "sex": "female", "date_of_birth": "2024-01-05",
                "birth_province_code": number[:3]}  # fmt: skip
    assert (await admin.post("/population/v1/citizens", json=stranger)).status_code == 201
    before = (await admin.get(f"/population/v1/citizens/{number}")).json()
    newborn = {
        "person": {"id_number": number, "full_name": "Nguyễn Thị Hoa", "date_of_birth": "2024-07-10",
                   "sex": "female", "birth_certificate_number": "13/2024"},
        "address": "Số 12 đường Trần Phú",
        "household_head_id_number": person_number(rng),
    }  # fmt: skip
    refused = await table.perform("population_db", "register_permanent_residence", call(newborn, "cmd-clash"))
    assert isinstance(refused, Rejected) and (refused.status, refused.error) == (409, "citizen_exists")
    assert (await admin.get(f"/population/v1/citizens/{number}")).json() == before


async def test_data_the_system_requires_but_the_form_lacks_fails_without_a_call(table, admin, rng) -> None:
    data = await catalogue_data("9.000002", admin, rng)
    del data["deceased"]["social_insurance_number"]
    outcome = await table.perform("social_insurance", "pay_funeral_allowance", call(data))
    assert isinstance(outcome, Rejected) and outcome.error == "missing_data"
    assert "deceased.social_insurance_number" in outcome.reason
    no_applicant = await table.perform(
        "social_welfare",
        "grant_burial_support",
        call(await catalogue_data("1.001731", admin, rng), applicant_full_name=None),
    )
    assert isinstance(no_applicant, Rejected) and "applicant.full_name" in no_applicant.reason
    assert (await counters(admin, "social_insurance"))["calls"] == 0
    assert (await counters(admin, "social_welfare"))["calls"] == 0


async def test_unknown_operations_are_refused() -> None:
    outcome = await OperationTable({}).perform("population_db", "teleport", call({}))
    assert isinstance(outcome, Rejected) and outcome.error == "unsupported_operation"


async def test_outages_and_rate_limits_are_transient_with_the_retry_after_hint(table, admin, rng) -> None:
    data = await catalogue_data("1.004222", admin, rng)
    await admin.patch("/admin/faults/population_db", json={"outage": True})
    down = await table.perform("population_db", "register_permanent_residence", call(data))
    assert isinstance(down, Transient) and down.status == 503 and down.counts_against_breaker
    await admin.put(
        "/admin/faults/population_db", json={"error_rate": 1.0, "error_mix": {"429": 1}, "retry_after_seconds": 3}
    )
    limited = await table.perform("population_db", "register_permanent_residence", call(data))
    assert isinstance(limited, Transient) and limited.retry_after == 3 and not limited.counts_against_breaker
    assert (await counters(admin, "population_db"))["effects"] == {}


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (httpx.ReadTimeout("slow"), "timeout: ReadTimeout"),
        (httpx.ConnectError("refused"), "connection failed: ConnectError"),
        (
            httpx.DecodingError("Error -3 while decompressing data: incorrect header check"),
            "unreadable answer: DecodingError",
        ),
    ],
)
async def test_timeouts_and_connection_failures_are_transient(error: Exception, reason: str) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise error

    client = ExternalHttpClient(
        "population_db", ExternalSystemSettings(), "http://x", transport=httpx.MockTransport(fail)
    )
    outcome = await client.call("POST", "/citizens", json={}, idempotency_key="k")
    await client.aclose()
    assert outcome == Transient(reason)


async def test_an_answer_that_does_not_decode_is_transient_not_an_escaping_error() -> None:
    """Escaping the client, it was retried every lease for ever and never counted as an attempt."""

    def corrupt(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Encoding": "gzip"}, content=b"not a gzip stream")

    client = ExternalHttpClient(
        "population_db", ExternalSystemSettings(), "http://x", transport=httpx.MockTransport(corrupt)
    )
    outcome = await client.call("POST", "/citizens", json={}, idempotency_key="k")
    await client.aclose()
    assert outcome == Transient("unreadable answer: DecodingError")


async def one_call(
    answer: Callable[[httpx.Request], Any], settings: ExternalSystemSettings | None = None
) -> CallOutcome:
    """The outcome of one POST to a system that answers with ``answer``."""
    transport = httpx.MockTransport(answer)
    client = ExternalHttpClient("population_db", settings or ExternalSystemSettings(), "http://x", transport=transport)
    try:
        return await client.call("POST", "/citizens", json={}, idempotency_key="k")
    finally:
        await client.aclose()


async def test_an_answer_trickling_in_is_cut_at_the_call_budget() -> None:
    """httpx's read timeout bounds each read: a chunk every 30 ms never trips it. Uncut, such a call
    held its command (the lease renewed meanwhile) and a concurrency slot for as long as it trickled."""

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):  # 3 s at most
            await asyncio.sleep(0.03)
            yield b" "

    def trickle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=chunks())

    timeouts = {f"{name}_timeout_seconds": 0.05 for name in ("connect", "read", "write", "pool")}
    started = time.monotonic()
    outcome = await one_call(trickle, ExternalSystemSettings(**timeouts))
    assert outcome == Transient("timeout: no complete answer within 0.2 s")
    assert time.monotonic() - started < 2


async def test_nul_characters_in_an_answer_are_dropped() -> None:
    """PostgreSQL stores no NUL: recording such an answer failed every lease, uncounted, and the error
    logged the citizen's data each time."""

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/refused"):
            return httpx.Response(422, json={"error": "bad\u0000", "message": "tên\u0000 sai"})
        return httpx.Response(201, json={"record_id": "R1", "full_name": "Nguyễn\u0000 Văn An", "names": ["A\u0000"]})

    client = ExternalHttpClient(
        "civil_status", ExternalSystemSettings(), "http://x", transport=httpx.MockTransport(answer)
    )
    done = await client.call("POST", "/births", json={}, idempotency_key="k")
    refused = await client.call("POST", "/refused", json={}, idempotency_key="k2")
    await client.aclose()
    assert done == Succeeded({"record_id": "R1", "full_name": "Nguyễn Văn An", "names": ["A"]}, 201)
    assert refused == Rejected("422 bad: tên sai", 422, "bad")


@pytest.mark.parametrize("content", [b'{"full_name": "\\ud800"}', b'{"amount_vnd": 123456789012345678901234567890}'])
async def test_an_answer_the_stack_cannot_carry_is_transient_not_a_failure_every_lease(content: bytes) -> None:
    """A lone surrogate or an integer past 64 bits passed Python's json, then failed as the result was
    recorded (orjson, PostgreSQL): every lease, uncounted, the registry called again."""

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(201, content=content, headers={"Content-Type": "application/json"})

    assert await one_call(answer) == Transient("201 with a body that is not JSON", 201)


async def test_a_redirect_is_transient_and_says_where_to() -> None:
    def moved(request: httpx.Request) -> httpx.Response:
        return httpx.Response(308, headers={"Location": "https://x/citizens"})

    assert await one_call(moved) == Transient("308 redirected to https://x/citizens", 308)


async def test_a_redirect_to_a_path_naming_a_person_says_where_to_with_the_number_masked() -> None:
    """Population-database paths name the person: masked only when stored, the reason went unmasked
    to the guard's ERROR log and to whoever else read the outcome."""

    gateway = "https://gw.example.gov.vn/population/v1/citizens"

    def moved(request: httpx.Request) -> httpx.Response:
        return httpx.Response(301, headers={"Location": f"{gateway}/036190000123"})

    assert await one_call(moved) == Transient(f"301 redirected to {gateway}/03********23", 301)


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (
            "Citizen 036190000123 (Nguyen Van An) already holds card TE1791234567890",
            "409 error: Citizen 03********23 (Nguyen Van An) already holds card TE1791234567890",
        ),
        ({"type": "conflict", "card": "TE1791234567890"}, '409 error: {"type":"conflict","card":"TE1791234567890"}'),
        ("TE1791234567890", "409 error: TE1791234567890"),
        (["card_exists"], '409 error: ["card_exists"]'),
    ],
)
async def test_an_error_that_is_no_code_is_kept_in_the_reason_and_recorded_as_none(error: Any, reason: str) -> None:
    """The error went word for word into the failure event's code and reporting's live feed, which
    carry no personal data: the person's number, name and card number for every dashboard to see, an
    object as its Python repr."""
    outcome = await one_call(lambda _: httpx.Response(409, json={"error": error}))
    assert outcome == Rejected(reason, 409, None)


@pytest.mark.parametrize("code", ["card_exists", "idempotency_key_reused", "E-1001", "citizen.exists", 40901])
async def test_a_system_error_code_is_recorded_as_the_code(code: str | int) -> None:
    answer = {"error": code, "message": "the child already holds card TE1791234567890"}
    outcome = await one_call(lambda _: httpx.Response(409, json=answer))
    assert outcome == Rejected(f"409 {code}: the child already holds card TE1791234567890", 409, str(code))


async def test_the_idempotency_key_and_credentials_are_sent() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"ok": True})

    settings = ExternalSystemSettings(api_key="s3cret")
    client = ExternalHttpClient("portal", settings, "http://real.example/api", transport=httpx.MockTransport(answer))
    outcome = await client.call("POST", "/dossiers", json={}, idempotency_key="cmd-9", correlation_id="c-1")
    await client.aclose()
    assert outcome == Succeeded({"ok": True}, 201)
    request = seen[0]
    assert str(request.url) == "http://real.example/api/dossiers"
    assert request.headers["Idempotency-Key"] == "cmd-9"
    assert request.headers["Authorization"] == "Bearer s3cret"
    assert request.headers["X-Correlation-ID"] == "c-1"


def test_a_catalogue_edition_ahead_of_the_code_is_named_at_start_up(table: OperationTable, tmp_path: Path) -> None:
    """A procedure whose registry operation this build lacks would have every command refused: the
    service says which at start-up (as an error in its log) instead of at the first citizen's dossier."""
    assert unsupported_operations(load_catalogue(), table) == []
    edition = copy_of_packaged_data(tmp_path / "catalogue")
    path = edition / "procedures" / "permanent_residence.json"
    procedure = json.loads(path.read_text(encoding="utf-8"))
    procedure["performer"]["operation"] = "register_temporary_residence"
    path.write_text(json.dumps(procedure, ensure_ascii=False), encoding="utf-8")
    assert unsupported_operations(load_catalogue(edition), table) == [
        "1.004222: population_db/register_temporary_residence"
    ]


def test_a_result_too_large_to_carry_on_is_refused_with_the_reason() -> None:
    """A broken system answering megabytes in a result field: put in the command's outcome event, it
    could outgrow what the broker takes."""

    def residence(body: dict[str, Any]) -> dict[str, Any]:
        return {"residence_address": body["address"], "residence_id": body.get("id")}

    small = mapped(Succeeded({"address": "Thôn 1", "id": None}, 201), residence)
    assert small == Succeeded({"residence_address": "Thôn 1"}, 201)
    huge = mapped(Succeeded({"address": "x" * MAX_RESULT_BYTES}, 201), residence)
    assert isinstance(huge, Rejected) and (huge.status, huge.error) == (201, "result_too_large")
    assert mapped(Transient("503", 503), residence) == Transient("503", 503)


async def test_a_wrong_base_url_is_an_outage_to_wait_out_not_a_refusal(simulator: Any) -> None:
    """A path missing from the settings' base URL: every command meets 404 or 405 for no record of the
    citizen's. Refused, one typo ended every queued command for good."""
    outcome = await _a_card_through(f"{SIM}/social-insurance", httpx.ASGITransport(app=simulator))
    assert isinstance(outcome, Transient) and outcome.status == 404 and "base URL" in outcome.reason
    for page in (httpx.Response(404, text="<html>nginx</html>"), httpx.Response(404, json={"detail": "Not Found"}),
                 httpx.Response(405, json={"error": "method_not_allowed"})):  # fmt: skip
        assert isinstance(ExternalHttpClient.outcome(page), Transient)
    for record_missing in ({"error": "not_found", "message": "no card"}, {"detail": "Citizen 036224000012 not found"},
                           {"code": "CITIZEN_NOT_FOUND"}):  # fmt: skip
        # The system's own answer about a record stands, whatever it names its fields.
        assert isinstance(ExternalHttpClient.outcome(httpx.Response(404, json=record_missing)), Rejected)


@pytest.mark.parametrize(
    "answer",
    [httpx.Response(201, json={}), httpx.Response(202, json={"status": "queued"}), httpx.Response(204)],
)
async def test_a_success_that_does_not_say_what_was_made_is_refused_not_a_result(answer: httpx.Response) -> None:
    """A 201 {} or a 202 "queued" completed the step: the citizen got a health-insurance card with no
    number, and the step counted as processed."""
    outcome = await _a_card_through(SIM, httpx.MockTransport(lambda _: answer))
    assert isinstance(outcome, Rejected) and outcome.error == "incomplete_result"
    assert f"{answer.status_code} with no card_number" in outcome.reason


def test_a_result_with_a_malformed_identification_number_is_refused() -> None:
    def citizen(body: dict[str, Any]) -> dict[str, Any]:
        return {"personal_id_number": body.get("id_number")}

    assert mapped(Succeeded({"id_number": "036224000012"}, 201), citizen, required=("personal_id_number",)) == (
        Succeeded({"personal_id_number": "036224000012"}, 201)
    )
    broken = mapped(Succeeded({"id_number": "12"}, 201), citizen, required=("personal_id_number",))
    assert isinstance(broken, Rejected) and "a malformed personal_id_number" in broken.reason


async def _a_card_through(base_url: str, transport: httpx.AsyncBaseTransport) -> CallOutcome:
    """A child's card asked for through a client of social insurance at ``base_url``."""
    client = ExternalHttpClient("social_insurance", ExternalSystemSettings(), base_url, transport=transport)
    child = {"personal_id_number": "036224000012", "full_name": "Lê Văn Bé", "sex": "male",
             "date_of_birth": "2024-07-01"}  # fmt: skip
    try:
        card = call({"child": child}, applicant_full_name="Lê Thị Mẹ")
        return await HttpSocialInsurance(client).issue_child_health_insurance_card(card)
    finally:
        await client.aclose()

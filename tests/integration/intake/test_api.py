"""The intake API against the real database and broker: catalogue, submission, codes, idempotency,
duplicates, validation, citizen actions, and the events that reach Kafka."""

from __future__ import annotations

import asyncio
import json
import unicodedata
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from contracts.catalogue import load_catalogue
from contracts.events import workflow
from contracts.events.common import DossierStatus
from intake.adapters.subjects import rekey_open_subjects
from intake.domain.text import SUBJECT_RULE
from tests.integration.intake.conftest import RunningIntake
from tests.support.kafka import eventually, read_topic
from tests.unit.intake.contract import assert_matches_contract
from tests.unit.intake.samples import STRANGER_ID, applicant, birth_dossier, criminal_record_dossier

pytestmark = pytest.mark.integration

ISSUE_PROCEDURES = {"1.001193", "1.004222", "9.000001", "1.000656", "1.003197", "9.000002", "1.001731"}


async def test_the_catalogue_is_served_with_forms(intake: RunningIntake) -> None:
    listing = (await intake.client.get("/v1/procedures")).json()
    procedures = {p["code"]: p for p in listing["items"]}
    assert ISSUE_PROCEDURES <= set(procedures) and len(procedures) >= 10
    birth = procedures["1.001193"]
    assert birth["name_vi"] == "Đăng ký khai sinh"
    assert {"field", "authority_level", "processing_time", "fee", "online_level", "required_documents"} <= set(birth)
    assert birth["form_schema"]["type"] == "object"
    assert (await intake.client.get("/v1/procedures/1.001193")).json() == birth
    assert (await intake.client.get("/v1/procedures/9.999999")).status_code == 404
    civil = (await intake.client.get("/v1/procedures", params={"field": "ho_tich"})).json()["items"]
    assert civil and all(p["field"] == "ho_tich" for p in civil)
    agencies = (await intake.client.get("/v1/agencies")).json()["items"]
    assert {a["level"] for a in agencies} == {"commune", "district", "province"}
    bundles = (await intake.client.get("/v1/bundle-types")).json()["items"]
    assert {b["bundle_type"] for b in bundles} >= {"birth", "death"}


async def test_a_submission_is_tracked_by_code_and_by_id(intake: RunningIntake) -> None:
    response = await intake.client.post("/v1/dossiers", json=birth_dossier("counter", child_name="Lê Văn Một"))
    assert response.status_code == 201, response.text
    receipt = response.json()
    assert (receipt["status"], receipt["status_code"]) == ("received", 2)
    assert receipt["due_at"] is not None
    view = (await intake.client.get(f"/v1/dossiers/{receipt['code']}")).json()
    assert (view["code"], view["status"], view["due_at"]) == (receipt["code"], "received", receipt["due_at"])
    assert view["competent_agency"]["code"] == "UBND-X-YENHOA"
    assert [e["event"] for e in view["timeline"]] == ["DossierSubmitted"]
    assert (await intake.client.get(f"/v1/dossiers/{receipt['dossier_id']}")).json()["code"] == receipt["code"]
    # A UUID in upper case is the same id (it was a 404 to a portal that upper-cases them), to the view
    # and to the citizen's actions.
    upper = receipt["dossier_id"].upper()
    assert (await intake.client.get(f"/v1/dossiers/{upper}")).json()["code"] == receipt["code"]
    withdrawal = await intake.client.post(f"/v1/dossiers/{upper}/withdrawals", json={"reason": "nộp nhầm"})
    assert withdrawal.status_code == 202, withdrawal.text
    assert (await intake.client.get("/v1/dossiers/UBND-X-YENHOA-200101-0001")).status_code == 404


async def test_the_receipt_and_the_view_say_how_the_result_will_be_received(intake: RunningIntake) -> None:
    """Form 01 tells the citizen where and when to collect the result; one delivered by post or online
    is not collected at all. The postal address stays out of the view, which anyone with the code reads."""
    address = "Số 7, thôn Hải Nạp, xã Yên Hòa"
    body = {**criminal_record_dossier(), "result_delivery": {"method": "postal", "address": address}}
    receipt = (await intake.client.post("/v1/dossiers", json=body)).json()
    assert receipt["result_delivery"] == "postal"
    view = (await intake.client.get(f"/v1/dossiers/{receipt['code']}")).json()
    assert view["result_delivery"] == "postal" and address not in str(view)
    counter = (await intake.client.post("/v1/dossiers", json=criminal_record_dossier())).json()
    assert counter["result_delivery"] == "counter"  # the default, as before the choice existed


async def test_bad_input_names_every_bad_field(intake: RunningIntake) -> None:
    body = birth_dossier(child_name="Lê Văn Hai", born="2099-01-01")
    body["form"]["mother"]["id_number"] = "036095000123"  # a man's number
    body["applicant"]["phone"] = "call me"
    response = await intake.client.post("/v1/dossiers", json=body)
    assert response.status_code == 422
    assert {e["path"] for e in response.json()["detail"]} == {"$.applicant.phone"}  # the request shape first
    del body["applicant"]["phone"]
    response = await intake.client.post("/v1/dossiers", json=body)
    assert response.status_code == 422
    assert {e["path"] for e in response.json()["detail"]} == {"$.form.child.date_of_birth", "$.form.mother.id_number"}
    for bad in (b"not json", b"[]", b'{"procedure_code": 1}'):
        response = await intake.client.post("/v1/dossiers", content=bad, headers={"content-type": "application/json"})
        assert response.status_code == 422 and response.json()["error"] == "validation_failed"
    response = await intake.client.post("/v1/dossiers", json={**birth_dossier(), "colour": "blue"})
    assert response.status_code == 422 and response.json()["detail"][0]["path"] == "$.colour"
    too_big = await intake.client.post("/v1/dossiers", content=b"{" + b" " * 1_100_000 + b"}")
    assert too_big.status_code == 413


async def test_a_duplicate_open_dossier_is_409_with_the_existing_code_to_its_own_applicant_only(
    intake: RunningIntake,
) -> None:
    """Anyone who knew the subject's ID numbers (a child's parents', the deceased's) was told the code of
    another person's open dossier, and with it where and when it was filed: its view and actions open."""
    first = (await intake.client.post("/v1/dossiers", json=birth_dossier(child_name="Lê Văn Ba"))).json()
    again = await intake.client.post("/v1/dossiers", json=birth_dossier("counter", child_name="Lê Văn Ba"))
    assert again.status_code == 409
    assert again.json() | {"detail": None} == {
        "error": "duplicate_dossier", "detail": None, "existing_code": first["code"],
    }
    stranger = {**birth_dossier("counter", child_name="Lê Văn Ba"), "applicant": applicant(STRANGER_ID)}
    refused = await intake.client.post("/v1/dossiers", json=stranger)
    assert refused.status_code == 409
    assert refused.json() == {
        "error": "duplicate_dossier",
        "detail": "an open dossier of this procedure already exists for this subject",
        "existing_code": None,
    }


async def test_the_same_child_typed_another_way_is_still_the_same_child(intake: RunningIntake) -> None:
    """Vietnamese keyboards write "Lê Thị Hồng" composed or decomposed (Unicode dựng sẵn / tổ hợp):
    both look the same, and the duplicate check saw two children, so one child could be registered
    twice and get two identification numbers."""
    first = (await intake.client.post("/v1/dossiers", json=birth_dossier(child_name="Lê Thị Hồng"))).json()
    typed_apart = unicodedata.normalize("NFD", "Lê  Thị Hồng ")  # and with stray spaces
    assert typed_apart != "Lê Thị Hồng"
    again = await intake.client.post("/v1/dossiers", json=birth_dossier("counter", child_name=typed_apart))
    assert again.status_code == 409 and again.json()["existing_code"] == first["code"]
    hidden = "Lê Thị \u200bHồng"  # a zero-width space: it shows nothing, and passed for another child
    again = await intake.client.post("/v1/dossiers", json=birth_dossier("counter", child_name=hidden))
    assert again.status_code == 409 and again.json()["existing_code"] == first["code"]
    # What is kept and published is the composed form, the one the national databases use.
    other = unicodedata.normalize("NFD", " Lê Thị\u200b Hồng\u202e  Nhung ")  # and without what shows nothing
    receipt = (await intake.client.post("/v1/dossiers", json=birth_dossier(child_name=other))).json()
    stored = await intake.scalar("SELECT envelope::text FROM events WHERE stream_id = :s", s=receipt["dossier_id"])
    assert json.loads(str(stored))["payload"]["form"]["child"]["full_name"] == "Lê Thị Hồng Nhung"


async def test_concurrent_submissions_get_consecutive_codes(intake: RunningIntake) -> None:
    def body(i: int) -> dict[str, Any]:
        return {**birth_dossier(child_name=f"Trẻ số {i}"), "receiving_agency": "UBND-X-ANPHU"}

    responses = await asyncio.gather(*(intake.client.post("/v1/dossiers", json=body(i)) for i in range(12)))
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses]
    numbers = sorted(int(r.json()["code"].rsplit("-", 1)[1]) for r in responses)
    assert numbers == list(range(1, 13))


async def test_an_idempotency_race_ends_as_one_dossier(intake: RunningIntake) -> None:
    races = {f"race-{i}": birth_dossier(child_name=f"Lê Văn Bốn {i}") for i in range(3)}
    responses = await asyncio.gather(
        *(
            intake.client.post("/v1/dossiers", json=body, headers={"Idempotency-Key": key})
            for key, body in races.items()
            for _ in range(2)  # the same request twice at the same moment
        )
    )
    for first, second in zip(responses[::2], responses[1::2], strict=True):
        assert (first.status_code, second.status_code) == (201, 201), (first.text, second.text)
        assert first.json() == second.json()
        assert {first.headers.get("idempotent-replayed"), second.headers.get("idempotent-replayed")} == {None, "true"}
        code = first.json()["code"]
        assert await intake.scalar("SELECT count(*) FROM dossiers WHERE code = :c", c=code) == 1
        assert await intake.scalar("SELECT count(*) FROM events WHERE envelope->'payload'->>'code' = :c", c=code) == 1
    assert await intake.scalar(
        "SELECT count(*) FROM idempotency_keys WHERE key LIKE 'race-%' AND response IS NOT NULL"
    ) == len(races)
    first = responses[0]
    later = await intake.client.post("/v1/dossiers", json=races["race-0"], headers={"Idempotency-Key": "race-0"})
    assert (later.status_code, later.json()) == (201, first.json())
    other = await intake.client.post(
        "/v1/dossiers", json=birth_dossier(child_name="Khác"), headers={"Idempotency-Key": "race-0"}
    )
    assert other.status_code == 409 and other.json()["error"] == "idempotency_key_reused"


async def test_a_payment_is_taken_for_what_is_owed(intake: RunningIntake) -> None:
    """The fee (200,000 VND) less what was paid; a dossier from before intake counted payment requests
    (requested_amount NULL) takes a payment as it used to."""
    receipt = (await intake.client.post("/v1/dossiers", json=criminal_record_dossier())).json()
    base = f"/v1/dossiers/{receipt['code']}"
    keys = (f"owed-{n}" for n in range(10))

    async def pay(path: str, body: dict[str, Any]) -> httpx.Response:
        return await intake.client.post(f"{path}/payments", json=body, headers={"Idempotency-Key": next(keys)})

    beyond = await pay(base, {"amount": 200_001, "method": "qr", "online": True})
    assert beyond.status_code == 422 and beyond.json()["detail"][0]["path"] == "$.amount"
    part = {"amount": 150_000, "method": "cash", "online": False}
    assert (await pay(base, part)).status_code == 201
    rest = {"amount": 50_000, "method": "cash", "online": False}
    assert (await pay(base, rest)).status_code == 201
    nothing = await pay(base, rest)
    assert nothing.status_code == 409 and "nothing is owed" in nothing.json()["detail"]

    older = (await intake.client.post("/v1/dossiers", json=criminal_record_dossier())).json()
    async with intake.app.state.runtime.engine.begin() as conn:
        await conn.execute(text("UPDATE dossiers SET requested_amount = NULL WHERE code = :c"), {"c": older["code"]})
    asked = {"amount": 500_000, "method": "qr", "online": True}  # asked for by an official before the upgrade
    assert (await pay(f"/v1/dossiers/{older['code']}", asked)).status_code == 201


async def test_a_supplement_brings_what_the_request_names(intake: RunningIntake) -> None:
    """Any listed document was taken as the answer: the clock resumed without what was asked, and the
    official's second request made the dossier overdue."""
    receipt = (await intake.client.post("/v1/dossiers", json=birth_dossier("counter", child_name="Đỗ An Nhiên"))).json()
    code, dossier_id = receipt["code"], receipt["dossier_id"]
    common: dict[str, Any] = {"dossier_id": dossier_id, "code": code, "agency": "UBND-X-YENHOA"}
    asked = workflow.RequestedDocument(kind="giay_chung_sinh", name="Giấy chứng sinh")
    request = workflow.SupplementRequested(**common, status=DossierStatus.SUPPLEMENT_REQUESTED, status_code=5,
                                           at=datetime.now(UTC), official_id="cb-01", reason="Thiếu giấy chứng sinh",
                                           request_number=1, documents=[asked])  # fmt: skip
    await intake.publish(intake.settings.topics.workflow_events, (request, dossier_id))

    async def requested() -> bool:
        view = (await intake.client.get(f"/v1/dossiers/{code}")).json()
        return bool(view["awaiting_supplement"])

    await eventually(requested, timeout=20)
    view = (await intake.client.get(f"/v1/dossiers/{code}")).json()
    assert view["requested_documents"] == ["giay_chung_sinh"]
    base = f"/v1/dossiers/{code}/supplements"
    other = {"documents": [{"kind": "to_khai_khai_sinh", "digitized": True, "reused": False}]}
    lacking = await intake.client.post(base, json=other)
    assert lacking.status_code == 422, lacking.text
    assert [(e["path"], e["type"]) for e in lacking.json()["detail"]] == [("$.documents", "requested_document_missing")]
    brought = {"documents": [{"kind": "giay_chung_sinh", "digitized": True, "reused": False}]}
    assert (await intake.client.post(base, json=brought)).status_code == 202
    assert (await intake.client.post(base, json=other)).status_code == 202  # nothing asked for any more
    assert (await intake.client.get(f"/v1/dossiers/{code}")).json()["requested_documents"] == []


async def test_citizen_actions_append_events(intake: RunningIntake) -> None:
    at_the_counter = {**criminal_record_dossier(), "channel": "counter"}  # received at once: it can be rated
    receipt = (await intake.client.post("/v1/dossiers", json=at_the_counter)).json()
    base = f"/v1/dossiers/{receipt['code']}"
    payment = {"amount": 200_000, "method": "qr", "online": True}
    paid = await intake.client.post(f"{base}/payments", json=payment, headers={"Idempotency-Key": "pay-1"})
    assert paid.status_code == 201 and paid.json()["event_type"] == "FeePaid"
    replay = await intake.client.post(f"{base}/payments", json=payment, headers={"Idempotency-Key": "pay-1"})
    assert replay.json()["event_id"] == paid.json()["event_id"]
    assert (await intake.client.post(f"{base}/ratings", json={"score": 5})).status_code == 201
    assert (await intake.client.post(f"{base}/ratings", json={"score": 1})).status_code == 409
    assert (await intake.client.post(f"{base}/ratings", json={"score": 6})).status_code == 422
    supplement = {"documents": [{"kind": "to_khai_ly_lich_tu_phap", "digitized": True, "reused": False}]}
    assert (await intake.client.post(f"{base}/supplements", json=supplement)).status_code == 202
    assert (await intake.client.post(f"{base}/supplements", json={"documents": []})).status_code == 422
    foreign = {"documents": [{"kind": "giay_chung_sinh", "digitized": True, "reused": False}]}
    refused = await intake.client.post(f"{base}/supplements", json=foreign)
    assert refused.status_code == 422, refused.text
    assert [e["path"] for e in refused.json()["detail"]] == ["$.documents[0].kind"]
    assert (await intake.client.post(f"{base}/withdrawals", json={"reason": "Không cần nữa"})).status_code == 202
    unknown = await intake.client.post("/v1/dossiers/NOPE-200101-0001/withdrawals", json={"reason": "x"})
    assert unknown.status_code == 404
    view = (await intake.client.get(base)).json()
    assert (view["paid_amount"], view["rated"]) == (200_000, True)
    assert [e["event"] for e in view["timeline"]] == [
        "DossierSubmitted", "FeePaid", "SatisfactionRated", "SupplementProvided", "WithdrawalRequested",
    ]


async def test_accepted_submissions_reach_kafka_as_contract_events(intake: RunningIntake) -> None:
    receipt = (await intake.client.post("/v1/dossiers", json=birth_dossier(child_name="Lê Văn Năm"))).json()
    topic = intake.settings.topics.intake_events
    expected = int(await intake.scalar("SELECT count(*) FROM events"))  # type: ignore[call-overload]
    records = await read_topic(intake.infra.bootstrap_servers, topic, expect=expected, timeout=20)
    keyed = [(r.key.decode(), assert_matches_contract(r.value)) for r in records]
    assert len(records) == expected == len({e.event_id for _, e in keyed})
    [mine] = [e for key, e in keyed if key == receipt["dossier_id"]]  # keyed by dossier id
    assert (mine.type, mine.producer, mine.payload["code"]) == ("DossierSubmitted", "intake", receipt["code"])

    async def outbox_emptied() -> bool:  # the relay deletes after the broker's acknowledgement
        return await intake.scalar("SELECT count(*) FROM outbox") == 0

    await eventually(outbox_emptied, timeout=10)


async def test_one_child_in_capitals_or_with_the_tone_placed_otherwise_is_still_one_child(
    intake: RunningIntake,
) -> None:
    """'Nguyễn Thị Hoà' and 'NGUYỄN THỊ HÒA' (ID cards print names in capitals; keyboards place the
    tone on either vowel of 'oa') were two children to the duplicate check."""
    first = (await intake.client.post("/v1/dossiers", json=birth_dossier(child_name="Nguyễn Thị Hoà Mỹ"))).json()
    for typed in ("NGUYỄN THỊ HÒA MỸ", "Nguyễn Thị Hòa Mỹ"):
        again = await intake.client.post("/v1/dossiers", json=birth_dossier("counter", child_name=typed))
        assert again.status_code == 409 and again.json()["existing_code"] == first["code"], typed
    rule = await intake.scalar("SELECT subject_rule FROM dossiers WHERE code = :c", c=first["code"])
    assert rule == SUBJECT_RULE  # written by this build's rule: nothing to make again
    # A row without a rule (a pod of the older build, during a rolling update) is the older rule's.
    default = await intake.scalar(
        "SELECT column_default FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND table_name = 'dossiers' AND column_name = 'subject_rule'"
    )
    assert default == "1"


async def test_digests_made_by_the_older_rule_are_made_again_at_start_up(intake: RunningIntake) -> None:
    """Left as the older rule made them, an open dossier's digest never matched a new submission's,
    and its subject could be submitted again for as long as it stayed open."""
    old = (await intake.client.post("/v1/dossiers", json=birth_dossier(child_name="Phạm Thúy Hằng"))).json()
    twin = (await intake.client.post("/v1/dossiers", json=birth_dossier(child_name="Phạm Thúy Nga"))).json()
    engine = intake.app.state.runtime.engine
    async with engine.begin() as conn:  # as the older build left them
        await conn.execute(text("UPDATE dossiers SET subject_key = 'rule-1:' || code, subject_rule = 1"
                                " WHERE code = ANY(:c)"), {"c": [old["code"], twin["code"]]})  # fmt: skip
    typed = birth_dossier("counter", child_name="PHẠM THUÝ NGA")  # the twin under the new rule, taken now
    clash = (await intake.client.post("/v1/dossiers", json=typed)).json()

    assert await rekey_open_subjects(engine, load_catalogue()) == 1
    again = await intake.client.post("/v1/dossiers", json=birth_dossier("counter", child_name="Phạm Thuý Hằng"))
    assert again.status_code == 409 and again.json()["existing_code"] == old["code"]
    # The twin's subject was taken meanwhile, by the new rule: both stay open, the twin keeps its old digest.
    kept = await intake.scalar(
        "SELECT subject_key || ' ' || subject_rule FROM dossiers WHERE code = :c", c=twin["code"]
    )
    assert kept == f"rule-1:{twin['code']} {SUBJECT_RULE}" and clash["code"] != twin["code"]
    assert await rekey_open_subjects(engine, load_catalogue()) == 0  # nothing left behind

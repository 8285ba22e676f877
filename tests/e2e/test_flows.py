"""The whole stack as processes, through the public HTTP APIs only (issue 8, part 1): a birth bundle, a
death bundle with each funeral-allowance choice, a standalone dossier with a supplement round and a
payment, an overdue dossier with its apology letter — then reporting and the national portal must
reflect every one of them. The flows run once, concurrently (``flows`` fixture); each test reads
what its flow recorded."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest

from contracts import citizen_id
from tests.e2e.api import COMMUNE, PROVINCE, Json, StackApi, masked, pick
from tests.e2e.flows import FlowRun

pytestmark = pytest.mark.e2e

ENDED = {"refused", "stopped", "processed", "returned"}


def timeline(view: Json) -> list[str]:
    return [entry["event"] for entry in view["timeline"]]


async def test_birth_bundle_one_submission_three_results_and_the_childs_number(flows: FlowRun) -> None:
    birth = flows.flows["birth"]
    receipt, view, born = birth["receipt"], birth["view"], birth["born"]
    assert [d["step_id"] for d in receipt["dossiers"]] == [
        "birth_registration",
        "permanent_residence",
        "health_insurance_card",
    ]
    assert birth["task"]["code"] == receipt["dossiers"][0]["code"]  # the official found it on the task list
    number = birth["approved"]["results"][0]["data"]["personal_id_number"]
    assert citizen_id.check_consistency(number, sex="female", birth_year=born.year, province_code=PROVINCE) == []
    # The birth certificate's QR code, as the official prints it (the citizen's view does not show it:
    # it holds the applicant's number in full).
    qr = json.loads(birth["approved"]["results"][0]["qr_code"])
    first = receipt["dossiers"][0]
    assert (qr["ma_ho_so"], qr["ma_thu_tuc"], qr["ten_giay_to"]) == (first["code"], "1.001193", "Giấy khai sinh")
    assert qr["so_dinh_danh"] == birth["mother"]
    # What the official saw: the declaration the bundle produced and the certificate the mother handed in.
    approved = birth["approved"]
    assert sorted(d["kind"] for d in approved["documents"]) == ["giay_chung_sinh", "to_khai_khai_sinh"]
    assert approved["missing_documents"] == []

    # The citizen's view: completed, three results, the child's new number recognisable but masked.
    assert view["status"] == "completed" and view["failed_step"] is None
    assert [(s["status"], s["status_code"]) for s in view["steps"]] == [("processed", 9)] * 3
    assert [s["result"]["result_code"] for s in view["steps"]] == [f"{s['code']}-KQ1" for s in view["steps"]]
    assert [s["result"]["document_name"] for s in view["steps"]] == [
        "Giấy khai sinh",
        "Thông báo kết quả đăng ký thường trú",
        "Thẻ bảo hiểm y tế",
    ]
    assert view["steps"][0]["result"]["data"] == {"personal_id_number": masked(number)}
    assert number not in str(view)
    residence_events = timeline(birth["residence_view"])
    assert "RegistryCommandSucceeded" in residence_events and residence_events[-1] == "ResultIssued"

    # The national systems acted on the number the birth registration issued.
    citizen = birth["citizen"]
    assert (citizen["full_name"], citizen["sex"], citizen["date_of_birth"]) == ("Nguyễn Ngọc An", "female", str(born))
    assert citizen["birth_record_id"] == birth["approved"]["results"][0]["data"]["birth_certificate_number"]
    assert citizen["permanent_residence"]["address"] == "Số 5 đường Lê Lợi, xã Yên Hòa, huyện Hòa Mỹ"
    [card] = birth["cards"]
    saga = birth["saga"]
    assert saga["status"] == "completed"
    assert saga["results"]["health_insurance_card"]["card_number"] == card["card_number"]
    assert saga["results"]["permanent_residence"]["residence_address"] == citizen["permanent_residence"]["address"]


@pytest.mark.parametrize("choice", ["social_insurance", "social_welfare", "none"])
async def test_death_bundle_completes_with_each_funeral_allowance_choice(flows: FlowRun, choice: str) -> None:
    death = flows.flows[f"death_{choice}"]
    view = death["view"]
    steps = {"social_insurance": "funeral_allowance", "social_welfare": "burial_support", "none": None}[choice]
    expected = ["death_registration", "residence_deregistration", *([steps] if steps else [])]
    assert [s["step_id"] for s in view["steps"]] == expected
    assert view["status"] == "completed" and view["reason"] is None
    # Taken online (the choice without an allowance), each result is returned as it is issued.
    ended = "returned" if choice == "none" else "processed"
    assert all(s["status"] == ended and s["result"]["result_code"] == f"{s['code']}-KQ1" for s in view["steps"])
    if choice == "none":
        notes = [e["note"] for v in death["step_views"] for e in v["timeline"] if e["event"] == "ResultReturned"]
        assert notes == ["Đã trả kết quả: trực tuyến"] * 2

    citizen = death["citizen"]
    assert citizen["status"] == "deceased" and citizen["permanent_residence"] is None
    deregistered = citizen["residence_history"][-1]["deregistration"]
    death_extract = death["approved"]["results"][0]["data"]["death_extract_number"]
    assert (deregistered["reason"], deregistered["death_record_id"]) == ("death", death_extract)
    allowances, supports = death["allowances"], death["supports"]
    if choice == "social_insurance":
        assert [a["deceased"]["social_insurance_number"] for a in allowances] == ["3612345678"] and supports == []
        assert allowances[0]["recipient"]["relationship"] == "con"
    elif choice == "social_welfare":
        assert [s["deceased"]["beneficiary_category"] for s in supports] == ["nguoi_cao_tuoi"] and allowances == []
    else:
        assert allowances == [] and supports == []


async def test_a_refused_funeral_allowance_ends_the_bundle_partially_with_the_reason(flows: FlowRun) -> None:
    """Social insurance refuses the allowance (a relative was paid it before): the steps before it
    stay done, the bundle ends partially completed, and the citizen sees why."""
    death = flows.flows["death_social_insurance_already_paid"]
    view = death["view"]
    assert view["status"] == "partially_completed"
    assert view["failed_step"] == "funeral_allowance"
    paid_before = "trợ cấp mai táng đã được chi trả trước đó"  # the cause, in Vietnamese, not the system's words
    assert paid_before in view["reason"] and "already_paid" not in view["reason"]
    assert [(s["step_id"], s["status"]) for s in view["steps"]] == [
        ("death_registration", "processed"),
        ("residence_deregistration", "processed"),
        ("funeral_allowance", "stopped"),
    ]
    allowance_view = death["step_views"][2]
    failure = next(e for e in allowance_view["timeline"] if e["event"] == "RegistryCommandFailed")
    assert paid_before in failure["note"] and "already_paid" not in failure["note"]
    assert death["citizen"]["status"] == "deceased"  # the steps before it stay done
    assert [a["payment_id"] for a in death["allowances"]] == [death["earlier_claim"]["payment_id"]]  # not twice


async def test_standalone_dossier_with_a_supplement_round_and_an_online_payment(flows: FlowRun) -> None:
    flow = flows.flows["standalone"]
    receipt = flow["receipt"]
    assert (receipt["status"], receipt["status_code"], receipt["due_at"]) == ("registered", 1, None)
    status, replayed, body = flow["replay"]
    assert (status, replayed, body) == (201, "true", receipt)  # the portal's retry created nothing
    assert flow["acceptance_task"]["waiting_for"] == "acceptance"
    assert flow["competent"] == receipt["competent_agency"] != COMMUNE  # received at the commune, decided above
    assert flow["awaiting"]["status"] == "supplement_requested"
    # Form 02 names what to bring, by the catalogue's name.
    asked = next(e["note"] for e in flow["awaiting"]["timeline"] if e["event"] == "SupplementRequested")
    assert "Biên bản họp thành viên hộ gia đình về việc thành lập hộ kinh doanh" in asked
    assert flow["payable"]["fee"] == 100_000
    # Decided above, the result comes back to the commune's counter to be handed over by the appointment.
    task, approved = flow["return_task"], flow["approved"]
    assert task["status"] == "processed"
    assert datetime.fromisoformat(task["due_at"]) == datetime.fromisoformat(approved["due_at"])

    view = flow["view"]
    assert (view["status"], view["status_code"]) == ("returned", 10)
    assert (view["paid_amount"], view["rated"], view["overdue"]) == (100_000, True, False)
    assert view["result"]["on_time"] is True
    assert timeline(view) == [
        "DossierSubmitted",
        "DossierReceived",
        "DossierStepStarted",
        "SupplementRequested",
        "SupplementProvided",
        "SupplementReceived",
        "PaymentRequested",
        "FeePaid",
        "PaymentConfirmed",
        "ResultIssued",
        "ResultReturned",
        "SatisfactionRated",
    ]


async def test_overdue_dossier_gets_its_apology_letter_and_ends_overdue(flows: FlowRun) -> None:
    flow = flows.flows["overdue"]
    overdue_view, letter_view, view = flow["overdue_view"], flow["letter_view"], flow["view"]
    overdue_note = next(e["note"] for e in overdue_view["timeline"] if e["event"] == "DossierOverdue")
    assert overdue_note == "Hồ sơ quá hạn: yêu cầu bổ sung hồ sơ lần thứ hai"  # the 766 rule, for the citizen
    extended = flow["extended"]
    assert extended["apology_letter"] is True and extended["overdue"] is True
    assert datetime.fromisoformat(extended["due_at"]) == datetime.fromisoformat(flow["new_due"])
    letter = next(e for e in letter_view["timeline"] if e["event"] == "ApologyLetterIssued")
    assert flow["apology_reason"] in letter["note"]
    assert datetime.fromisoformat(letter_view["due_at"]) == datetime.fromisoformat(flow["new_due"])
    assert (view["status"], view["overdue"]) == ("returned", True)
    assert view["result"]["on_time"] is False  # a letter admits lateness, it does not launder it
    # Posted: the commune's counter saw it on its list as a result to post, and the citizen sees it went by post.
    assert flow["receipt"]["result_delivery"] == view["result_delivery"] == "postal"  # promised on form 01
    assert flow["return_task"]["delivery"] == "postal"
    returned = next(e for e in view["timeline"] if e["event"] == "ResultReturned")
    assert returned["note"] == "Đã trả kết quả: qua bưu chính công ích"


#: The citizen's view's statuses of a dossier that ended without a result.
WITHOUT_RESULT = frozenset({"refused", "stopped", "withdrawal_requested"})


async def test_reporting_summary_and_index_reflect_every_flow(flows: FlowRun, api: StackApi) -> None:
    codes = [code for flow in flows.flows.values() for code in flow.succeeded().codes]
    views = {code: await api.dossier_view(code) for code in codes}
    ended = [v for v in views.values() if v["status"] in ENDED]
    since = {"from": flows.since}

    # Polled until reporting has projected everything the flows did (each topic at its own pace).
    expected = {
        "received.total": len(codes),
        "received.by_channel": {"online": 1, "counter": len(codes) - 1, "postal": 0},
        "resolved.total": len(ended),
        "resolved.overdue": 1,
        "resolved.apology_letters": 1,
        "resolved.by_end.stopped": sum(v["status"] == "stopped" for v in ended),
        # a fee, unless the dossier ended without a result unpaid: it owed nothing then
        "payment.with_financial_obligation": sum(
            v["fee"] > 0 and (v["paid_amount"] > 0 or v["status"] not in WITHOUT_RESULT) for v in views.values()
        ),
        "payment.paid": 1,
        "payment.paid_online": 1,
        "satisfaction.rated": 1,
        "satisfaction.average_score": 5.0,
        # The population database served the birth's residence step and every deregistration.
        "digitisation.population_data_used": 1 + 4,
        "portal_sync.synced": len(codes),
        "bundles.by_type.birth.started": 1,
        "bundles.by_type.birth.completed": 1,
        "bundles.by_type.death.started": 4,
        "bundles.by_type.death.completed": 3,
        "bundles.by_type.death.partially_completed": 1,
    }
    summary = await api.settled(
        lambda: api.get("reporting", "/v1/metrics/summary", **since), lambda s: pick(s, expected) == expected
    )
    assert pick(summary, expected) == expected

    # A bundle step's documents are its declaration (from the combined form) and what the applicant
    # supplied: the birth bundle's health-insurance step is a digitised dossier.
    insurance = await api.get("reporting", "/v1/metrics/summary", procedure="9.000001", **since)
    assert insurance["digitisation"]["dossier_digitisation_rate"] == 1.0

    standalone = await api.get("reporting", "/v1/metrics/summary", procedure="1.001612", **since)
    assert standalone["received"]["online_rate"] == 1.0
    assert standalone["payment"]["online_payment_rate"] == 1.0
    assert standalone["resolved"]["on_time_rate"] == 1.0
    late = await api.get("reporting", "/v1/metrics/summary", procedure="9.000007", **since)
    assert (late["resolved"]["overdue"], late["resolved"]["on_time_rate"]) == (1, 0.0)
    assert [f["field"] for f in late["overdue_by_field"] if f["overdue"]] == ["can_cuoc"]

    # The index over the year counts the same dossiers the summary does, ours among them.
    year = str(date.fromisoformat(flows.since[:10]).year)
    index = await api.get("reporting", "/v1/index", period=year)
    year_summary = await api.get("reporting", "/v1/metrics/summary", **{"from": f"{year}-01-01", "to": f"{year}-12-31"})
    indicators = {i["key"]: i for g in index["groups"] for i in g["indicators"]}
    received, res = year_summary["received"], year_summary["resolved"]
    assert (indicators["on_time"]["numerator"], indicators["on_time"]["denominator"]) == (
        res["early"] + res["on_time"],
        res["total"],
    )
    assert indicators["on_time"]["numerator"] < indicators["on_time"]["denominator"]  # our overdue dossier
    assert indicators["online_submission"]["numerator"] == received["by_channel"]["online"] >= 1
    assert indicators["portal_sync"]["denominator"] == received["total"] >= len(codes)
    assert indicators["dossiers_paid_online"]["numerator"] == year_summary["payment"]["paid_online"] >= 1
    assert 0 < index["total"] < 100
    losses = await api.get("reporting", "/v1/index/losses", period=year, limit=500)
    overdue_code = flows.flows["overdue"].codes[0]
    lost = next(d for d in losses["dossiers"] if d["code"] == overdue_code)
    assert lost["outcome"] == "overdue" and "on_time" in {r["indicator"] for r in lost["reasons"]}


async def test_the_national_portal_has_every_dossier_in_its_final_state(flows: FlowRun, api: StackApi) -> None:
    codes = [code for flow in flows.flows.values() for code in flow.succeeded().codes]
    final = {code: (await api.dossier_view(code))["status_code"] for code in codes}

    async def synced() -> dict[str, Json] | None:
        portal = {d["code"]: d for d in await api.records("national_portal", "dossiers")}
        return portal if all(code in portal and portal[code]["state"] == final[code] for code in codes) else None

    portal = await api.until(synced)
    for code, state in final.items():
        results = [r["code"] for r in portal[code]["results"]]
        assert results == ([f"{code}-KQ1"] if state in (9, 10) else []), code
    standalone = portal[flows.flows["standalone"].codes[0]]
    assert standalone["channel"] == 2 and standalone["fees"][0]["paid_online"] is True
    assert [s["supplied_at"] is not None for s in standalone["supplements"]] == [True]
    status = await api.get("registry-sync", "/v1/sync/status")
    assert status["portal"]["failed"] == 0

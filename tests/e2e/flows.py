"""The stories the e2e suite tells, each driven through the public APIs only. A flow records what
each party saw on the way (receipts, views, the officials' answers, the simulator's records) in a
:class:`Flow`; the tests assert on it. All flows run at once, as a busy centre would have them."""

from __future__ import annotations

import asyncio
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tests.e2e.api import COMMUNE, StackApi, birth_bundle, death_bundle, new_due_date, new_person_number, today
from workcal import vietnam_tz

HOTICH = "cb-hotich"  # the commune's civil-status official


@dataclass
class Flow:
    """What one story produced; ``error`` when driving it failed (its tests report it)."""

    name: str
    facts: dict[str, Any] = field(default_factory=dict)
    codes: list[str] = field(default_factory=list)
    error: str | None = None

    def succeeded(self) -> Flow:
        """This flow, or the failure that stopped it while it was driven."""
        if self.error is not None:
            raise AssertionError(f"flow {self.name} failed while it was driven:\n{self.error}")
        return self

    def __getitem__(self, key: str) -> Any:
        return self.succeeded().facts[key]


@dataclass(frozen=True)
class FlowRun:
    """Every flow of the session, and a bound for reporting queries that includes all they did."""

    since: str  # ISO instant just before the flows started
    flows: dict[str, Flow]


async def birth(api: StackApi, flow: Flow) -> None:
    """Birth '3 in 1': one submission, an official registers the birth, the registries do the rest."""
    born = today() - timedelta(days=12)
    mother = new_person_number("female", 1995)
    receipt = await api.post("intake", "/v1/bundles", birth_bundle(mother, "female", born))
    flow.facts.update(receipt=receipt, born=born, mother=mother)
    flow.codes += [d["code"] for d in receipt["dossiers"]]
    registration = receipt["dossiers"][0]
    flow.facts["task"] = await api.task(COMMUNE, registration["dossier_id"])
    flow.facts["approved"] = await api.decide(registration["dossier_id"], "approve", HOTICH)
    bundle_id = receipt["bundle_id"]
    flow.facts["view"] = await api.bundle_ended(bundle_id)
    flow.facts["saga"] = await api.get("workflow", f"/v1/bundles/{bundle_id}")
    number = flow.facts["approved"]["results"][0]["data"]["personal_id_number"]
    flow.facts["citizen"] = await api.get("registry-simulator", f"/population/v1/citizens/{number}")
    cards = await api.records("social_insurance", "health_insurance_cards")
    flow.facts["cards"] = [c for c in cards if c["id_number"] == number]
    flow.facts["residence_view"] = await api.dossier_view(receipt["dossiers"][1]["code"])


async def death(api: StackApi, flow: Flow, choice: str, **deceased_extra: str) -> None:
    """Death '3 in 1' with the applicant's funeral-allowance choice."""
    died = today() - timedelta(days=3)
    deceased = await api.seed_citizen(
        full_name="Nguyễn Văn Đức", sex="male", born=died.replace(year=1950, day=1), address="Thôn Hải Nạp, xã Yên Hòa"
    )
    if flow.name.endswith("_already_paid"):  # a relative claimed the allowance before (not through us)
        earlier = {
            "deceased": {"id_number": deceased, "full_name": "Nguyễn Văn Đức", "date_of_death": died.isoformat(),
                         **deceased_extra},
            "recipient": {"full_name": "Nguyễn Thị Hoa", "relationship": "vợ"},
        }  # fmt: skip
        path = "/social-insurance/v1/funeral-allowances"
        flow.facts["earlier_claim"] = await api.post("registry-simulator", path, earlier, idempotency_key=deceased)
    # Without an allowance to collect, the family takes the results online: returned as they are issued.
    delivery = "online" if choice == "none" else "counter"
    receipt = await api.post("intake", "/v1/bundles", death_bundle(deceased, choice, died, delivery, **deceased_extra))
    flow.facts.update(receipt=receipt, deceased=deceased)
    flow.codes += [d["code"] for d in receipt["dossiers"]]
    registration = receipt["dossiers"][0]
    await api.task(COMMUNE, registration["dossier_id"])
    flow.facts["approved"] = await api.decide(registration["dossier_id"], "approve", HOTICH)
    flow.facts["view"] = await api.bundle_ended(receipt["bundle_id"])
    if delivery == "online":  # each result returned with its issue: the view may show one event first
        for dossier in receipt["dossiers"]:
            await api.view_when(dossier["code"], lambda v: v["status"] == "returned")
        flow.facts["view"] = await api.bundle_ended(receipt["bundle_id"])
    flow.facts["citizen"] = await api.get("registry-simulator", f"/population/v1/citizens/{deceased}")
    allowances = await api.records("social_insurance", "funeral_allowances")
    supports = await api.records("social_welfare", "burial_supports")
    flow.facts["allowances"] = [a for a in allowances if a["deceased"]["id_number"] == deceased]
    flow.facts["supports"] = [s for s in supports if s["deceased"]["id_number"] == deceased]
    flow.facts["step_views"] = [await api.dossier_view(d["code"]) for d in receipt["dossiers"]]


async def standalone(api: StackApi, flow: Flow) -> None:
    """A business household registered online: accepted, one supplement round, the fee paid by QR,
    approved, the result handed over and rated."""
    owner = new_person_number("male", 1988)
    body = {
        "procedure_code": "1.001612",
        "channel": "online",
        "receiving_agency": COMMUNE,
        "applicant": {"id_number": owner, "full_name": "Lê Văn Hùng", "email": "hung@example.vn"},
        "form": {
            "owner": {"id_number": owner, "full_name": "Lê Văn Hùng"},
            "business": {
                "name": "Tạp hóa Hùng Lan",
                "address": "Thôn Hải Nạp, xã Yên Hòa",
                "line_of_business": "Bán lẻ hàng tạp hóa",
                "capital_vnd": 50_000_000,
            },
        },
        "documents": [{"kind": "giay_de_nghi_dang_ky_ho_kinh_doanh", "digitized": True, "reused": False}],
    }
    key = f"e2e-{flow.name}-{owner}"
    receipt = await api.post("intake", "/v1/dossiers", body, idempotency_key=key)
    replay = await api.http.post(f"{api.urls['intake']}/v1/dossiers", json=body, headers={"Idempotency-Key": key})
    flow.facts["receipt"] = receipt
    flow.facts["replay"] = (replay.status_code, replay.headers.get("Idempotent-Replayed"), replay.json())
    flow.codes.append(receipt["code"])
    dossier_id, code = receipt["dossier_id"], receipt["code"]

    flow.facts["acceptance_task"] = await api.task(COMMUNE, dossier_id, waiting_for="acceptance")
    accepted = await api.decide(dossier_id, "accept", "cb-tiepnhan")
    competent = accepted["agency"]
    flow.facts.update(accepted=accepted, competent=competent)
    await api.task(competent, dossier_id)
    await api.decide(dossier_id, "request_supplement", "cb-kinhte", reason="Thiếu biên bản họp thành viên hộ",
                     documents=["bien_ban_hop_thanh_vien_ho"])  # fmt: skip
    flow.facts["awaiting"] = await api.view_when(code, lambda v: v["awaiting_supplement"])
    supplement = {"documents": [{"kind": "bien_ban_hop_thanh_vien_ho", "digitized": True, "reused": False}]}
    await api.post("intake", f"/v1/dossiers/{code}/supplements", supplement, expect=202)
    await api.workflow_when(dossier_id, lambda s: s["status"] == "processing")

    await api.decide(dossier_id, "request_payment", "cb-kinhte")
    flow.facts["payable"] = await api.view_when(code, lambda v: v["status"] == "payment_requested")
    payment = {"amount": flow.facts["payable"]["fee"], "method": "qr", "online": True}
    await api.post("intake", f"/v1/dossiers/{code}/payments", payment, idempotency_key=f"pay-{key}")
    await api.workflow_when(dossier_id, lambda s: s["status"] == "processing")

    flow.facts["approved"] = await api.decide(dossier_id, "approve", "cb-kinhte")
    flow.facts["return_task"] = await api.task(COMMUNE, dossier_id, waiting_for="result_return")
    await api.decide(dossier_id, "return_result", "cb-tiepnhan")
    await api.post("intake", f"/v1/dossiers/{code}/ratings", {"score": 5, "complaint": None})
    flow.facts["view"] = await api.view_when(code, lambda v: v["status"] == "returned" and v["rated"])


async def overdue(api: StackApi, flow: Flow) -> None:
    """An ID-card renewal that needs a second supplement (overdue by the 766 rule); the official
    sends the apology letter with a new return date, then decides; the new card is posted."""
    holder = new_person_number("female", 1979)
    body = {
        "procedure_code": "9.000007",
        "channel": "counter",
        "receiving_agency": COMMUNE,
        "applicant": {"id_number": holder, "full_name": "Phạm Thị Mai"},
        "form": {
            "person": {"id_number": holder, "full_name": "Phạm Thị Mai", "date_of_birth": "1979-04-02"},
            "reason": "damaged",
        },
        "documents": [{"kind": "the_can_cuoc_cu", "digitized": False, "reused": False}],
        "result_delivery": {"method": "postal", "address": "Số 12, thôn Hải Nạp, xã Yên Hòa"},
    }
    receipt = await api.post("intake", "/v1/dossiers", body)
    flow.facts["receipt"] = receipt
    flow.codes.append(receipt["code"])
    dossier_id, code = receipt["dossier_id"], receipt["code"]
    agency = (await api.workflow_when(dossier_id, lambda s: s["status"] == "processing"))["agency"]
    supplement = {"documents": [{"kind": "the_can_cuoc_cu", "digitized": True, "reused": False}]}
    for round_ in (1, 2):
        await api.task(agency, dossier_id)
        await api.decide(dossier_id, "request_supplement", "cb-cancuoc", reason=f"Ảnh thẻ cũ không rõ (lần {round_})")
        await api.view_when(code, lambda v: v["awaiting_supplement"])
        await api.post("intake", f"/v1/dossiers/{code}/supplements", supplement, expect=202)
        await api.workflow_when(dossier_id, lambda s: s["status"] == "processing")
    flow.facts["overdue_view"] = await api.view_when(code, lambda v: v["overdue"])
    due_at = (await api.workflow_dossier(dossier_id))["due_at"]
    new_due = new_due_date(due_at, 3)
    reason = "Chờ xác minh thông tin với Cơ sở dữ liệu quốc gia về dân cư"
    flow.facts["extended"] = await api.decide(dossier_id, "extend", "cb-cancuoc", reason=reason, new_due_at=new_due)
    flow.facts.update(old_due=due_at, new_due=new_due, apology_reason=reason)
    flow.facts["letter_view"] = await api.view_when(
        code, lambda v: any(e["event"] == "ApologyLetterIssued" for e in v["timeline"])
    )
    flow.facts["approved"] = await api.decide(dossier_id, "approve", "cb-cancuoc")
    flow.facts["return_task"] = await api.task(COMMUNE, dossier_id, waiting_for="result_return")
    await api.decide(dossier_id, "return_result", "cb-tiepnhan")
    flow.facts["view"] = await api.view_when(code, lambda v: v["status"] == "returned")


DEATH_CHOICES: dict[str, dict[str, str]] = {
    "social_insurance": {"social_insurance_number": "3612345678"},
    "social_welfare": {"beneficiary_category": "nguoi_cao_tuoi"},
    "none": {},
    "social_insurance_already_paid": {"social_insurance_number": "3612345679"},
}


async def run_all(api: StackApi) -> dict[str, Flow]:
    """Every story at once; returns each one's record, with the instant they started."""
    flows = {name: Flow(name) for name in ("birth", "standalone", "overdue", *(f"death_{c}" for c in DEATH_CHOICES))}
    drivers = {
        "birth": birth(api, flows["birth"]),
        "standalone": standalone(api, flows["standalone"]),
        "overdue": overdue(api, flows["overdue"]),
    }
    for choice, extra in DEATH_CHOICES.items():
        chosen = choice.removesuffix("_already_paid")
        drivers[f"death_{choice}"] = death(api, flows[f"death_{choice}"], chosen, **extra)
    outcomes = await asyncio.gather(*drivers.values(), return_exceptions=True)
    for name, outcome in zip(drivers, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            flows[name].error = "".join(traceback.format_exception(outcome))
    return flows


def started_at() -> str:
    """A bound for the reporting queries that includes everything the flows do from now on."""
    return (datetime.now(vietnam_tz()) - timedelta(seconds=1)).isoformat(timespec="seconds")


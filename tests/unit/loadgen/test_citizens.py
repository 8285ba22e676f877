"""The citizens' fees: online payers and counter applicants pay with the submission, an online
applicant who does not pay online pays in cash when collecting the result; nobody pays twice. A
withdrawing applicant asks once the dossier is received."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from contracts.catalogue import load_catalogue
from loadgen.api import Answer
from loadgen.citizens import CitizenPolicy, Citizens
from loadgen.mix import Payment, Submission
from loadgen.tracking import SeenEvent


class FakeApi:
    def __init__(self) -> None:
        self.actions: list[tuple[str, str, dict[str, Any]]] = []

    async def citizen(self, action: str, dossier_id: str, body: dict[str, Any]) -> Answer:
        self.actions.append((action, dossier_id, body))
        return Answer(201, {}, 0.0)


def submission(payment: Payment) -> Submission:
    return Submission("dossier", "dossier:1.004222", "/v1/dossiers", {"procedure_code": "1.004222"}, (), payment)


async def settled(citizens: Citizens) -> None:
    await asyncio.gather(*list(citizens._tasks))


async def test_who_pays_when() -> None:
    api = FakeApi()
    citizens = Citizens(api, load_catalogue(), CitizenPolicy(), random.Random(1))  # type: ignore[arg-type]
    plans = {
        "online-payer": Payment(20_000, "qr", True),
        "counter-applicant": Payment(20_000, "cash", False),
        "pays-on-collection": Payment(20_000, "cash", False, at_submission=False),
    }
    for dossier_id, payment in plans.items():
        citizens.submitted(submission(payment), {"dossier_id": dossier_id})
    await settled(citizens)
    assert sorted(d for _, d, _ in api.actions) == ["counter-applicant", "online-payer"]
    for dossier_id in plans:
        citizens.on_event(SeenEvent("ResultIssued", dossier_id, 0.0, {"dossier_id": dossier_id}))
    await settled(citizens)
    paid = [(d, body["online"]) for action, d, body in api.actions if action == "payments"]
    assert sorted(paid) == [("counter-applicant", False), ("online-payer", True), ("pays-on-collection", False)]


async def test_a_withdrawing_applicant_asks_once_the_dossier_is_received() -> None:
    api = FakeApi()
    citizens = Citizens(api, load_catalogue(), CitizenPolicy(), random.Random(1))  # type: ignore[arg-type]
    body = {"procedure_code": "1.004222"}
    plan = Submission("dossier", "dossier:1.004222", "/v1/dossiers", body, (), None, None, withdraws=True)
    citizens.submitted(plan, {"dossier_id": "d-1"})
    await settled(citizens)
    assert api.actions == []
    for _ in range(2):  # a redelivered event does not ask again
        citizens.on_event(SeenEvent("DossierReceived", "d-1", 0.0, {"dossier_id": "d-1"}))
        await settled(citizens)
    assert [(action, d) for action, d, _ in api.actions] == [("withdrawals", "d-1")]


async def test_a_citizen_brings_the_documents_the_official_named() -> None:
    api = FakeApi()
    citizens = Citizens(api, load_catalogue(), CitizenPolicy(), random.Random(1))  # type: ignore[arg-type]
    body = {"procedure_code": "1.004222"}
    citizens.submitted(Submission("dossier", "dossier:1.004222", "/v1/dossiers", body, (), None), {"dossier_id": "d-1"})
    asked = {"dossier_id": "d-1", "documents": [{"kind": "y_kien_chu_ho", "name": "Ý kiến của chủ hộ"},
                                                {"kind": "giay_to_cho_o_hop_phap", "name": "Giấy tờ chỗ ở"}]}
    citizens.on_event(SeenEvent("SupplementRequested", "d-1", 0.0, asked))
    await settled(citizens)
    [(action, _, supplement)] = api.actions
    kinds = [d["kind"] for d in supplement["documents"]]
    assert action == "supplements" and kinds == ["y_kien_chu_ho", "giay_to_cho_o_hop_phap"]

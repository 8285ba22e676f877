"""The citizen's views follow what workflow and registry-sync publish (events put on the topics here,
as those services would)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from contracts.events import registry, workflow
from contracts.events.common import DossierStatus
from tests.integration.intake.conftest import RunningIntake
from tests.support.kafka import eventually
from tests.unit.intake.samples import birth_bundle, birth_dossier

pytestmark = pytest.mark.integration

async def test_a_bundle_and_its_dossiers_follow_workflow_events(intake: RunningIntake) -> None:
    born = (datetime.now(UTC) - timedelta(days=20)).date().isoformat()  # the bundle is for a child under 6
    response = await intake.client.post("/v1/bundles", json=birth_bundle("online", "Phạm Minh Khang", born))
    assert response.status_code == 201, response.text
    receipt = response.json()
    now = datetime.now(UTC)  # workflow acts after the submission
    bundle_id, steps = receipt["bundle_id"], receipt["dossiers"]
    assert [s["status"] for s in steps] == ["registered"] * 3
    first = steps[0]
    common: dict[str, Any] = {"dossier_id": first["dossier_id"], "code": first["code"], "agency": "UBND-X-YENHOA"}
    bundle = {"bundle_id": bundle_id, "bundle_type": "birth"}
    due = now + timedelta(hours=6)
    topics = intake.settings.topics
    await intake.publish(
        topics.workflow_events,
        (workflow.DossierReceived(**common, status=DossierStatus.RECEIVED, status_code=2, at=now,
                                  official_id="cb-01", procedure_code="1.001193", due_at=due), first["dossier_id"]),
        (workflow.BundleStepStarted(**bundle, at=now, step_id="birth_registration",
                                    dossier_id=first["dossier_id"], inputs={}), bundle_id),
        (workflow.DossierStepStarted(**common, status=DossierStatus.PROCESSING, status_code=4,
                                     at=now + timedelta(minutes=5), official_id="cb-02", step="appraisal",
                                     step_due_at=due), first["dossier_id"]),
        (workflow.ResultIssued(**common, status=DossierStatus.PROCESSED, status_code=9,
                               at=now + timedelta(minutes=30), official_id="cb-02",
                               result_code=f"{first['code']}-KQ1", document_name="Giấy khai sinh",
                               data={"personal_id_number": "036224000001"}, on_time=True), first["dossier_id"]),
        (workflow.DossierOverdue(**common, status=DossierStatus.PROCESSED, status_code=9,
                                 at=now + timedelta(minutes=31), due_at=due), first["dossier_id"]),  # a timer
    )
    await intake.publish(
        topics.registry_events,
        (registry.PortalSyncSucceeded(dossier_id=first["dossier_id"], code=first["code"], status_code=9,
                                      operation="update", lag_seconds=0.4, synced_at=now + timedelta(minutes=31)),
         first["dossier_id"]),
    )

    async def processed() -> dict[str, Any] | None:
        view = (await intake.client.get(f"/v1/dossiers/{first['code']}")).json()
        done = view["status"] == "processed" and view["overdue"] and view["portal_sync"]
        return view if done else None

    view = await eventually(processed, timeout=20)
    assert view["status_code"] == 9
    assert view["current_handler"]["official_id"] == "cb-02"  # the timer event named no official
    assert view["received_at"] is not None and view["due_at"] == due.astimezone(view_tz(view)).isoformat()
    assert view["result"]["result_code"] == f"{first['code']}-KQ1"
    assert [e["event"] for e in view["timeline"]] == [
        "DossierSubmitted", "DossierReceived", "DossierStepStarted", "ResultIssued", "DossierOverdue",
    ]

    in_progress = (await intake.client.get(f"/v1/bundles/{bundle_id}")).json()
    assert in_progress["status"] == "processing"
    assert [s["status"] for s in in_progress["steps"]] == ["processed", "registered", "registered"]
    assert in_progress["steps"][0]["result_code"] == f"{first['code']}-KQ1"

    await intake.publish(
        topics.workflow_events,
        (workflow.BundleCompleted(**bundle, at=now + timedelta(hours=1), results={}), bundle_id),
    )

    async def completed() -> dict[str, Any] | None:
        found = (await intake.client.get(f"/v1/bundles/{bundle_id}")).json()
        return found if found["status"] == "completed" else None

    final = await eventually(completed, timeout=20)
    assert final["ended_at"] is not None
    assert (await intake.client.get(f"/v1/bundles/{'0' * 8}-0000-0000-0000-{'0' * 12}")).status_code == 404
    assert (await intake.client.get("/v1/bundles/not-a-uuid")).status_code == 404


def view_tz(view: dict[str, Any]) -> Any:
    return datetime.fromisoformat(view["due_at"]).tzinfo


async def test_an_appointment_shows_only_once_the_dossier_is_received(intake: RunningIntake) -> None:
    """An online dossier sent back for a supplement before acceptance: the supplement's due_at ends a
    fresh acceptance window, not an appointment, so the citizen's view shows none until reception."""
    response = await intake.client.post("/v1/dossiers", json=birth_dossier("online", child_name="Lê Gia Hân"))
    assert response.status_code == 201, response.text
    dossier_id, code = response.json()["dossier_id"], response.json()["code"]
    now = datetime.now(UTC)
    common: dict[str, Any] = {"dossier_id": dossier_id, "code": code, "agency": "UBND-X-YENHOA"}
    topics = intake.settings.topics
    await intake.publish(
        topics.workflow_events,
        (workflow.SupplementRequested(**common, status=DossierStatus.SUPPLEMENT_REQUESTED, status_code=5, at=now,
                                      official_id="cb-01", reason="Thiếu tờ khai", request_number=1), dossier_id),
        (workflow.SupplementReceived(**common, status=DossierStatus.REGISTERED, status_code=1,
                                     at=now + timedelta(minutes=5), paused_seconds=0,
                                     due_at=now + timedelta(hours=8)), dossier_id),
    )  # fmt: skip

    async def supplied() -> dict[str, Any] | None:
        view = (await intake.client.get(f"/v1/dossiers/{code}")).json()
        return view if view["timeline"][-1]["event"] == "SupplementReceived" else None

    assert (await eventually(supplied, timeout=20))["due_at"] is None
    due = now + timedelta(days=2)
    await intake.publish(
        topics.workflow_events,
        (workflow.DossierReceived(**common, status=DossierStatus.RECEIVED, status_code=2,
                                  at=now + timedelta(minutes=10), official_id="cb-01", procedure_code="1.001193",
                                  due_at=due), dossier_id),
    )  # fmt: skip

    async def received() -> dict[str, Any] | None:
        view = (await intake.client.get(f"/v1/dossiers/{code}")).json()
        return view if view["status"] == "received" else None

    view = await eventually(received, timeout=20)
    assert datetime.fromisoformat(view["due_at"]) == due
    assert view["current_handler"]["official_id"] == "cb-01"
    # Processing starts with no official yet: the clerk who accepted it holds it no more.
    await intake.publish(
        topics.workflow_events,
        (workflow.DossierStepStarted(**common, status=DossierStatus.PROCESSING, status_code=4,
                                     at=now + timedelta(minutes=11), step="processing", step_due_at=due), dossier_id),
    )  # fmt: skip

    async def processing() -> dict[str, Any] | None:
        view = (await intake.client.get(f"/v1/dossiers/{code}")).json()
        return view if view["status"] == "processing" else None

    view = await eventually(processing, timeout=20)
    assert view["current_handler"] == {"agency": view["current_handler"]["agency"], "official_id": None}


async def submitted(intake: RunningIntake, channel: str, child: str) -> tuple[str, str, dict[str, Any]]:
    """A birth dossier submitted: its id, its code, and the fields every workflow event about it carries."""
    response = await intake.client.post("/v1/dossiers", json=birth_dossier(channel, child_name=child))
    assert response.status_code == 201, response.text
    dossier_id, code = response.json()["dossier_id"], response.json()["code"]
    return dossier_id, code, {"dossier_id": dossier_id, "code": code, "agency": "UBND-X-YENHOA"}


async def test_an_event_replayed_after_its_successors_sets_nothing_back(intake: RunningIntake) -> None:
    """A dead letter replayed after the events that followed it: a payment request replayed after the
    result was returned showed the dossier waiting for payment again, and a reminder replayed after an
    apology letter put the missed appointment back (the SQL adapter: each row's state_at)."""
    dossier_id, code, common = await submitted(intake, "online", "Đỗ Gia Bảo")
    now = datetime.now(UTC)
    due, later = now + timedelta(hours=8), now + timedelta(days=3)
    S = DossierStatus
    topics = intake.settings.topics
    await intake.publish(
        topics.workflow_events,
        (workflow.DossierReceived(**common, status=S.RECEIVED, status_code=2, at=now, official_id="cb-01",
                                  procedure_code="1.001193", due_at=due), dossier_id),
        (workflow.ApologyLetterIssued(**common, status=S.PROCESSING, status_code=4, at=now + timedelta(hours=2),
                                      official_id="cb-02", reason="cần xác minh thêm", previous_due_at=due,
                                      new_due_at=later), dossier_id),
        (workflow.ResultReturned(**common, status=S.RETURNED, status_code=10, at=now + timedelta(hours=3),
                                 delivery="counter"), dossier_id),
        # Replayed from the dead-letter topic, after their successors:
        (workflow.PaymentRequested(**common, status=S.PAYMENT_REQUESTED, status_code=6, at=now + timedelta(hours=1),
                                   official_id="cb-02", amount=8_000), dossier_id),
        (workflow.DossierDueSoon(**common, status=S.PROCESSING, status_code=4, at=now + timedelta(minutes=90),
                                 due_at=due), dossier_id),
    )  # fmt: skip

    async def replayed() -> dict[str, Any] | None:
        view = (await intake.client.get(f"/v1/dossiers/{code}")).json()
        return view if view["requested_amount"] == 8_000 and len(view["timeline"]) >= 5 else None

    view = await eventually(replayed, timeout=20)
    assert (view["status"], datetime.fromisoformat(view["due_at"])) == ("returned", later)


async def test_an_event_replayed_late_still_sets_what_no_newer_event_set(intake: RunningIntake) -> None:
    """The SQL adapter's `due_at_at`: an apology letter replayed after a payment request sets its new
    date (nothing newer set one); a counter dossier's reception replayed after it does not put the
    first appointment back."""
    dossier_id, code, common = await submitted(intake, "counter", "Vũ Minh Châu")
    now = datetime.now(UTC)
    due, later = now + timedelta(hours=8), now + timedelta(days=3)
    S = DossierStatus
    await intake.publish(
        intake.settings.topics.workflow_events,
        (workflow.PaymentRequested(**common, status=S.PAYMENT_REQUESTED, status_code=6, at=now + timedelta(hours=3),
                                   official_id="cb-02", amount=8_000), dossier_id),
        # Replayed from the dead-letter topic, after their successor:
        (workflow.ApologyLetterIssued(**common, status=S.PROCESSING, status_code=4, at=now + timedelta(hours=2),
                                      official_id="cb-02", reason="cần xác minh thêm", previous_due_at=due,
                                      new_due_at=later), dossier_id),
        (workflow.DossierReceived(**common, status=S.RECEIVED, status_code=2, at=now, official_id="cb-01",
                                  procedure_code="1.001193", due_at=due), dossier_id),
    )  # fmt: skip

    async def replayed() -> dict[str, Any] | None:
        view = (await intake.client.get(f"/v1/dossiers/{code}")).json()
        return view if len(view["timeline"]) >= 4 else None

    view = await eventually(replayed, timeout=20)
    assert (view["status"], datetime.fromisoformat(view["due_at"])) == ("payment_requested", later)

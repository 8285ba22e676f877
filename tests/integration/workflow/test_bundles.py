"""Each linked bundle against the real broker and database, with a stand-in for registry-sync that answers
``registry.commands`` (every reply sent twice, to prove a duplicate never starts a step twice)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from contracts import citizen_id
from contracts.events import intake
from contracts.events.registry import RegistryCommandRequested
from tests.integration.workflow.support import Workflow, registry_stand_in, running_workflow
from tests.support.infra import Infra
from tests.support.kafka import eventually
from tests.unit.workflow.builders import BIRTH_FORM, BIRTH_STEPS, DEATH_FORM, bundle_submitted, submitted
from workcal import vietnam_tz
from workflow.adapters.clock import SettableClock

pytestmark = pytest.mark.integration

#: A fixed working morning, so no deadline passes while the test runs.
MONDAY_MORNING = datetime(2030, 6, 3, 9, 0, tzinfo=vietnam_tz())


def registries(command: RegistryCommandRequested) -> dict[str, Any] | str:
    """What the national systems answer, by operation."""
    if command.operation == "register_permanent_residence":
        if "FAIL" in command.data["address"]:
            return "404 not_found: no such address in the database"
        assert citizen_id.is_valid(command.data["person"]["id_number"])
        return {"residence_address": command.data["address"], "household_id": "HK-0001"}
    if command.operation == "issue_child_health_insurance_card":
        return {"card_number": "TE1" + command.data["child"]["personal_id_number"][-9:], "valid_until": "2030-05-19"}
    if command.operation == "deregister_permanent_residence":
        return {"deregistered_on": "2024-06-03"}
    return {"decision_number": "QĐ-01", "amount_vnd": 36_000_000}


def step_dossiers(bundle: intake.BundleSubmitted) -> list[intake.DossierSubmitted]:
    """What intake publishes besides the bundle: one dossier per applicable step."""
    return [
        submitted(
            procedure_code=s.procedure_code,
            dossier_id=s.dossier_id,
            at=bundle.submitted_at,
            fee=0,
            receiving_agency=bundle.receiving_agency,
            competent_agency="",
            bundle_id=bundle.bundle_id,
            bundle_step=s.step_id,
        )
        for s in bundle.steps
    ]


async def finished(workflow: Workflow, bundle_id: str) -> dict[str, Any]:
    async def ended() -> dict[str, Any] | None:
        body = (await workflow.client.get(f"/v1/bundles/{bundle_id}")).json()
        return body if body.get("status") in ("completed", "partially_completed") else None

    return await eventually(ended, timeout=30)  # type: ignore[no-any-return]


async def run_first_step(workflow: Workflow, bundle: intake.BundleSubmitted) -> None:
    """The commune official approves the first step once it is on the commune's task list."""
    first = bundle.steps[0].dossier_id
    await workflow.wait_for_task("UBND-P-PHUCLOI", first)
    answer = await workflow.decide(first, "approve")
    assert answer.status_code == 200, answer.json()


async def test_birth_and_death_bundles_complete_through_the_registries(infra: Infra, unique: str) -> None:
    clock = SettableClock(MONDAY_MORNING)
    now = clock.now()
    birth = bundle_submitted("birth", BIRTH_FORM, BIRTH_STEPS, at=now)
    failing = bundle_submitted(
        "birth", {**BIRTH_FORM, "residence": {**BIRTH_FORM["residence"], "address": "FAIL"}}, BIRTH_STEPS, at=now
    )
    deaths = {
        choice: bundle_submitted(
            "death",
            {**DEATH_FORM, "funeral_allowance": choice},
            [("death_registration", "1.000656"), ("residence_deregistration", "1.003197"), *extra],
            at=now,
        )
        for choice, extra in (
            ("social_insurance", [("funeral_allowance", "9.000002")]),
            ("social_welfare", [("burial_support", "1.001731")]),
            ("none", []),
        )
    }
    bundles = [birth, failing, *deaths.values()]
    async with (
        running_workflow(infra, unique, clock) as workflow,
        registry_stand_in(workflow, registries, replies=2) as seen,
    ):
        # Step dossiers of some bundles come before their bundle, of others after.
        await workflow.publish_intake(*step_dossiers(birth), birth, failing, *step_dossiers(failing))
        await workflow.publish_intake(*deaths.values(), *[d for b in deaths.values() for d in step_dossiers(b)])
        for bundle in bundles:
            await run_first_step(workflow, bundle)

        done = {b.bundle_id: await finished(workflow, b.bundle_id) for b in bundles}

        birth_view = done[birth.bundle_id]
        assert birth_view["status"] == "completed"
        number = birth_view["results"]["birth_registration"]["personal_id_number"]
        assert citizen_id.check_consistency(number, sex="male", birth_year=2024) == []
        assert birth_view["results"]["health_insurance_card"]["card_number"].endswith(number[-9:])
        assert birth_view["results"]["permanent_residence"]["residence_address"] == BIRTH_FORM["residence"]["address"]

        partial = done[failing.bundle_id]
        assert partial["status"] == "partially_completed" and partial["failed_step"] == "permanent_residence"
        assert "hệ thống không tìm thấy thông tin tương ứng" in partial["reason"]  # in Vietnamese, by its code
        stopped = (await workflow.client.get(f"/v1/dossiers/{failing.steps[2].dossier_id}")).json()
        assert stopped["status"] == "stopped"

        for choice, bundle in deaths.items():
            view = done[bundle.bundle_id]
            assert view["status"] == "completed", choice
            assert set(view["results"]) == {s.step_id for s in bundle.steps}

        # Every reply came twice, yet each registry step was commanded once and started once.
        registry_steps = 2 + 1 + 2 + 2 + 1  # birth, failing birth (stops at residence), the three deaths
        assert len(seen) == len(set(seen)) == registry_steps
        for bundle in bundles:
            started = [t for t in await workflow.events_of(bundle.bundle_id) if t == "BundleStepStarted"]
            assert len(started) == len(done[bundle.bundle_id]["steps"]) - (bundle is failing)
        # Everything decided reached workflow.events, through the outbox.
        stored = await workflow.stored_public_events()
        published = await workflow.published(expect=len(stored))
        assert {str(e.event_id): e.type for e in published} == stored
        ends = sorted(e.type for e in published if e.type.startswith("Bundle") and e.type != "BundleStepStarted")
        assert ends == ["BundleCompleted"] * 4 + ["BundlePartiallyCompleted"]

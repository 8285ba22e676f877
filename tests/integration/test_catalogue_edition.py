"""A catalogue edition with a bundle that only a data file defines, read by intake and workflow from
the same directory (CATALOGUE_DIR): submitted, each step decided by its agency's official, completed,
and shown to the citizen. Both services in-process, on the real database and broker."""

from __future__ import annotations

import contextlib
import random
from pathlib import Path
from typing import Any

import httpx
import pytest

from contracts import citizen_id
from intake.bootstrap import create_app as create_intake
from intake.settings import IntakeSettings
from tests.support.catalogue import BUSINESS_START, add_bundle, copy_of_packaged_data
from tests.support.infra import Infra
from tests.support.kafka import eventually
from tests.support.services import create_topics, running, settings_for, until_ready
from workflow.bootstrap import create_app as create_workflow
from workflow.settings import WorkflowSettings

pytestmark = pytest.mark.integration


async def test_a_bundle_added_as_a_data_file_runs_through_intake_and_workflow(
    infra: Infra, unique: str, tmp_path: Path
) -> None:
    edition = copy_of_packaged_data(tmp_path / "catalogue")
    add_bundle(edition, BUSINESS_START)
    intake_settings = settings_for(IntakeSettings, infra, unique, catalogue_dir=str(edition))
    workflow_settings = settings_for(WorkflowSettings, infra, unique, catalogue_dir=str(edition))
    await create_topics(infra, intake_settings.topics)
    async with contextlib.AsyncExitStack() as stack:
        intake = await stack.enter_async_context(running(create_intake(intake_settings)))
        workflow = await stack.enter_async_context(running(create_workflow(workflow_settings)))
        for client in (intake, workflow):
            await until_ready(client)

        owner = citizen_id.generate("036", "male", 1990, random.Random(unique))
        receipt = await intake.post("/v1/bundles", json={
            "bundle_type": "business_start", "channel": "counter", "receiving_agency": "TTPVHCC-BINHAN",
            "applicant": {"id_number": owner, "full_name": "Trần Văn Bình"},
            "form": {
                "owner": {"id_number": owner, "full_name": "Trần Văn Bình", "date_of_birth": "1990-04-12"},
                "business": {"name": "Tạp hóa Bình An", "address": "Thôn Hải Nạp, xã Yên Hòa",
                             "line_of_business": "Bán lẻ tạp hóa", "capital_vnd": 50_000_000},
            },
        })  # fmt: skip
        assert receipt.status_code == 201, receipt.json()
        bundle_id = receipt.json()["bundle_id"]
        steps = [d["dossier_id"] for d in receipt.json()["dossiers"]]
        assert len(steps) == 2

        for dossier_id in steps:  # each step waits for its own agency's official, in turn
            dossier = await eventually(lambda d=dossier_id: _processing(workflow, d), timeout=30)
            tasks = (await workflow.get("/v1/tasks", params={"agency": dossier["agency"]})).json()["tasks"]
            assert dossier_id in [t["dossier_id"] for t in tasks]
            approved = await workflow.post(
                f"/v1/dossiers/{dossier_id}/decisions", json={"decision": "approve", "official_id": "cb-01"}
            )
            assert approved.status_code == 200, approved.json()

        saga = await eventually(lambda: _ended(workflow, f"/v1/bundles/{bundle_id}"), timeout=30)
        assert saga["status"] == "completed" and set(saga["results"]) == {"criminal_record", "household_business"}
        view = await eventually(lambda: _ended(intake, f"/v1/bundles/{bundle_id}"), timeout=30)
        assert view["status"] == "completed"


async def _processing(workflow: httpx.AsyncClient, dossier_id: str) -> dict[str, Any] | None:
    answer = await workflow.get(f"/v1/dossiers/{dossier_id}")
    return answer.json() if answer.status_code == 200 and answer.json()["status"] == "processing" else None


async def _ended(client: httpx.AsyncClient, path: str) -> dict[str, Any] | None:
    body: dict[str, Any] = (await client.get(path)).json()
    return body if body.get("status") in ("completed", "partially_completed") else None

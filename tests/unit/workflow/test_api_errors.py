"""The officials' API over in-memory fakes: domain refusals a decision can meet are 4xx answers naming
what is wrong, never a 500."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import httpx
import pytest
from fastapi.exceptions import RequestValidationError

from tests.unit.eventkit.shell import app_client, shell_app
from tests.unit.workflow.builders import BIRTH_FORM, BIRTH_STEPS, Harness, bundle_submitted, submitted
from workflow.entrypoints import api
from workflow.entrypoints.schemas import TaskPublic
from workflow.service_layer.ports import Task


def client(harness: Harness) -> httpx.AsyncClient:
    app = shell_app(api.router)
    api.install(app, harness.ctx, harness.uow)
    return app_client(app)


@pytest.mark.parametrize("missing", ["procedure", "step"])
async def test_approving_a_step_whose_next_one_this_catalogue_cannot_place_is_a_409_and_records_nothing(
    harness: Harness, missing: str
) -> None:
    """The police step's procedure, or the step itself, is missing from this edition (intake's is newer)
    and the step's own dossier not consumed yet: the saga could not open it, and the commune's approval
    was a 500 on every try."""
    bundle = bundle_submitted("birth", BIRTH_FORM, BIRTH_STEPS, at=harness.now)
    await harness.deliver(bundle)
    birth, residence, _ = bundle.steps
    rules = harness.ctx.rules
    catalogue = rules.catalogue
    if missing == "procedure":
        procedures = {c: p for c, p in catalogue.procedures.items() if c != residence.procedure_code}
        catalogue = replace(catalogue, procedures=procedures)
    else:
        birth_bundle = catalogue.bundles["birth"]
        steps = [s for s in birth_bundle.steps if s.step_id != residence.step_id]
        catalogue = replace(
            catalogue, bundles={**catalogue.bundles, "birth": birth_bundle.model_copy(update={"steps": steps})}
        )
    harness.ctx = replace(harness.ctx, rules=replace(rules, catalogue=catalogue))
    before = (await harness.state(birth.dossier_id)).version
    async with client(harness) as http:
        answer = await http.post(
            f"/v1/dossiers/{birth.dossier_id}/decisions", json={"decision": "approve", "official_id": "cb-01"}
        )
    assert answer.status_code == 409, answer.text
    named = residence.procedure_code if missing == "procedure" else residence.step_id
    assert answer.json()["error"] == "catalogue_mismatch" and named in answer.json()["detail"]
    assert (await harness.state(birth.dossier_id)).version == before


def test_if_match_any_version_names_none_and_a_list_is_refused_naming_the_header() -> None:
    """``If-Match: *`` (RFC 9110: any current version) was a 422."""
    assert api.if_match_version("*") is None and api.if_match_version('W/"7"') == 7
    with pytest.raises(RequestValidationError) as refused:
        api.if_match_version('"3", "4"')
    assert refused.value.errors()[0]["loc"] == ("header", "if-match")


def test_a_task_a_build_before_the_rename_wrote_is_listed_under_today_s_name() -> None:
    """'return' (before migration 0004) failed the task list's model: a 500 for the whole list."""
    task = Task(dossier_id="d-1", agency="A", code="A-240603-0001", procedure_code="2.001610", status="processed",
                status_code=9, waiting_for="return", due_at=datetime(2024, 6, 3, tzinfo=UTC), appointment_at=None,
                since=datetime(2024, 6, 3, tzinfo=UTC), bundle_id=None, overdue=False)  # fmt: skip
    assert TaskPublic.of(task).waiting_for == "result_return"


async def test_a_reason_that_shows_nothing_is_no_reason_and_one_that_shows_is_kept_as_it_shows(
    harness: Harness,
) -> None:
    """A zero-width space passed for the reason a supplement request requires (form 02 went out blank),
    and a bell and decomposed letters reached the events and the portal's history."""
    event = submitted(at=harness.now)
    await harness.deliver(event)
    decisions = f"/v1/dossiers/{event.dossier_id}/decisions"
    async with client(harness) as http:
        blank = await http.post(decisions, json={"decision": "request_supplement", "official_id": "cb-01",
                                                 "reason": "\u200b\u2060"})  # fmt: skip
        assert blank.status_code == 422 and "reason" in blank.text, blank.text
        stop = await http.post(decisions, json={"decision": "reject", "official_id": "cb-01",
                                                "reason": "Thie\u0302\u0301u gia\u0301y to\u0300\x07 "})  # fmt: skip
        assert stop.status_code == 200, stop.text
    [stopped] = [e for e in harness.published() if e.type == "DossierStopped"]
    assert stopped.payload["reason"] == "Thiếu giáy tò"  # composed, the bell and the trailing space gone


@pytest.mark.parametrize(
    ("extra", "field"),
    [({"amount": 5}, "amount"), ({"to_agency": "SKHDT-BINHAN"}, "to_agency"),
     ({"result": {"enterprise_code": "1"}}, "result"), ({"new_due_at": "2024-07-01T10:00:00+07:00"}, "new_due_at")],
)  # fmt: skip
async def test_a_field_another_decision_takes_is_refused_naming_it(
    harness: Harness, extra: dict[str, object], field: str
) -> None:
    """Dropped, they were data the official typed and lost, with a success."""
    event = submitted(at=harness.now)
    await harness.deliver(event)
    before = (await harness.state(event.dossier_id)).version
    async with client(harness) as http:
        body = {"decision": "reject", "official_id": "cb-01", "reason": "x", **extra}
        answer = await http.post(f"/v1/dossiers/{event.dossier_id}/decisions", json=body)
    assert answer.status_code == 422 and field in answer.text, answer.text
    assert (await harness.state(event.dossier_id)).version == before  # nothing recorded


async def test_a_dossier_id_in_upper_case_is_the_same_dossier(harness: Harness) -> None:
    """A client upper-casing ids (RFC 9562 allows it) got a 404 for the view and every decision."""
    event = submitted(at=harness.now)
    await harness.deliver(event)
    upper = event.dossier_id.upper()
    assert upper != event.dossier_id
    async with client(harness) as http:
        view = await http.get(f"/v1/dossiers/{upper}")
        assert view.status_code == 200 and view.json()["dossier_id"] == event.dossier_id, view.text
        approve = {"decision": "approve", "official_id": "cb-01"}
        decided = await http.post(f"/v1/dossiers/{upper}/decisions", json=approve)
        assert decided.status_code == 200, decided.text


async def test_two_if_match_lines_are_one_list_and_refused(harness: Harness) -> None:
    """The first line alone was read: '"3"' then '"2"' decided, '"2"' then '"3"' was a 412."""
    event = submitted(at=harness.now)
    await harness.deliver(event)
    version = (await harness.state(event.dossier_id)).version
    approve = {"decision": "approve", "official_id": "cb-01"}
    async with client(harness) as http:
        headers = [("If-Match", f'"{version}"'), ("If-Match", f'"{version - 1}"')]
        answer = await http.post(f"/v1/dossiers/{event.dossier_id}/decisions", json=approve, headers=headers)
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["header", "if-match"], answer.text
    assert (await harness.state(event.dossier_id)).version == version

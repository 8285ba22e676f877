"""What keeps a submission cheap in CPU, pinned so that a refactoring does not bring the cost back."""

from __future__ import annotations

import inspect
from dataclasses import asdict
from datetime import UTC, date, datetime

import orjson
import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from contracts.envelope import Envelope
from intake.adapters.submissions import _arguments
from intake.entrypoints import action_routes, catalogue_routes, dossier_routes
from intake.service_layer.pending_codes import PendingCodes
from intake.service_layer.ports import NewBundle, NewDossier, NewSubmission

AT = datetime(2024, 6, 17, 2, 0, tzinfo=UTC)


def _calls(dependant: Dependant) -> list[object]:
    found = []
    for sub in dependant.dependencies:
        if sub.call is not None:
            found.append(sub.call)
        found.extend(_calls(sub))
    return found


def _routes() -> list[APIRoute]:
    routers = (dossier_routes.router, action_routes.router, catalogue_routes.router)
    return [r for router in routers for r in router.routes if isinstance(r, APIRoute)]


@pytest.mark.parametrize("route", _routes(), ids=lambda r: f"{sorted(r.methods)[0]} {r.path}")
def test_no_dependency_of_the_api_runs_in_a_worker_thread(route: APIRoute) -> None:
    """FastAPI hands a plain ``def`` dependency to a worker thread: two such hops per request cost
    more CPU than validating the whole dossier."""
    sync = [call for call in _calls(route.dependant) if not inspect.iscoroutinefunction(call)]
    assert sync == [], f"{route.path}: make these dependencies 'async def': {sync}"
    assert inspect.iscoroutinefunction(route.endpoint)


def _submission() -> NewSubmission:
    codes = PendingCodes(2)
    timeline = [{"at": AT.isoformat(), "event": "DossierSubmitted", "agency": None, "nested": {"n": [1, 2]}}]
    dossiers = [
        NewDossier(
            dossier_id=f"d{i}", code=codes.placeholder(i), procedure_code="1.001193", channel="counter",
            receiving_agency="UBND-X-YENHOA", competent_agency="UBND-X-YENHOA", status="received", status_code=2,
            subject_key=None if i else "abc", submitted_at=AT, received_at=AT, due_at=None, fee=8000,
            timeline=timeline, bundle_id="b1", bundle_step=f"step{i}", bundle_position=i,
        )
        for i in range(2)
    ]  # fmt: skip
    bundle = NewBundle("b1", "birth", "counter", "UBND-X-YENHOA", AT, None)
    envelopes: list[Envelope] = []
    return NewSubmission(
        agency="UBND-X-YENHOA", day=date(2024, 6, 17), codes=codes, dossiers=dossiers, bundle=bundle,
        envelopes=envelopes, topic="intake.events", status_code=201, reply={"code": codes.placeholder(0)},
        idempotency_key="k", request_hash="h",
    )  # fmt: skip


def test_the_rows_go_to_the_statement_whole_and_unchanged() -> None:
    """The rows are serialised as they are (no deep copy first): every field, nested values included,
    each dossier with the slot of its code; and the submission itself is left untouched."""
    s = _submission()
    before = [asdict(d) for d in s.dossiers]
    args, _, _ = _arguments([s])
    expected = [{**orjson.loads(orjson.dumps(row)), "sub": 0, "slot": i} for i, row in enumerate(before)]
    assert orjson.loads(args[14]) == expected
    assert s.bundle is not None
    assert orjson.loads(args[15]) == [orjson.loads(orjson.dumps(asdict(s.bundle)))]
    assert [asdict(d) for d in s.dossiers] == before


def test_a_submission_without_bundle_writes_no_bundle_row() -> None:
    s = _submission()
    alone = NewSubmission(**{**vars(s), "bundle": None})
    assert orjson.loads(_arguments([alone])[0][15]) == []

"""National public-service portal (Cổng Dịch vụ công quốc gia), simulated: dossier
synchronisation and the listing reconciliation compares against.

A dossier is created once (its code is unique: a second create is a 409, which tells an
adapter to update instead) and then updated by sending the whole dossier again. Each stored
dossier carries a ``revision`` (1 on create, +1 per update); ``If-Match: <revision>`` on an
update makes it conditional, so a stale writer gets a 412 instead of overwriting newer state.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query
from fastapi.responses import JSONResponse

from registry_sim.errors import SimError
from registry_sim.faults import System
from registry_sim.gateway import Mutation, SimDep, fault_gate, lookup, mutation
from registry_sim.portal_models import PORTAL_TIME_FORMAT, PortalDossier, check_dossier_code, check_rules
from registry_sim.state import Record, SimulatorState

SYSTEM = System.PORTAL
DOSSIERS = "dossiers"
SUMMARY_FIELDS = ("code", "procedure_code", "state", "revision", "appointment_at", "finished_at", "updated_at")

MutationDep = Annotated[Mutation, Depends(mutation(SYSTEM))]
CodePath = Annotated[str, Path(max_length=64, description="Dossier code <agency>-YYMMDD-NNNN.")]
IfMatch = Annotated[str | None, Header(alias="If-Match", max_length=32, description="Expected current revision.")]


def valid_path_code(code: str) -> str:
    try:
        return check_dossier_code(code)
    except ValueError as exc:
        raise SimError.invalid("code", str(exc)) from exc


def expected_revision(if_match: str | None) -> int | None:
    if if_match is None:
        return None
    value = if_match.strip().removeprefix("W/").strip('"')
    if not value.isascii() or not value.isdigit():
        raise SimError.invalid("If-Match", "must be a revision number")
    return int(value)


def create(sim: SimulatorState, body: PortalDossier) -> Record:
    check_rules(body)
    dossiers = sim.records.collection(SYSTEM, DOSSIERS)
    if body.code in dossiers:
        raise SimError(409, "dossier_exists", f"dossier {body.code} exists: update it", field="code")
    now = sim.now().strftime(PORTAL_TIME_FORMAT)
    record: Record = {**body.model_dump(mode="json"), "revision": 1, "created_at": now, "updated_at": now}
    dossiers[body.code] = record
    return record


def update(sim: SimulatorState, code: str, body: PortalDossier, expected: int | None) -> Record:
    if body.code != code:
        raise SimError.invalid("code", f"differs from the code in the path ({code})")
    current = lookup(sim, SYSTEM, DOSSIERS, code, "code")
    if expected is not None and expected != current["revision"]:
        raise SimError(
            412,
            "revision_mismatch",
            f"current revision is {current['revision']}, not {expected}",
            field="If-Match",
        )
    check_rules(body)
    record: Record = {
        **body.model_dump(mode="json"),
        "revision": current["revision"] + 1,
        "created_at": current["created_at"],
        "updated_at": sim.now().strftime(PORTAL_TIME_FORMAT),
    }
    sim.records.collection(SYSTEM, DOSSIERS)[code] = record
    return record


def listing(
    sim: SimulatorState,
    *,
    state: int | None,
    procedure_code: str | None,
    updated_since: str | None,
    after: str | None,
    limit: int,
    view: str,
) -> dict[str, Any]:
    """Dossiers in code order, one page at a time (``after`` = the last code of the previous page)."""
    selected = sorted(
        (
            d
            for d in sim.records.collection(SYSTEM, DOSSIERS).values()
            if (state is None or d["state"] == state)
            and (procedure_code is None or d["procedure_code"] == procedure_code)
            and (updated_since is None or d["updated_at"] >= updated_since)
        ),
        key=lambda d: d["code"],
    )
    total = len(selected)
    if after is not None:
        selected = [d for d in selected if d["code"] > after]
    page = selected[:limit]
    items = page if view == "full" else [{k: d[k] for k in SUMMARY_FIELDS} for d in page]
    more = len(selected) > limit
    return {"items": items, "total": total, "next_after": page[-1]["code"] if more else None}


def build_router() -> APIRouter:
    router = APIRouter(prefix="/portal/v1", tags=["national_portal"], dependencies=[Depends(fault_gate(SYSTEM))])

    @router.post("/dossiers", status_code=201)
    async def create_dossier(body: PortalDossier, call: MutationDep) -> JSONResponse:
        """Create a dossier on the portal (first synchronisation)."""
        return await call.run("create_dossier", body, lambda: create(call.sim, body))

    @router.put("/dossiers/{code}", status_code=200)
    async def update_dossier(
        code: CodePath, body: PortalDossier, call: MutationDep, if_match: IfMatch = None
    ) -> JSONResponse:
        """Replace a synchronised dossier with its current version."""
        valid_path_code(code)
        expected = expected_revision(if_match)
        effect = lambda: update(call.sim, code, body, expected)  # noqa: E731
        return await call.run("update_dossier", body, effect, status_code=200)

    @router.get("/dossiers/{code}")
    async def get_dossier(code: CodePath, sim: SimDep) -> Record:
        """A synchronised dossier by its code."""
        return lookup(sim, SYSTEM, DOSSIERS, valid_path_code(code), "code")

    @router.get("/dossiers")
    async def list_dossiers(
        sim: SimDep,
        state: Annotated[int | None, Query(ge=1, le=10)] = None,
        procedure_code: Annotated[str | None, Query(max_length=16)] = None,
        updated_since: Annotated[str | None, Query(pattern=r"^[0-9]{14}$")] = None,
        after: Annotated[str | None, Query(max_length=64, description="Last code of the previous page.")] = None,
        limit: Annotated[int, Query(ge=1, le=5000)] = 500,
        view: Annotated[Literal["summary", "full"], Query()] = "summary",
    ) -> dict[str, Any]:
        """List synchronised dossiers (summaries by default) for reconciliation."""
        return listing(
            sim,
            state=state,
            procedure_code=procedure_code,
            updated_since=updated_since,
            after=after,
            limit=limit,
            view=view,
        )

    return router

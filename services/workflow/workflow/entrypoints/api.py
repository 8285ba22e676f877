"""The officials' API: tasks, decisions, a dossier (now or at a past instant), a bundle's saga."""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, AwareDatetime

from contracts.catalogue import UnknownBundle, UnknownBundleStep, UnknownProcedure
from contracts.catalogue.routing import NoCompetentAgency
from contracts.ids import as_stored_id
from eventkit.auth import CurrentOfficial, Forbidden
from eventkit.eventstore import ConcurrencyConflict
from eventkit.http import error, invalid_parameter, request_id
from eventkit.logging import get_logger
from workcal import supported_year
from workflow.domain.commands import MakeDecision
from workflow.domain.errors import DossierNotFound, IllegalTransition, InvalidDecision, StaleDecision
from workflow.domain.state import DossierState
from workflow.entrypoints.schemas import (
    BundlePublic,
    DecisionCreate,
    DossierPublic,
    TaskListPublic,
    TaskPublic,
    WaitingFor,
)
from workflow.service_layer import handlers, queries
from workflow.service_layer.context import Cause, WorkflowContext
from workflow.service_layer.dossiers import acceptance_due
from workflow.service_layer.ports import Task, TaskPosition, UnitOfWorkFactory

log = get_logger(__name__)


def _context(request: Request) -> WorkflowContext:
    return request.app.state.workflow_context  # type: ignore[no-any-return]


def _uow_factory(request: Request) -> UnitOfWorkFactory:
    return request.app.state.workflow_uow  # type: ignore[no-any-return]


ContextDep = Annotated[WorkflowContext, Depends(_context)]
UowDep = Annotated[UnitOfWorkFactory, Depends(_uow_factory)]
DossierId = Annotated[
    str, Path(min_length=1, max_length=64, description="The dossier id."), AfterValidator(as_stored_id)
]

router = APIRouter(prefix="/v1", tags=["workflow"])
_AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: error("No official's bearer token, or one that does not verify (when AUTH_JWKS is set).")
}


@router.get(
    "/tasks",
    responses={**_AUTH_ERRORS, 403: error("The official does not act for that agency."), 404: error("No such agency.")},
)
async def list_tasks(
    ctx: ContextDep,
    uow_factory: UowDep,
    official: CurrentOfficial,
    agency: Annotated[str, Query(min_length=1, max_length=24, description="Agency code.")],
    limit: Annotated[
        int | None, Query(ge=1, le=1000, description="At most this many tasks (default TASKS_PAGE_SIZE).")
    ] = None,
    waiting_for: Annotated[
        list[WaitingFor] | None,
        Query(description="Only tasks waiting for these (repeat the parameter for several); default all."),
    ] = None,
    after: Annotated[
        str | None, Query(max_length=200, description="The `next` of the previous page: the tasks after it.")
    ] = None,
) -> TaskListPublic:
    """Dossiers waiting for an official of the agency, soonest due first: online dossiers to accept,
    dossiers to decide on, and results ready to hand over at the counter that received them. A full
    page names the `next` one: pass it as `after`."""
    position = _task_position(after) if after is not None else None
    if not ctx.rules.knows_agency(agency):
        return JSONResponse({"error": "unknown_agency", "detail": f"no agency {agency!r}"}, 404)  # type: ignore[return-value]
    if official is not None and agency not in official.agencies:
        raise Forbidden(f"official {official.official_id} does not act for {agency}")
    size = limit or ctx.tasks_page_size
    async with uow_factory() as uow:
        tasks = await queries.tasks(uow, agency, size, waiting_for or (), position)
    following = _task_cursor(tasks[-1]) if len(tasks) == size else None
    return TaskListPublic(agency=agency, tasks=[TaskPublic.of(t) for t in tasks], next=following)


def _task_cursor(task: Task) -> str:
    """Where a page ended, as the next page's ``after``: opaque to clients, readable by us."""
    raw = json.dumps([task.due_at.isoformat(), task.dossier_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


_CURSOR_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")  # dossier ids as workflow keeps them: no NUL reaches SQL


def _task_position(cursor: str) -> TaskPosition:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        due, dossier_id = json.loads(raw)
        moment = datetime.fromisoformat(due)
        if moment.tzinfo is None or not isinstance(dossier_id, str) or not _CURSOR_ID.fullmatch(dossier_id):
            raise ValueError
        _plausible_instant(moment)  # the database takes no year-1 instant
    except (ValueError, TypeError):
        raise invalid_parameter("query", "after", "not a `next` this service gave", cursor) from None
    return moment, dossier_id


@router.post(
    "/dossiers/{dossier_id}/decisions",
    responses={
        **_AUTH_ERRORS,
        403: error("The official does not act for the agency holding the dossier, or names another official."),
        404: error("No such dossier."),
        409: error(
            "The lifecycle forbids the decision (another may have come first), the dossier kept changing, or"
            " this catalogue edition lacks the procedure of the step it would start."
        ),
        412: error("If-Match names a version the dossier has moved on from: reload it and decide again."),
    },
)
async def decide(
    dossier_id: DossierId,
    body: DecisionCreate,
    request: Request,
    response: Response,
    ctx: ContextDep,
    uow_factory: UowDep,
    official: CurrentOfficial,
    if_match: Annotated[
        str | None,
        Header(
            description="The dossier version decided on (its ETag, or `version` from GET): the decision is made"
            " only on that version, else 412. A retried request then cannot decide twice.",
        ),
    ] = None,
) -> DossierPublic:
    """Record an official's decision: 403 if the dossier is not in their agency's hands, 409 if the
    lifecycle forbids it or the dossier kept changing, 412 if it moved on from the ``If-Match``
    version. The official is the token's; without authentication (development) the body names them.

    Without ``If-Match`` a decision is made on whatever the dossier is by then (a payment or a
    registry's answer appended meanwhile is no reason to refuse it); a client that may send a request
    twice (a timeout, a double click) should send ``If-Match``."""
    if official is not None:
        if body.official_id not in (None, official.official_id):
            raise Forbidden(f"the token is official {official.official_id}'s, not {body.official_id}'s")
        official_id, acting_for = official.official_id, official.agencies
    elif body.official_id is None:
        raise InvalidDecision("official_id", "name the official deciding (the service runs without authentication)")
    else:
        official_id, acting_for = body.official_id, None
    command = MakeDecision(
        dossier_id=dossier_id,
        decision=body.decision,
        official_id=official_id,
        acting_for=acting_for,
        reason=body.reason,
        to_agency=body.to_agency,
        amount=body.amount,
        new_due_at=body.new_due_at,
        result=body.result,
        documents=tuple(body.documents),
        expected_version=if_match_version(", ".join(request.headers.getlist("if-match")) if if_match else None),
    )
    cause = Cause(correlation_id=None, causation_id=request_id(request))
    state = await handlers.make_decision(command, uow_factory, ctx, cause)
    log.info("decision recorded", dossier_id=dossier_id, decision=body.decision, correlation_id=state.correlation_id)
    response.headers["ETag"] = _etag(state.version)
    return public_dossier(state, ctx)


def _etag(version: int) -> str:
    return f'"{version}"'


def if_match_version(if_match: str | None) -> int | None:
    """The version an ``If-Match`` header names: ``"7"`` (the ETag), ``W/"7"`` or ``7``; ``*`` (any
    version, RFC 9110) names none. One ETag only: a decision is taken on one version. The header's lines
    come joined (RFC 9110: two lines are one list): the first alone was read, and whether a retried
    decision went through depended on their order."""
    if if_match is None or if_match.strip() == "*":
        return None
    text = if_match.strip().removeprefix("W/").strip('"')
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        message = 'the dossier version decided on, as its ETag gives it: "7" (one, or *)'
        raise invalid_parameter("header", "if-match", message, if_match)
    return int(text)


def _plausible_instant(at: datetime | None) -> datetime | None:
    """An instant the database can compare with (year 1 at +05:00 is before its first instant, and
    the driver's refusal read as an outage: a 503 for ever)."""
    if at is not None:
        supported_year(at.year)
    return at


@router.get(
    "/dossiers/{dossier_id}",
    responses={
        **_AUTH_ERRORS,
        403: error("The official acts for none of the dossier's agencies."),
        404: error("No such dossier."),
    },
)
async def get_dossier(
    dossier_id: DossierId,
    response: Response,
    ctx: ContextDep,
    uow_factory: UowDep,
    official: CurrentOfficial,
    at: Annotated[
        AwareDatetime | None,
        AfterValidator(_plausible_instant),
        Query(description="The state at this instant (ISO 8601 with offset), years 1900 to 2199."),
    ] = None,
) -> DossierPublic:
    """The dossier's state, control sheet and history, rebuilt from its events: for officials of the
    agency that received it, the competent one, or one that held it or holds it now."""
    async with uow_factory() as uow:
        state = await queries.dossier(uow, dossier_id)
        # Who may look is decided on the dossier as it stands: the agency holding it now may see how
        # it got there, and one that held it before may see it since.
        if official is not None and not official.agencies & state.agencies:
            raise Forbidden(f"official {official.official_id} acts for no agency this dossier concerns")
        if at is not None:
            state = await queries.dossier(uow, dossier_id, at)
    if at is None:
        response.headers["ETag"] = _etag(state.version)  # what a decision's If-Match names
    return public_dossier(state, ctx, as_of=at)


def public_dossier(state: DossierState, ctx: WorkflowContext, *, as_of: datetime | None = None) -> DossierPublic:
    """The officials' view of ``state``. A dossier submitted online (not a bundle's step: its later
    steps are received as they are released, with no window of their own) shows on form 06 when its
    reception had to end: 8 working hours to accept it (the control sheet left it blank)."""
    online = state.channel == "online" and state.bundle_id is None and state.submitted_at is not None
    due = acceptance_due(state, ctx) if online else None
    return DossierPublic.of(state, ctx.rules.procedure(state.procedure_code), as_of=as_of, acceptance_due=due)


@router.get(
    "/bundles/{bundle_id}",
    responses={
        **_AUTH_ERRORS,
        403: error("The official acts for none of the agencies the bundle concerns."),
        404: error("No such bundle."),
    },
)
async def get_bundle(
    bundle_id: Annotated[str, Path(min_length=1, max_length=64), AfterValidator(as_stored_id)],
    uow_factory: UowDep,
    official: CurrentOfficial,
) -> BundlePublic:
    """A linked bundle's saga: steps, results (the registries' answers, with the citizens' data) and how it
    ended, for officials of the counter that received it or of an agency one of its dossiers concerns."""
    async with uow_factory() as uow:
        saga = await queries.bundle(uow, bundle_id)
        if saga is None:
            return JSONResponse({"error": "not_found", "detail": f"unknown bundle {bundle_id!r}"}, 404)  # type: ignore[return-value]
        if official is not None and not official.agencies & await queries.bundle_agencies(uow, saga):
            raise Forbidden(f"official {official.official_id} acts for no agency this bundle concerns")
    return BundlePublic.of(saga)


async def _not_found(_: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"error": "not_found", "detail": str(exc)}, 404)


async def _illegal(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, IllegalTransition)
    status = exc.status.value if exc.status else None
    return JSONResponse({"error": "illegal_transition", "detail": str(exc), "status": status}, 409)


async def _conflict(_: Request, exc: Exception) -> JSONResponse:
    detail = "the dossier kept changing while the decision was applied; reload it and decide again"
    return JSONResponse({"error": "conflict", "detail": detail}, 409)


async def _stale(_: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"error": "precondition_failed", "detail": str(exc)}, 412)


async def _catalogue_behind(_: Request, exc: Exception) -> JSONResponse:
    # A decision that would open or route a procedure this catalogue edition lacks (intake's is newer,
    # or it was removed): nothing was recorded, and the decision can be made once the catalogue has it.
    detail = f"this service's catalogue cannot place the dossier's next step: {exc}"
    return JSONResponse({"error": "catalogue_mismatch", "detail": detail}, 409)


async def _invalid(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidDecision)
    error = {
        "path": f"$.{exc.field}",
        "loc": ["body", *exc.field.split(".")],
        "msg": exc.message,
        "type": "value_error",
    }
    return JSONResponse({"error": "validation_failed", "detail": [error]}, 422)


def install(app: FastAPI, ctx: WorkflowContext, uow_factory: UnitOfWorkFactory) -> None:
    """Give the app its routes, dependencies and domain-error answers."""
    app.state.workflow_context = ctx
    app.state.workflow_uow = uow_factory
    app.add_exception_handler(DossierNotFound, _not_found)
    app.add_exception_handler(IllegalTransition, _illegal)
    app.add_exception_handler(ConcurrencyConflict, _conflict)
    app.add_exception_handler(InvalidDecision, _invalid)
    app.add_exception_handler(StaleDecision, _stale)
    app.add_exception_handler(UnknownProcedure, _catalogue_behind)
    app.add_exception_handler(NoCompetentAgency, _catalogue_behind)
    app.add_exception_handler(UnknownBundle, _catalogue_behind)
    app.add_exception_handler(UnknownBundleStep, _catalogue_behind)

"""Submitting dossiers and bundles, and the citizen's view of them."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from contracts.events.common import Applicant, Delivery, Document
from intake.domain.commands import SubmitBundle, SubmitDossier
from intake.domain.errors import NotFound
from intake.entrypoints.dependencies import ContextDep, CorrelationDep, IdempotencyHeader, ViewsDep, idempotency
from intake.entrypoints.schemas import (
    ApplicantCreate,
    BundleCreate,
    BundlePublic,
    BundleReceiptPublic,
    DossierCreate,
    DossierPublic,
    DossierReceiptPublic,
    ErrorPublic,
)
from intake.service_layer import handlers
from intake.service_layer.queries import bundle_public, dossier_public

router = APIRouter(prefix="/v1", tags=["dossiers"])

ERRORS = {
    409: {"model": ErrorPublic, "description": "Duplicate open dossier, or Idempotency-Key reused."},
    422: {"model": ErrorPublic, "description": "Bad input: every bad field with its JSON path."},
    413: {"model": ErrorPublic, "description": "Body too large."},
}


def applicant(body: ApplicantCreate) -> Applicant:
    return Applicant(**body.model_dump())


def reply(result: handlers.Reply) -> Response:
    headers = {"Idempotent-Replayed": "true"} if result.replayed else None
    return JSONResponse(result.body, status_code=result.status_code, headers=headers)


@router.post("/dossiers", status_code=201, response_model=DossierReceiptPublic, responses=ERRORS)  # type: ignore[arg-type]
async def submit_dossier(
    body: DossierCreate, request: Request, ctx: ContextDep, correlation: CorrelationDep, key: IdempotencyHeader = None
) -> Response:
    """Submit one dossier; answers its code, status and appointment date."""
    command = SubmitDossier(
        procedure_code=body.procedure_code,
        channel=body.channel,
        receiving_agency=body.receiving_agency,
        applicant=applicant(body.applicant),
        form=body.form,
        documents=[Document(**d.model_dump()) for d in body.documents],
        delivery=Delivery(**body.result_delivery.model_dump()),
    )
    return reply(await handlers.submit_dossier(command, ctx, idempotency(key, request, body), correlation))


@router.post("/bundles", status_code=201, response_model=BundleReceiptPublic, responses=ERRORS)  # type: ignore[arg-type]
async def submit_bundle(
    body: BundleCreate, request: Request, ctx: ContextDep, correlation: CorrelationDep, key: IdempotencyHeader = None
) -> Response:
    """Submit a linked bundle once; answers one dossier per applicable step."""
    command = SubmitBundle(
        bundle_type=body.bundle_type,
        channel=body.channel,
        receiving_agency=body.receiving_agency,
        applicant=applicant(body.applicant),
        form=body.form,
        documents=[Document(**d.model_dump()) for d in body.documents],
        delivery=Delivery(**body.result_delivery.model_dump()),
    )
    return reply(await handlers.submit_bundle(command, ctx, idempotency(key, request, body), correlation))


@router.get("/dossiers/{code}", response_model=DossierPublic, responses={404: {"model": ErrorPublic}})
async def get_dossier(code: str, ctx: ContextDep, views: ViewsDep) -> dict[str, object]:
    """The citizen's view: status, handler, due date, timeline and result (by code or dossier id)."""
    row = await views.dossier(code)
    if row is None:
        raise NotFound(f"no dossier {code!r}")
    return dossier_public(ctx.rules.catalogue, row)


@router.get("/bundles/{bundle_id}", response_model=BundlePublic, responses={404: {"model": ErrorPublic}})
async def get_bundle(bundle_id: str, ctx: ContextDep, views: ViewsDep) -> dict[str, object]:
    """Each step's dossier and status, and the bundle's overall status."""
    found = await views.bundle(bundle_id)
    if found is None:
        raise NotFound(f"no bundle {bundle_id!r}")
    return bundle_public(ctx.rules, *found)

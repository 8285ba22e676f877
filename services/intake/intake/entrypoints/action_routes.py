"""Citizen actions on a dossier; each appends one event to intake.events."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from contracts.events.common import Document
from intake.domain.commands import CitizenAction, PayFee, ProvideSupplement, RateSatisfaction, RequestWithdrawal
from intake.entrypoints.dependencies import (
    ContextDep,
    CorrelationDep,
    IdempotencyHeader,
    RequiredIdempotencyHeader,
    idempotency,
)
from intake.entrypoints.dossier_routes import reply
from intake.entrypoints.schemas import (
    ActionReceiptPublic,
    ErrorPublic,
    PaymentCreate,
    RatingCreate,
    Strict,
    SupplementCreate,
    WithdrawalCreate,
)
from intake.service_layer import handlers

router = APIRouter(prefix="/v1/dossiers/{code}", tags=["citizen actions"])

ERRORS = {
    404: {"model": ErrorPublic, "description": "No such dossier."},
    409: {"model": ErrorPublic, "description": "Not allowed in the dossier's state, or Idempotency-Key reused."},
    422: {"model": ErrorPublic, "description": "Bad input, with the JSON path of each bad field."},
}


async def _run(
    action: CitizenAction, body: Strict, request: Request, ctx: ContextDep, correlation: str | None, key: str | None
) -> Response:
    return reply(await handlers.act(action, ctx, idempotency(key, request, body), correlation))


@router.post("/supplements", status_code=202, response_model=ActionReceiptPublic, responses=ERRORS)  # type: ignore[arg-type]
async def provide_supplement(
    code: str, body: SupplementCreate, request: Request, ctx: ContextDep, correlation: CorrelationDep,
    key: IdempotencyHeader = None,
) -> Response:
    """Send documents an official asked for (until the dossier ends or its withdrawal is requested)."""
    documents = [Document(**d.model_dump()) for d in body.documents]
    return await _run(ProvideSupplement(code, documents, body.note), body, request, ctx, correlation, key)


@router.post("/payments", status_code=201, response_model=ActionReceiptPublic, responses=ERRORS)  # type: ignore[arg-type]
async def pay_fee(
    code: str, body: PaymentCreate, request: Request, ctx: ContextDep, correlation: CorrelationDep,
    key: RequiredIdempotencyHeader,
) -> Response:
    """Record a fee payment (method, amount, online or not). Its Idempotency-Key is required: a retry
    without one recorded the payment twice."""
    return await _run(PayFee(code, body.amount, body.method, body.online), body, request, ctx, correlation, key)


@router.post("/ratings", status_code=201, response_model=ActionReceiptPublic, responses=ERRORS)  # type: ignore[arg-type]
async def rate(
    code: str, body: RatingCreate, request: Request, ctx: ContextDep, correlation: CorrelationDep,
    key: IdempotencyHeader = None,
) -> Response:
    """Rate satisfaction 1–5 with an optional complaint (once per dossier)."""
    return await _run(RateSatisfaction(code, body.score, body.complaint), body, request, ctx, correlation, key)


@router.post("/withdrawals", status_code=202, response_model=ActionReceiptPublic, responses=ERRORS)  # type: ignore[arg-type]
async def request_withdrawal(
    code: str, body: WithdrawalCreate, request: Request, ctx: ContextDep, correlation: CorrelationDep,
    key: IdempotencyHeader = None,
) -> Response:
    """Ask to withdraw an open dossier; the workflow service decides."""
    return await _run(RequestWithdrawal(code, body.reason), body, request, ctx, correlation, key)

"""Domain refusals as HTTP answers: always a JSON body naming what is wrong, never a stack trace."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from eventkit.batching import WriterStopped
from eventkit.eventstore import ConcurrencyConflict
from eventkit.http import validation_failed
from eventkit.logging import get_logger
from intake.domain.errors import (
    ActionNotAllowed,
    DuplicateDossier,
    IdempotencyKeyReused,
    NotFound,
    RetryableConflict,
)
from intake.domain.problems import InvalidInput, path_loc

log = get_logger(__name__)


async def _invalid(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidInput)
    return validation_failed(exc.problems, lambda p: {**p.as_dict(), "loc": ["body", *path_loc(p.path)]})


async def _duplicate(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DuplicateDossier)
    # The code (here and in the detail) only for the open dossier's own applicant; null to anyone else.
    body = {"error": "duplicate_dossier", "detail": str(exc), "existing_code": exc.existing_code}
    return JSONResponse(body, status_code=409)


def _simple(error: str, status_code: int):  # type: ignore[no-untyped-def]
    async def handler(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": error, "detail": str(exc)}, status_code=status_code)

    return handler


async def _concurrent_update(request: Request, exc: Exception) -> JSONResponse:
    # The database's own words (a constraint, key values, process ids) are for the log, not the portal.
    log.info("request lost to a concurrent update", path=request.url.path, error=str(exc))
    detail = "another request changed the same data at the same moment; send this one again"
    return JSONResponse({"error": "concurrent_update", "detail": detail}, status_code=409)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(InvalidInput, _invalid)
    app.add_exception_handler(DuplicateDossier, _duplicate)
    app.add_exception_handler(IdempotencyKeyReused, _simple("idempotency_key_reused", 409))
    app.add_exception_handler(NotFound, _simple("not_found", 404))
    app.add_exception_handler(ActionNotAllowed, _simple("action_not_allowed", 409))
    app.add_exception_handler(RetryableConflict, _concurrent_update)
    app.add_exception_handler(ConcurrencyConflict, _concurrent_update)
    app.add_exception_handler(WriterStopped, _simple("service_stopping", 503))

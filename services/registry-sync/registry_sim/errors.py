"""One error body for every non-2xx answer, naming the field at fault, so adapters can map
errors without parsing prose and bad input can never surface as a 500.

Body: ``{"error": <code>, "message": <text>, "field": <dotted path or null>, "detail": [...]}``
where each detail item is ``{"field", "message", "type"}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = structlog.get_logger(__name__)

_LOCATION_PREFIXES = ("body", "query", "path", "header", "cookie")


class SimError(Exception):
    """An answer other than success: raised anywhere, rendered by the app's handler."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        *,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
        detail: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.field = field
        self.headers = dict(headers or {})
        if detail is None:
            detail = [{"field": field, "message": message, "type": error}] if field else []
        self.detail = detail

    @classmethod
    def invalid(cls, field: str, message: str) -> SimError:
        """A 422 for one field that passed parsing but breaks a rule (e.g. a cross-field check)."""
        detail = [{"field": field, "message": message, "type": "invalid"}]
        return cls(422, "validation_failed", f"{field}: {message}", field=field, detail=detail)

    @classmethod
    def from_validation(cls, errors: Sequence[Any]) -> SimError:
        """A 422 from pydantic errors, the first one's field promoted to ``field``."""
        detail = [
            {
                # A JSON syntax error's location is a character offset, not a field.
                "field": "body" if e.get("type") == "json_invalid" else field_path(e.get("loc", ())),
                "message": e.get("msg", ""),
                "type": e.get("type", ""),
            }
            for e in errors
        ]
        first = detail[0] if detail else {"field": None, "message": "invalid request"}
        message = f"{first['field']}: {first['message']}" if first["field"] else str(first["message"])
        return cls(422, "validation_failed", message, field=first["field"], detail=detail)

    def response(self) -> JSONResponse:
        body = {"error": self.error, "message": self.message, "field": self.field, "detail": self.detail}
        return JSONResponse(body, status_code=self.status, headers=self.headers)


def field_path(loc: Sequence[str | int]) -> str:
    """``("body", "documents", 0, "name")`` → ``documents[0].name``; the header name for headers."""
    parts = list(loc[1:] if loc and loc[0] in _LOCATION_PREFIXES else loc)
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


def install_error_handlers(app: FastAPI) -> None:
    """Route every error through :meth:`SimError.response`."""

    async def sim_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, SimError)
        return exc.response()

    async def validation_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError | ValidationError)
        return SimError.from_validation(exc.errors()).response()

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        # A route that does not exist, told apart from a record that does not ("not_found"): the
        # caller's base URL or path is wrong, which it waits out as its own outage to mend.
        code = {404: "no_such_route", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        headers = dict(exc.headers or {})
        return SimError(exc.status_code, code, str(exc.detail), headers=headers).response()

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", path=request.url.path)
        return SimError(500, "internal_error", "unexpected simulator error (a bug: see its log)").response()

    app.add_exception_handler(SimError, sim_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)

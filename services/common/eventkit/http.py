"""The HTTP shell every service shares: lifespan wiring of the runtime, /healthz and /readyz,
request ids, body-size limit, and error bodies that name the field at fault (never a stack
trace)."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from http import HTTPStatus
from types import UnionType
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

import structlog
from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contracts.ids import uuid7
from eventkit.auth import Forbidden, KeysUnavailable, Unauthenticated
from eventkit.db import is_contention, is_statement_timeout, is_unavailable
from eventkit.jsonbody import JsonBody, is_json_media
from eventkit.logging import get_logger
from eventkit.metrics import HttpStats, metrics_router
from eventkit.outbox import MessageTooLarge
from eventkit.runtime import ServiceRuntime

log = get_logger(__name__)


class ErrorBody(BaseModel):
    """Every error answer: a stable ``error`` code and a ``detail`` (a message, or for 422 the list
    of bad fields, each with its JSON path)."""

    error: str
    detail: Any


def error(description: str) -> dict[str, Any]:
    """An OpenAPI response entry with the error body, for ``responses={404: error("…")}``."""
    return {"model": ErrorBody, "description": description}


#: Documented on every operation of every service.
COMMON_ERRORS: dict[int | str, dict[str, Any]] = {
    503: error("The database cannot be reached right now; try again after Retry-After seconds."),
}


def health_router(runtime: ServiceRuntime) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    async def healthz(response: Response) -> dict[str, Any]:
        """The process is alive: 200; 503 once one of its background tasks (a consumer, the outbox
        relay, a timer loop) has crashed, so that a liveness probe restarts it."""
        if runtime.crashed:
            response.status_code = 503
            return {"status": "crashed", "tasks": runtime.crashed}
        return {"status": "alive"}

    @router.get("/readyz")
    async def readyz(
        response: Response,
        exclude: Annotated[
            list[str] | None,
            Query(description="Checks not to judge by: a name (broker) or a kind (consumer, task); repeatable."),
        ] = None,
    ) -> dict[str, Any]:
        """Database and broker reachable and consumers running: 200, else 503.

        A load balancer's readiness probe should send ``?exclude=broker&exclude=consumer``: the API
        needs only the database (what it decides waits in the outbox while the broker is away), and
        judging it by the broker would take the whole API down with the broker, the very outage the
        outbox is there to ride out. Monitoring reads the full answer."""
        readiness = (await runtime.readiness()).without(exclude or [])
        if not readiness.ready:
            response.status_code = 503
        return {"status": "ready" if readiness.ready else "not_ready", "checks": readiness.checks}

    return router


def json_path(loc: Sequence[str | int]) -> str:
    """A JSON path for a pydantic error location, without the 'body' prefix: ``$.applicant.id_number``."""
    parts = list(loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc)
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def invalid_parameter(where: str, name: str, message: str, value: object = None) -> RequestValidationError:
    """A 422 naming a request parameter at fault (``where``: query, header or path), in the shape every
    other validation error has; for checks a parameter's type cannot express."""
    return RequestValidationError([{"loc": (where, name), "msg": message, "type": "value_error", "input": value}])


T = TypeVar("T")

#: The most problems a 422 lists; ``more`` counts the rest. A body under the size limit with tens of
#: thousands of unknown keys was answered with every one of them: 8 MB for 0.8 MB sent.
MAX_LISTED_PROBLEMS = 100


def validation_failed(problems: Sequence[T], as_dict: Callable[[T], dict[str, Any]]) -> JSONResponse:
    """The 422 of a request with ``problems`` (each naming its field as ``as_dict`` writes it), the
    first :data:`MAX_LISTED_PROBLEMS` of them listed."""
    listed = [as_dict(p) for p in problems[:MAX_LISTED_PROBLEMS]]
    body: dict[str, Any] = {"error": "validation_failed", "detail": listed}
    if len(problems) > MAX_LISTED_PROBLEMS:
        body["more"] = len(problems) - MAX_LISTED_PROBLEMS
    return JSONResponse(body, status_code=422)


async def one_value_each(request: Request) -> None:
    """A query parameter that takes one value, sent more than once, is a 422 naming it. The last one was
    used: ``agency=A&agency=B`` answered B's figures alone, ``period=2024&period=2025`` the 2025 index,
    with a 200 to a caller who asked for both."""
    route = request.scope.get("route")
    if not request.query_params or not isinstance(route, APIRoute):
        return
    for param in _query_params(route.dependant):
        sent = request.query_params.getlist(param.alias)
        if len(sent) > 1 and not _takes_many(param.field_info.annotation):
            raise invalid_parameter("query", param.alias, "takes one value: give it once", sent)


def _query_params(dependant: Dependant) -> list[Any]:
    """The query parameters of a route and of the dependencies it declares."""
    return [*dependant.query_params, *(p for d in dependant.dependencies for p in _query_params(d))]


def _takes_many(annotation: Any) -> bool:
    """Whether a parameter's type is a list (``list[str] | None`` included)."""
    origin = get_origin(annotation)
    if origin in (list, tuple, set, frozenset):
        return True
    return origin in (Union, UnionType) and any(_takes_many(arg) for arg in get_args(annotation))


#: Documented on every operation that takes a body.
MEDIA_TYPE_ERROR = error("The body was sent as another type than application/json; detail names Content-Type.")


def _document_media_type(router: APIRouter) -> None:
    for route in router.routes:
        if isinstance(route, APIRoute) and route.body_field is not None:
            route.responses.setdefault(415, MEDIA_TYPE_ERROR)


def _sent_a_body(request: Request) -> bool:
    return request.headers.get("content-length", "0") != "0" or "transfer-encoding" in request.headers


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    wrong_type = _sent_a_body(request) and not is_json_media(request.headers.get("content-type"))
    if wrong_type and any(e["loc"][:1] == ("body",) for e in exc.errors()):
        # A JSON body sent as text/plain, a form or with no type was read as no object at all: the 422
        # blamed the body ("Input should be a valid dictionary"), not the header that was wrong.
        sent = request.headers.get("content-type") or "no type"
        problem = {"path": "Content-Type", "loc": ["header", "content-type"], "type": "unsupported_media_type",
                   "msg": f"{sent}: send the body as application/json"}  # fmt: skip
        return JSONResponse({"error": "unsupported_media_type", "detail": [problem]}, status_code=415)
    return validation_failed(
        exc.errors(), lambda e: {"path": json_path(e["loc"]), "loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
    )


async def _http_error(_: Request, exc: Exception) -> Response:
    """The framework's own errors (no such route, method not allowed, a handler's HTTPException) in
    the same body as ours, the code named after the status: ``not_found``, ``method_not_allowed``."""
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code in (204, 304):  # no body allowed
        return Response(status_code=exc.status_code, headers=headers)
    code = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_").replace("-", "_")
    return JSONResponse({"error": code, "detail": exc.detail}, exc.status_code, headers=headers)


def _unhandled_error(path: str, exc: Exception) -> JSONResponse:
    if is_unavailable(exc):  # an outage, not a bug: the client may try again shortly
        log.warning("database unavailable", path=path, error=repr(exc))
        return JSONResponse(
            {"error": "service_unavailable", "detail": "the database cannot be reached right now; try again shortly"},
            503,
            headers={"Retry-After": "2"},
        )
    if is_contention(exc):  # another transaction held what this one needed (a deadlock, a lock wait)
        log.warning("request lost to a concurrent transaction", path=path, error=repr(exc))
        return JSONResponse(
            {"error": "busy", "detail": "a concurrent update held what this request needed; try again shortly"},
            503,
            headers={"Retry-After": "1"},
        )
    if is_statement_timeout(exc):  # the server gave up on a statement: a slow plan or an overloaded server
        log.warning("a statement ran past its time limit", path=path, error=repr(exc))
        return JSONResponse(
            {"error": "timeout", "detail": "the database did not finish this request in time; try again later"},
            503,
            headers={"Retry-After": "5"},
        )
    log.error("unhandled error", path=path, exc_info=exc)
    return JSONResponse({"error": "internal_error", "detail": "an unexpected error was logged"}, 500)


class HttpMiddleware:
    """A pure-ASGI middleware of HTTP requests (other scopes, the lifespan, pass through untouched).
    Pure ASGI: Starlette's BaseHTTPMiddleware runs every request in an extra task with wrapped
    receive and send channels, which costs more CPU than a small endpoint itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.handle(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


class ErrorAnswers(HttpMiddleware):
    """Answer what a handler raised: 503 for a database outage or a concurrent transaction in the
    way (a warning, no stack trace), 500 for a bug (logged once, with its trace). Not an exception
    handler for ``Exception``: Starlette calls that one and then raises the error again for the
    server to log, so every request during a database outage left an "Exception in ASGI
    application" trace in the log, and every bug two."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked_send)
        except Exception as exc:
            if started:  # too late for an error answer: the server drops the connection
                raise
            await _unhandled_error(scope["path"], exc)(scope, receive, send)


class BodySizeLimit(HttpMiddleware):
    """Answer 413 for bodies over ``max_bytes``, by Content-Length or as they stream in."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        super().__init__(app)
        self.max_bytes = max_bytes

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _too_large(self.max_bytes)(scope, receive, send)
            return
        seen = 0
        exceeded = started = replaced = False

        async def limited_receive() -> Message:
            nonlocal seen, exceeded
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                exceeded = True
                raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            # A body that is not JSON is read by FastAPI itself, which turns any failure to read it
            # into its own 400: once the limit was crossed, the client gets the 413 instead.
            nonlocal started, replaced
            if exceeded and not started:
                if not replaced:
                    replaced = True
                    await _too_large(self.max_bytes)(scope, receive, send)
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _BodyTooLarge:
            if not started and not replaced:
                await _too_large(self.max_bytes)(scope, receive, send)


#: A caller's trace id we keep: short and plain, as it goes into log lines and every event's envelope.
_TRACE_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def trace_id(value: str | None) -> str | None:
    """``value`` if it is a usable trace id (up to 128 letters, digits and ``._:-``), else None: a
    caller's header is not copied into every topic whatever it holds."""
    return value if value is not None and _TRACE_ID.fullmatch(value) else None


def request_id(request: Request) -> str | None:
    """The id :class:`RequestId` gave this request (the caller's, if usable, else a new one)."""
    return getattr(request.state, "request_id", None)


class RequestId(HttpMiddleware):
    """Bind the caller's x-request-id (or a new one, when it has none or an unusable one) to the
    request's log lines, keep it for the handlers (:func:`request_id`) and echo it in the response."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        given = next((value for name, value in scope["headers"] if name == b"x-request-id"), None)
        request_id = trace_id(given.decode("latin-1") if given else None) or str(uuid7())
        scope.setdefault("state", {})["request_id"] = request_id
        header = (b"x-request-id", request_id.encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *(h for h in message.get("headers", ()) if h[0].lower() != b"x-request-id"),
                    header,
                ]
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            await self.app(scope, receive, send_with_id)


class RequestMetrics(HttpMiddleware):
    """Count every answer, with its route and status, and time it (:class:`eventkit.metrics.HttpStats`).
    Outermost, so it sees what the client got: the error answers, a 413, a 500."""

    def __init__(self, app: ASGIApp, stats: HttpStats) -> None:
        super().__init__(app)
        self.stats = stats

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        status = 500  # no answer went out: the server answers 500 or drops the connection

        async def tracked_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, tracked_send)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"  # the router set it, if one matched
            self.stats.record(scope["method"], route, status, time.perf_counter() - started)


class _BodyTooLarge(Exception):
    pass


async def _unauthenticated(request: Request, exc: Exception) -> JSONResponse:
    detail = str(exc)
    log.info("request refused: not signed in", path=request.url.path, reason=detail)
    challenge = 'Bearer error="invalid_token"' if detail.startswith("invalid token") else "Bearer"
    return JSONResponse({"error": "unauthorized", "detail": detail}, 401, headers={"WWW-Authenticate": challenge})


async def _forbidden(request: Request, exc: Exception) -> JSONResponse:
    log.warning("request refused: not allowed", path=request.url.path, reason=str(exc))  # who tried what: an audit line
    return JSONResponse({"error": "forbidden", "detail": str(exc)}, 403)


async def _keys_unavailable(_: Request, exc: Exception) -> JSONResponse:
    log.warning("identity provider unreachable", error=str(exc))
    return JSONResponse({"error": "service_unavailable", "detail": str(exc)}, 503, headers={"Retry-After": "5"})


async def _message_too_large(request: Request, exc: Exception) -> JSONResponse:
    log.warning("an event would be too large for the broker", path=request.url.path, error=str(exc))
    detail = "the request would make an event too large to publish; send less (fewer or shorter values)"
    return JSONResponse({"error": "body_too_large", "detail": detail}, 413)


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse({"error": "body_too_large", "detail": f"request body over {limit} bytes"}, 413)


def create_service_app(
    runtime: ServiceRuntime,
    *,
    title: str,
    routers: Sequence[APIRouter] = (),
    max_body_bytes: int = 1_000_000,
    on_startup: Callable[[], Awaitable[None]] | None = None,
) -> FastAPI:
    """A FastAPI app whose lifespan starts and stops ``runtime``."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        if on_startup:
            await on_startup()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title=title, lifespan=lifespan, responses=COMMON_ERRORS, dependencies=[Depends(one_value_each)])
    app.state.runtime = runtime
    app.state.token_verifier = runtime.settings.token_verifier()  # None: officials' endpoints unauthenticated
    app.include_router(health_router(runtime))
    for router in routers:
        _document_media_type(router)
        app.include_router(router)
    app.state.http_stats = stats = HttpStats()
    app.include_router(metrics_router(runtime, stats))  # after the service's own: a service /metrics wins
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Unauthenticated, _unauthenticated)
    app.add_exception_handler(Forbidden, _forbidden)
    app.add_exception_handler(KeysUnavailable, _keys_unavailable)
    app.add_exception_handler(MessageTooLarge, _message_too_large)

    # Outermost last: the metrics, the size limit, the request id, the JSON check, the error answers, the app.
    app.add_middleware(ErrorAnswers)
    app.add_middleware(JsonBody)
    app.add_middleware(RequestId)
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)
    app.add_middleware(RequestMetrics, stats=stats)
    return app

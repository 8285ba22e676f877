"""The HTTP shell: error bodies (outages, bugs, the framework's own errors), and the request id:
echoed, generated when missing, bound to the request's log lines."""

from __future__ import annotations

from typing import Annotated

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
import httpx
import pytest
import structlog
from fastapi import APIRouter, HTTPException, Query, Request
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from eventkit.http import RequestId, create_service_app, request_id, trace_id
from eventkit.outbox import MessageTooLarge
from eventkit.runtime import ServiceRuntime
from eventkit.settings import ServiceSettings
from tests.unit.eventkit.shell import NOWHERE, shell_client

router = APIRouter()


@router.get("/probe")
async def probe() -> dict[str, object]:
    return {"bound": structlog.contextvars.get_contextvars().get("request_id")}


@router.get("/count")
async def count(request: Request) -> dict[str, object]:
    async with request.app.state.runtime.engine.connect() as conn:  # nothing listens on NOWHERE's port
        return {"count": (await conn.execute(text("SELECT 1"))).scalar_one()}


@router.get("/bug")
async def bug() -> dict[str, object]:
    raise KeyError("a bug")


def _client() -> httpx.AsyncClient:
    # An error that escaped the app would be raised here, as the server would log it.
    return shell_client(router)


async def test_an_unreachable_database_is_a_503_to_retry_not_a_500() -> None:
    async with _client() as client:
        response = await client.get("/count")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    assert response.json()["error"] == "service_unavailable"


@router.get("/deadlock")
async def deadlock() -> dict[str, object]:
    # What SQLAlchemy raises when PostgreSQL broke a deadlock by failing this side.
    raise DBAPIError("UPDATE t SET n = 1", {}, asyncpg.exceptions.DeadlockDetectedError("deadlock detected"))


async def test_a_concurrent_transaction_in_the_way_is_a_503_to_retry_not_a_500() -> None:
    async with _client() as client:
        response = await client.get("/deadlock")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.json()["error"] == "busy"


@router.get("/slow")
async def slow() -> dict[str, object]:
    # What SQLAlchemy raises when the server cancelled a statement at its statement_timeout.
    raise DBAPIError(
        "SELECT", {}, asyncpg.exceptions.QueryCanceledError("canceling statement due to statement timeout")
    )


async def test_a_statement_past_its_time_limit_is_a_503_to_retry_later_not_a_500() -> None:
    async with _client() as client:
        response = await client.get("/slow")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json()["error"] == "timeout"


async def test_a_bug_is_a_500_without_a_stack_trace() -> None:
    async with _client() as client:
        response = await client.get("/bug")
    assert response.status_code == 500
    assert response.json() == {"error": "internal_error", "detail": "an unexpected error was logged"}


@router.get("/gone")
async def gone() -> dict[str, object]:
    raise HTTPException(404, "no such thing")


async def test_the_frameworks_own_errors_have_the_same_body_as_ours() -> None:
    async with _client() as client:
        no_route = await client.get("/nowhere")
        wrong_method = await client.delete("/probe")
        raised = await client.get("/gone")
    assert (no_route.status_code, no_route.json()) == (404, {"error": "not_found", "detail": "Not Found"})
    assert wrong_method.status_code == 405 and wrong_method.json()["error"] == "method_not_allowed"
    assert wrong_method.headers["allow"] == "GET"  # the framework's headers are kept
    assert (raised.status_code, raised.json()) == (404, {"error": "not_found", "detail": "no such thing"})


async def test_a_given_request_id_is_echoed_and_bound_to_the_logs() -> None:
    async with _client() as client:
        response = await client.get("/probe", headers={"x-request-id": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    assert response.json() == {"bound": "abc-123"}


async def test_a_missing_request_id_is_made_up_once() -> None:
    async with _client() as client:
        response = await client.get("/probe")
    assert response.headers.get_list("x-request-id") == [response.json()["bound"]]
    assert len(response.json()["bound"]) == 36


@router.get("/kept")
async def kept(request: Request) -> dict[str, object]:
    return {"kept": request_id(request)}


@pytest.mark.parametrize("given", ["x" * 129, "a b", "id\twith\ttabs", "<script>", ""])
async def test_an_unusable_request_id_is_replaced_not_copied_into_logs_and_events(given: str) -> None:
    """The handlers take the id from the shell (workflow records it as a decision's causation, intake
    as a submission's correlation): a caller's 8,000 characters went into every topic verbatim, and
    with no header at all the id the shell made up and answered with was not recorded."""
    async with _client() as client:
        response = await client.get("/kept", headers={"x-request-id": given})
        missing = await client.get("/kept")
        usable = await client.get("/kept", headers={"x-request-id": "portal:2024-06-03.0042"})
    assert response.json()["kept"] == response.headers["x-request-id"] != given
    assert len(response.json()["kept"]) == 36
    assert missing.json()["kept"] == missing.headers["x-request-id"]
    assert usable.json()["kept"] == "portal:2024-06-03.0042"


def test_a_trace_id_is_short_and_plain() -> None:
    assert trace_id("01a24afe-a6bf-75d5-9b52-ebd000000000") == "01a24afe-a6bf-75d5-9b52-ebd000000000"
    assert trace_id("x" * 128) is not None
    assert [trace_id(v) for v in ("x" * 129, "", "a/b", "đ", None)] == [None] * 5


def test_the_request_id_is_pure_asgi_not_base_http_middleware() -> None:
    """BaseHTTPMiddleware runs each request in an extra task with wrapped channels: about a millisecond
    of CPU per request on intake's submissions."""
    settings = ServiceSettings(database_url=NOWHERE, kafka_bootstrap_servers="127.0.0.1:1")
    app = create_service_app(ServiceRuntime(settings, migrations_package="eventkit"), title="t")
    assert [m.cls for m in app.user_middleware if m.cls is RequestId]
    assert not [m for m in app.user_middleware if m.cls.__name__ == "BaseHTTPMiddleware"]


async def test_every_answer_is_counted_by_route_and_status_and_timed() -> None:
    async with _client() as client:
        for _ in range(2):
            assert (await client.get("/probe")).status_code == 200
        assert (await client.get("/bug")).status_code == 500
        assert (await client.get("/no/such/page")).status_code == 404
        assert (await client.request("BREW", "/probe")).status_code == 405
        exposition = (await client.get("/metrics")).text
    assert 'http_requests_total{method="GET",route="/probe",status="200"} 2.0' in exposition
    assert 'http_requests_total{method="GET",route="/bug",status="500"} 1.0' in exposition
    # Paths and methods nobody serves add no series of their own.
    assert 'http_requests_total{method="GET",route="unmatched",status="404"} 1.0' in exposition
    assert 'http_requests_total{method="other",route="/probe",status="405"} 1.0' in exposition
    assert 'http_request_duration_seconds_count{method="GET",route="/probe"} 2.0' in exposition
    assert 'http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/probe"} 2.0' in exposition


@router.post("/huge")
async def huge() -> dict[str, object]:
    raise MessageTooLarge("DossierSubmitted", 2_000_000)


async def test_a_request_that_would_make_an_event_too_large_to_publish_is_a_413() -> None:
    async with _client() as client:
        response = await client.post("/huge")
    assert response.status_code == 413
    assert response.json()["error"] == "body_too_large"


repeated = APIRouter()


@repeated.get("/figures")
async def figures(
    agency: str | None = None, kinds: Annotated[list[str] | None, Query()] = None
) -> dict[str, object]:
    return {"agency": agency, "kinds": kinds}


async def test_a_query_parameter_that_takes_one_value_sent_twice_is_refused_naming_it() -> None:
    """The last value was used: agency=A&agency=B answered B's figures alone, with a 200."""
    async with shell_client(repeated) as client:
        twice = await client.get("/figures", params=[("agency", "A"), ("agency", "B")])
        assert twice.status_code == 422 and twice.json()["detail"][0]["loc"] == ["query", "agency"], twice.text
        many = await client.get("/figures", params=[("agency", "A"), ("kinds", "x"), ("kinds", "y")])
        assert many.json() == {"agency": "A", "kinds": ["x", "y"]}  # a list takes them all

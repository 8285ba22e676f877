"""Operator actions: rebuild the read models from the topics."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from eventkit.auth import OperatorOnly
from eventkit.http import error
from reporting.service_layer.rebuild import RebuildInProgress

router = APIRouter(prefix="/v1/projections", tags=["operations"])


@router.post(
    "/rebuild",
    status_code=202,
    dependencies=[OperatorOnly],
    responses={
        200: {"description": "wait=true and the rebuild ended (its state says how)."},
        401: error("No operator's bearer token, or one that does not verify (when AUTH_JWKS is set)."),
        403: error("Not an operator."),
        409: error("A rebuild is running (here or in another replica)."),
    },
)
async def rebuild(
    request: Request,
    response: Response,
    wait: Annotated[bool, Query(description="Answer when the rebuild has finished (bounded by timeout).")] = False,
    timeout: Annotated[float, Query(gt=0, le=3600, description="Seconds to wait with wait=true.")] = 300,
) -> dict[str, Any]:
    """Replay every topic into fresh tables and swap them in (operators only); 409 while one runs."""
    rebuilder = request.app.state.reporting.rebuilder
    try:
        status = rebuilder.start()
    except RebuildInProgress as exc:
        response.status_code = 409
        return {"error": "rebuild_in_progress", "detail": str(exc), "rebuild": _status(rebuilder)}
    if wait:
        try:
            await asyncio.wait_for(rebuilder.wait(), timeout=timeout)
        except TimeoutError:
            return {"rebuild": status.as_dict()}
        # Finished: 200 with its state (succeeded or failed, and why); 409 if another replica was rebuilding.
        response.status_code = 409 if "already running" in (status.error or "") else 200
    return {"rebuild": status.as_dict()}


@router.get(
    "/rebuild",
    dependencies=[OperatorOnly],
    responses={401: error("No operator's bearer token (when AUTH_JWKS is set)."), 403: error("Not an operator.")},
)
async def rebuild_status(request: Request) -> dict[str, Any]:
    """The running or last rebuild of this process (operators only: a failure names tables and errors)."""
    return {"rebuild": _status(request.app.state.reporting.rebuilder)}


def _status(rebuilder: Any) -> dict[str, Any] | None:
    return rebuilder.status.as_dict() if rebuilder.status else None

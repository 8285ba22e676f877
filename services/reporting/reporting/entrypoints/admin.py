"""Operator actions: rebuild the read models from the topics."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from eventkit.auth import OperatorOnly
from eventkit.http import error
from reporting.service_layer.rebuild import RebuildInProgress

router = APIRouter(prefix="/v1/projections", tags=["operations"])

#: The longest a request waits to learn whether its rebuild got the rebuild lock (a connection and one
#: statement); past it, the answer is 202 and the rebuild's status says later if it was refused.
LOCK_ANSWER_SECONDS = 5.0


@router.post(
    "/rebuild",
    status_code=202,
    dependencies=[OperatorOnly],
    responses={
        200: {"description": "wait=true and the rebuild ended (its state says how)."},
        401: error("No operator's bearer token, or one that does not verify (when AUTH_JWKS is set)."),
        403: error("Not an operator."),
        409: error("A rebuild is running, here or in another replica (refused: not counted as a failed rebuild)."),
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
        # Finished: 200 with its state (succeeded or failed, and why); 409 if it was refused (below).
        response.status_code = 200
    else:
        # Whether another replica is rebuilding is known as soon as the run has tried the rebuild lock:
        # answered 202 at once, a rebuild that would never run looked started.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(rebuilder.decided(), timeout=LOCK_ANSWER_SECONDS)
    if status.state == "refused":
        response.status_code = 409
        return {"error": "rebuild_in_progress", "detail": status.error, "rebuild": status.as_dict()}
    return {"rebuild": status.as_dict()}


@router.get(
    "/rebuild",
    dependencies=[OperatorOnly],
    responses={401: error("No operator's bearer token (when AUTH_JWKS is set)."), 403: error("Not an operator.")},
)
async def rebuild_status(request: Request) -> dict[str, Any]:
    """The running or last rebuild of this process, not a refused one (operators only: a failure names tables)."""
    return {"rebuild": _status(request.app.state.reporting.rebuilder)}


def _status(rebuilder: Any) -> dict[str, Any] | None:
    return rebuilder.status.as_dict() if rebuilder.status else None

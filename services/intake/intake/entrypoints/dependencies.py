"""FastAPI dependencies: the process context bootstrap put on the app, and request metadata."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

import orjson
from fastapi import Depends, Header, Request
from pydantic import BaseModel

from eventkit.http import request_id, trace_id
from intake.service_layer.handlers import IdempotencyKey, IntakeContext
from intake.service_layer.queries import ViewReader

# The dependencies are coroutines although they never wait: FastAPI runs a plain ``def`` dependency in a
# worker thread, and two thread hand-offs per request cost more CPU than everything they compute.


async def get_context(request: Request) -> IntakeContext:
    context: IntakeContext = request.app.state.intake
    return context


async def get_views(request: Request) -> ViewReader:
    views: ViewReader = request.app.state.views
    return views


async def correlation_id(request: Request) -> str | None:
    """The caller's correlation id (if usable: it goes into every event of the dossier), else the
    request id the HTTP shell assigned (the caller's x-request-id, or one it made up)."""
    return trace_id(request.headers.get("x-correlation-id")) or request_id(request)


ContextDep = Annotated[IntakeContext, Depends(get_context)]
ViewsDep = Annotated[ViewReader, Depends(get_views)]
CorrelationDep = Annotated[str | None, Depends(correlation_id)]
#: What an Idempotency-Key may be: printable ASCII, no spaces, up to 255 characters.
_KEY = {"alias": "Idempotency-Key", "min_length": 1, "max_length": 255, "pattern": r"^[\x21-\x7e]+$"}
IdempotencyHeader = Annotated[
    str | None,
    Header(
        **_KEY,
        description="A client-chosen key: a retry with the same key and body gets the first answer and "
        "creates nothing; the same key with another body is a 409.",
    ),
]
#: Required where a retry without one would act twice on something that cannot be taken back: a
#: payment retried after a timeout was recorded twice, and the dossier went on half paid.
RequiredIdempotencyHeader = Annotated[
    str,
    Header(
        **_KEY,
        description="Required: the payment's own key (the payment gateway's transaction id, say). A retry with it"
        " gets the first answer and records nothing; the same key with another body is a 409.",
    ),
]


def idempotency(key: str | None, request: Request, body: BaseModel) -> IdempotencyKey | None:
    """The key with a digest of what it was sent with (method, path and canonical body)."""
    if key is None:
        return None
    request_doc: dict[str, Any] = {
        "method": request.method,
        "path": request.url.path,
        "body": body.model_dump(mode="json"),
    }
    digest = hashlib.sha256(orjson.dumps(request_doc, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return IdempotencyKey(key, digest)

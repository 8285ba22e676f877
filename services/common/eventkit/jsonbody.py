"""JSON request bodies the services can store and publish, checked before any handler runs.

Python's ``json`` module, which parses request bodies for FastAPI, accepts documents that the rest of
the stack cannot carry: a lone UTF-16 surrogate in a string (``"\\udac9"``: no UTF-8 encoding exists,
so the database and orjson refuse it), ``NaN`` and ``Infinity``, ``1e400`` (read as infinity), and
integers of any size (orjson, which serialises our events, stops at 64 bits). A handler met them
late, as a 500. This middleware parses every JSON body once with orjson, which refuses the first
three, and refuses numbers beyond the 64-bit range, each with a 422 naming the field at fault; a
body that passes reaches the application unchanged.

It also refuses the NUL character (``"\\u0000"``) in a body's strings and keys, and in the request's
path and query: PostgreSQL stores neither text nor jsonb with it (22021, 22P05), so a name or a
dossier code carrying one failed at the database, as a 500, and took the requests sharing its batched
statement down with it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import orjson
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Numbers beyond this magnitude cannot be a 64-bit integer (nor mean anything in a dossier).
LIMIT = 2**63 - 1
#: Objects and arrays nested deeper than this are refused: no form nests beyond a few levels, and a
#: handler that walks a body recursively (Unicode normalisation, validation, a traceback's repr) must
#: not meet Python's recursion limit in the middle of a request. orjson itself stops at 1,024.
MAX_DEPTH = 64


def is_json_media(content_type: str | bytes | None) -> bool:
    """Whether a Content-Type header says JSON (``application/json``, ``…+json``, any parameters)."""
    if content_type is None:
        return False
    raw = content_type.encode("latin-1") if isinstance(content_type, str) else content_type
    media = raw.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or media.endswith(b"+json")


def _is_json(scope: Scope) -> bool:
    return is_json_media(next((bytes(value) for name, value in scope["headers"] if name == b"content-type"), None))


def _refusal(path: str, loc: list[str | int], msg: str, kind: str) -> JSONResponse:
    """The 422 naming what is at fault: ``loc`` as FastAPI's own (``["body", …]``, ``["query", name]``)."""
    detail = [{"path": path, "loc": loc, "msg": msg, "type": kind}]
    return JSONResponse({"error": "validation_failed", "detail": detail}, status_code=422)


def _scan(doc: Any) -> tuple[bool, bool]:
    """Whether any number in ``doc`` is beyond the range, and whether it nests deeper than
    :data:`MAX_DEPTH`: a plain walk, no paths (a few µs a body)."""
    stack = [(doc, 0)]
    huge = False
    while stack:
        value, depth = stack.pop()
        kind = type(value)
        if kind is dict or kind is list:
            if depth >= MAX_DEPTH:
                return huge, True
            stack.extend((v, depth + 1) for v in (value.values() if kind is dict else value))
        elif (kind is int or kind is float) and abs(value) > LIMIT:
            huge = True
    return huge, False


Found = tuple[str, list[str | int]]


def first_at_fault(
    doc: Any, at_fault: Callable[[Any], bool], path: str = "$", loc: tuple[str | int, ...] = ()
) -> Found | None:
    """The JSON path (and location) of the first value or key in ``doc`` that ``at_fault`` refuses."""
    if isinstance(doc, dict):
        for key, value in doc.items():
            if at_fault(key):
                return f"{path}.{_shown(key)}", [*loc, key]
            if found := first_at_fault(value, at_fault, f"{path}.{key}", (*loc, key)):
                return found
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            if found := first_at_fault(value, at_fault, f"{path}[{index}]", (*loc, index)):
                return found
    elif at_fault(doc):
        return path, list(loc)
    return None


def out_of_range(doc: Any) -> Found | None:
    """Where the first number in ``doc`` beyond the 64-bit range is, if any."""
    return first_at_fault(doc, lambda v: type(v) in (int, float) and abs(v) > LIMIT)


def with_nul(doc: Any) -> Found | None:
    """Where the first string or key in ``doc`` holding a NUL is, if any."""
    return first_at_fault(doc, lambda v: isinstance(v, str) and "\x00" in v)


class JsonBody:
    """Refuse, with a 422, JSON bodies the stack could not carry (see the module's docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if (refusal := _nul_in_target(scope)) is not None:
            await refusal(scope, receive, send)
            return
        if not _is_json(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                await self.app(scope, _replay([message], receive), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        refusal = _check(body) if body else None
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, _replay([{"type": "http.request", "body": body, "more_body": False}], receive), send)


def _check(body: bytes) -> JSONResponse | None:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return _refusal("$", ["body"], f"invalid JSON: {exc}", "json_invalid")
    huge, deep = _scan(doc)
    if deep:
        return _refusal("$", ["body"], f"nested deeper than {MAX_DEPTH} levels", "json_too_deep")
    if huge and (found := out_of_range(doc)):
        path, loc = found
        return _refusal(
            path, ["body", *loc], f"number out of range (at most {LIMIT} in magnitude)", "number_out_of_range"
        )
    # A NUL can only be in the body escaped: one search of the raw bytes spares the walk for the rest.
    if b"\\u0000" in body and (found := with_nul(doc)):
        path, loc = found
        return _refusal(path, ["body", *loc], NUL_MESSAGE, "string_with_nul")
    return None


def _shown(name: str) -> str:
    """A key or parameter name with its NULs written as JSON escapes, to name it in an answer."""
    return name.replace("\x00", "\\u0000")


NUL_MESSAGE = "the NUL character (\\u0000) is not allowed in text"


def _nul_in_target(scope: Scope) -> JSONResponse | None:
    """A 422 for a NUL in the path (say, a dossier code) or in a query parameter."""
    if "\x00" in scope["path"]:
        return _refusal("path", ["path"], NUL_MESSAGE, "string_with_nul")
    query: bytes = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            if "\x00" in name or "\x00" in value:
                shown = _shown(name)
                return _refusal(shown, ["query", shown], NUL_MESSAGE, "string_with_nul")
    return None


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """The messages already read, then whatever the original channel brings (a disconnect)."""
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed

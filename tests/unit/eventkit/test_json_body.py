"""JSON bodies the stack could not store or publish are a 422 naming the field, not a 500 later."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Body

from tests.unit.eventkit.shell import shell_client

router = APIRouter()
seen: list[Any] = []


@router.post("/echo")
async def echo(doc: dict[str, Any] = Body(...)) -> dict[str, Any]:  # noqa: B008
    seen.append(doc)
    return {"ok": True}


async def post(raw: bytes, content_type: str = "application/json") -> httpx.Response:
    seen.clear()
    async with shell_client(router) as client:
        return await client.post("/echo", content=raw, headers={"content-type": content_type})


@pytest.mark.parametrize(
    ("raw", "path", "kind"),
    [
        (b'{"applicant": {"full_name": "\\udac9"}}', "$", "json_invalid"),  # a lone surrogate
        (b'{"fee": NaN}', "$", "json_invalid"),
        (b'{"fee": 1e400}', "$", "json_invalid"),
        (b'{"form": {"weights": [1, 123456789012345678901234567890]}}', "$.form.weights[1]", "number_out_of_range"),
        (b'{"form": {"weight": -9.3e18}}', "$.form.weight", "number_out_of_range"),
        (b'{"unclosed": ', "$", "json_invalid"),
        # 65 levels: a handler walking it recursively met Python's recursion limit as a 500 (whose
        # traceback, rendering the body, then took the worker for seconds).
        (b'{"form": ' + b'{"a": ' * 63 + b"[1]" + b"}" * 63 + b"}", "$", "json_too_deep"),
        # PostgreSQL stores no NUL in text or jsonb: it failed at the database, and its batch with it.
        (b'{"applicant": {"full_name": "Nguy\\u1ec5n\\u0000"}}', "$.applicant.full_name", "string_with_nul"),
        (b'{"form": {"children": [{"name": "A"}, {"name": "\\u0000"}]}}', "$.form.children[1].name", "string_with_nul"),
        (b'{"form": {"a\\u0000b": 1}}', "$.form.a\\u0000b", "string_with_nul"),
    ],
)
async def test_what_the_stack_cannot_carry_is_refused_with_its_path(raw: bytes, path: str, kind: str) -> None:
    response = await post(raw)
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "validation_failed"
    assert (body["detail"][0]["path"], body["detail"][0]["type"]) == (path, kind)
    assert seen == []  # the handler never ran


@pytest.mark.parametrize(
    "raw",
    [
        b'{"name": "Nguy\\u1ec5n V\\u0103n A", "emoji": "\\ud83d\\ude00", "n": 9223372036854775807}',
        b'{"amount": 1.5e18, "list": [1, 2.5, true, null]}',
        b'{"note": "a backslash then u0000 is text: \\\\u0000"}',
    ],
)
async def test_everything_else_reaches_the_handler_unchanged(raw: bytes) -> None:
    response = await post(raw)
    assert response.status_code == 200
    assert len(seen) == 1


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "text/json"])
async def test_a_body_of_another_type_is_refused_by_its_type_not_its_content(content_type: str) -> None:
    """Sent as text, a good JSON object was refused as "Input should be a valid dictionary", naming the
    body, not the header that was wrong."""
    response = await post(b'{"fee": 1}', content_type=content_type)
    assert response.status_code == 415
    assert [(d["path"], d["type"]) for d in response.json()["detail"]] == [("Content-Type", "unsupported_media_type")]
    assert seen == []


async def test_no_body_at_all_is_a_missing_body_not_a_wrong_type() -> None:
    response = await post(b"", content_type="")
    assert response.status_code == 422, response.text


async def test_a_body_nested_as_deep_as_allowed_passes() -> None:
    raw = b'{"form": ' + b'{"a": ' * 62 + b"[1]" + b"}" * 62 + b"}"  # 64 levels with the outer object
    assert (await post(raw)).status_code == 200


@pytest.mark.parametrize(
    ("target", "where"),
    [("/echo%00x", ["path"]), ("/echo?agency=UBND%00", ["query", "agency"]), ("/echo?a%00=1", ["query", "a\\u0000"])],
)
async def test_a_nul_in_the_path_or_the_query_is_refused_before_any_handler(target: str, where: list[str]) -> None:
    seen.clear()
    async with shell_client(router) as client:
        response = await client.post(target, content=b"{}", headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == where and response.json()["detail"][0]["type"] == "string_with_nul"
    assert seen == []

"""A body over the limit is a 413 however it comes: declared, streamed, JSON or not."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import APIRouter, Body

from tests.unit.eventkit.shell import shell_client

router = APIRouter()


@router.post("/echo")
async def echo(doc: dict[str, Any] = Body(...)) -> dict[str, Any]:  # noqa: B008
    return {"ok": True}


async def chunks(total: int, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, total, size):
        yield b"x" * min(size, total - start)


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", None])
@pytest.mark.parametrize("streamed", [True, False], ids=["streamed, no Content-Length", "declared"])
async def test_an_oversized_body_is_a_413(content_type: str | None, streamed: bool) -> None:
    """FastAPI reads a body that is not JSON itself and made any failure to read it its own 400."""
    headers = {"content-type": content_type} if content_type else {}
    content: Any = chunks(1_300_000) if streamed else b"x" * 1_300_000
    async with shell_client(router) as client:
        response = await client.post("/echo", content=content, headers=headers)
    assert response.status_code == 413 and response.json()["error"] == "body_too_large"


async def test_a_body_within_the_limit_is_answered_by_the_application() -> None:
    async with shell_client(router) as client:
        response = await client.post("/echo", content=chunks(1000), headers={"content-type": "text/plain"})
    assert response.status_code != 413  # the application's own answer (a 422: not JSON to it)

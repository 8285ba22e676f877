"""Intake's refusals name what is wrong in our words; the database's stay in the log."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from intake.domain.errors import RetryableConflict
from intake.entrypoints.errors import install_error_handlers


async def test_a_concurrent_update_is_a_409_without_the_database_s_own_message() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/race")
    async def race() -> None:
        raise RetryableConflict("deadlock detected\nDETAIL: Process 4242 waits for ShareLock on transaction 77")

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake") as client:
        response = await client.post("/race")
    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "concurrent_update" and "send this one again" in body["detail"]
    assert "Process" not in body["detail"] and "deadlock" not in body["detail"]

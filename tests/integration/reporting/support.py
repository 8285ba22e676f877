"""Helpers for reporting's integration tests: publish contract envelopes, wait for projection,
run the app on a real port."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable

import uvicorn
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from sqlalchemy import text

from contracts.envelope import Envelope, payload_model
from contracts.topics import Topics
from devstack.processes import free_port


def topic_of(envelope: Envelope, topics: Topics) -> str:
    model = payload_model(envelope.type, envelope.version)
    assert model is not None, envelope.type
    return str(getattr(topics, model.topic_role))


async def publish(bootstrap: str, topics: Topics, envelopes: Iterable[Envelope]) -> None:
    """Send envelopes to their topics, keyed like the producers key them, and wait for the acks."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, linger_ms=5)
    await producer.start()
    try:
        futures = [await producer.send(topic_of(e, topics), value=e.to_json(), key=e.key.encode()) for e in envelopes]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def projected_count(app: FastAPI) -> int:
    async with app.state.runtime.engine.connect() as conn:
        return int((await conn.execute(text("SELECT count(*) FROM rm_event_log"))).scalar_one())


@contextlib.asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    """Run the app under uvicorn on a free loopback port; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(400):  # bounded: 20 s
            if server.started or task.done():
                break
            await asyncio.sleep(0.05)
        if task.done():
            task.result()
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=30)

"""One intake service per test module, in-process against the real PostgreSQL and broker; and the
unit of work on both of its implementations, for the port contract tests."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.envelope import Envelope, EventPayload
from eventkit.db import make_engine
from eventkit.kafka import KafkaPublisher
from eventkit.migrations import apply_migrations
from eventkit.outbox import to_message
from intake.adapters.group_commit import GroupCommit
from intake.adapters.memory import InMemoryIntakeUnitOfWork
from intake.adapters.postgres import SqlIntakeUnitOfWork
from intake.bootstrap import create_app
from intake.settings import IntakeSettings
from tests.support.infra import Infra
from tests.support.services import create_topics, running, settings_for, until_ready


@dataclass
class RunningIntake:
    client: httpx.AsyncClient
    settings: IntakeSettings
    app: FastAPI
    infra: Infra

    async def scalar(self, sql: str, **params: object) -> object:
        async with self.app.state.runtime.engine.connect() as conn:
            return (await conn.execute(text(sql), params)).scalar_one()

    async def publish(self, topic: str, *events: tuple[EventPayload, str]) -> None:
        """Put events on a topic as their producer would: each in an envelope keyed by (dossier or bundle) id."""
        publisher = KafkaPublisher(self.infra.bootstrap_servers, client_id="intake-tests")
        try:
            messages = [to_message(topic, Envelope.wrap(e, key=key, producer="tests")) for e, key in events]
            await publisher.publish(messages)
        finally:
            await publisher.stop()


@pytest.fixture(scope="module")
async def intake(infra: Infra) -> AsyncIterator[RunningIntake]:
    unique = secrets.token_hex(4)
    settings = settings_for(IntakeSettings, infra, unique)
    await create_topics(infra, settings.topics)
    app = create_app(settings)
    try:
        async with running(app) as client:
            service = RunningIntake(client, settings, app, infra)
            await until_ready(client)  # the tracking consumer has joined its group
            yield service
    finally:
        engine = make_engine(infra.database_url, "public", pool_size=1)
        async with engine.begin() as conn:
            await conn.execute(text("SET LOCAL lock_timeout = '30s'"))  # a leaked session fails the run, not hangs it
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{settings.schema_name}" CASCADE'))
        await engine.dispose()


UowFactory = Callable[[], Any]


@pytest.fixture
async def intake_tables(engine: AsyncEngine, schema: str) -> AsyncEngine:
    """The test's own schema with eventkit's and intake's tables."""
    await apply_migrations(engine, schema, "intake")
    return engine


@pytest.fixture(params=["memory", "postgres", "group-commit"])
def new_uow(request: pytest.FixtureRequest) -> UowFactory:
    """The in-memory fake and PostgreSQL (a submission outside a transaction written directly, or
    through the group commit as the service does), each test on all: one contract."""
    if request.param == "memory":
        shared = InMemoryIntakeUnitOfWork()
        return lambda: shared
    engine: AsyncEngine = request.getfixturevalue("intake_tables")
    if request.param == "group-commit":
        writer = GroupCommit(engine)
        return lambda: SqlIntakeUnitOfWork(engine, group_commit=writer)
    return lambda: SqlIntakeUnitOfWork(engine)


@pytest.fixture
async def dead_connection_pool(intake_tables: AsyncEngine, infra: Infra, schema: str) -> AsyncIterator[AsyncEngine]:
    """An engine of one pooled connection whose server session was terminated behind its back."""
    small = make_engine(infra.database_url, schema, pool_size=1)
    try:
        async with small.connect() as conn:
            pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        async with intake_tables.connect() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
        yield small
    finally:
        await small.dispose()

"""Running workflow in-process against the real servers, feeding it intake's events, and a stand-in for
registry-sync that answers ``registry.commands`` on ``registry.events``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.envelope import Envelope, EventPayload
from contracts.events import registry
from contracts.topics import Topics
from eventkit.kafka import KafkaPublisher
from eventkit.outbox import to_message
from tests.support.infra import Infra
from tests.support.kafka import eventually, read_topic
from tests.support.services import create_topics, running, settings_for, until_ready
from workflow.adapters.clock import SettableClock
from workflow.bootstrap import create_app
from workflow.settings import WorkflowSettings

#: A registry's answer to a command: the result data, or a failure reason as a string.
Answer = Callable[[registry.RegistryCommandRequested], "dict[str, Any] | str"]


@dataclass
class Workflow:
    """A running workflow service and the means to talk to it the way the other services do."""

    client: httpx.AsyncClient
    settings: WorkflowSettings
    infra: Infra
    publisher: KafkaPublisher
    engine: AsyncEngine

    @property
    def topics(self) -> Topics:
        return self.settings.topics

    async def publish_intake(self, *events: EventPayload) -> None:
        """Put events on intake.events as intake would (keyed by dossier, or bundle, id)."""
        await self.publisher.publish([to_message(self.topics.intake_events, _envelope(e)) for e in events])

    async def wait_for_task(self, agency: str, dossier_id: str, timeout: float = 20) -> dict[str, Any]:
        async def task() -> dict[str, Any] | None:
            body = (await self.client.get("/v1/tasks", params={"agency": agency, "limit": 1000})).json()
            return next((t for t in body["tasks"] if t["dossier_id"] == dossier_id), None)

        return await eventually(task, timeout=timeout)  # type: ignore[no-any-return]

    async def decide(self, dossier_id: str, decision: str, **fields: Any) -> httpx.Response:
        body = {"decision": decision, "official_id": fields.pop("official_id", "cb-01"), **fields}
        return await self.client.post(f"/v1/dossiers/{dossier_id}/decisions", json=body)

    async def events_of(self, stream_id: str) -> list[str]:
        """Event types in the service's own store for one stream, in order."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT event_type FROM events WHERE stream_id = :s ORDER BY stream_version"), {"s": stream_id}
            )
            return list(rows.scalars())

    async def stored_public_events(self) -> dict[str, str]:
        """event_id -> type of every event in the store that belongs on workflow.events."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT event_id::text, event_type FROM events"
                    " WHERE event_type NOT LIKE 'Workflow%' AND event_type <> 'RegistryCommandRequested'"
                )
            )
            return dict(rows.all())  # type: ignore[arg-type]

    async def published(self, expect: int, timeout: float = 15) -> list[Envelope]:
        records = await read_topic(
            self.infra.bootstrap_servers, self.topics.workflow_events, expect=expect, timeout=timeout
        )
        return [Envelope.from_json(r.value) for r in records]


def _envelope(event: EventPayload) -> Envelope:
    key = getattr(event, "dossier_id", None) or getattr(event, "bundle_id", None)
    assert key, f"{event.event_type} has no key"
    return Envelope.wrap(event, key=key, producer="tests")


@contextlib.asynccontextmanager
async def running_workflow(
    infra: Infra, unique: str, clock: SettableClock | None = None, **overrides: object
) -> AsyncIterator[Workflow]:
    settings = settings_for(WorkflowSettings, infra, unique, timer_poll_seconds=0.05, **overrides)
    await create_topics(infra, settings.topics)
    app = create_app(settings, clock=clock)
    publisher = KafkaPublisher(infra.bootstrap_servers, client_id=f"tests-intake-{unique}")
    async with running(app) as client:
        await until_ready(client)
        try:
            yield Workflow(client, settings, infra, publisher, app.state.runtime.engine)
        finally:
            await publisher.stop()


@contextlib.asynccontextmanager
async def registry_stand_in(workflow: Workflow, answer: Answer, *, replies: int = 1) -> AsyncIterator[list[str]]:
    """Play registry-sync: answer each command on registry.commands ``replies`` times (duplicates on purpose).

    Yields the ids of the commands seen, in arrival order."""
    seen: list[str] = []
    publisher = KafkaPublisher(workflow.infra.bootstrap_servers, client_id="registry-stand-in")
    consumer = AIOKafkaConsumer(
        workflow.topics.registry_commands,
        bootstrap_servers=workflow.infra.bootstrap_servers,
        group_id=f"stand-in-{workflow.settings.schema_name}",
        auto_offset_reset="earliest",
        session_timeout_ms=2000,
        heartbeat_interval_ms=500,
    )
    await consumer.start()

    async def serve() -> None:
        while True:
            batch = await consumer.getmany(timeout_ms=100)
            for records in batch.values():
                for record in records:
                    command = Envelope.from_json(record.value).parse_payload()
                    assert isinstance(command, registry.RegistryCommandRequested)
                    seen.append(command.command_id)
                    reply = _reply(command, answer(command))
                    # Distinct envelopes: a second reply the inbox cannot recognise as a redelivery.
                    messages = [to_message(workflow.topics.registry_events, _envelope(reply)) for _ in range(replies)]
                    await publisher.publish(messages)

    task = asyncio.create_task(serve())
    try:
        yield seen
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await consumer.stop()
        await publisher.stop()


def _reply(command: registry.RegistryCommandRequested, outcome: dict[str, Any] | str) -> EventPayload:
    now = datetime.now(command.requested_at.tzinfo)
    common = {
        "command_id": command.command_id,
        "system": command.system,
        "operation": command.operation,
        "dossier_id": command.dossier_id,
        "attempts": 1,
    }
    if isinstance(outcome, str):  # "<status> <code>: <message>", as registry-sync words a refusal
        status, _, rest = outcome.partition(" ")
        code = rest.split(":", 1)[0] if status.isdigit() else None
        http_status = int(status) if status.isdigit() else None
        return registry.RegistryCommandFailed(
            **common, reason=outcome, failed_at=now, error=code, http_status=http_status
        )
    return registry.RegistryCommandSucceeded(**common, result=outcome, completed_at=now)

"""Kafka entry points: workflow's and registry-sync's events, applied to the citizen view."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import contracts.events  # noqa: F401 - registers every payload model for parse_payload
from contracts.envelope import Envelope, EventPayload, registered_events
from contracts.topics import Topics
from eventkit.consumer import Dispatcher
from eventkit.runtime import ConsumerSpec
from eventkit.uow import SqlUnitOfWork
from intake.adapters.postgres import PostgresDossiers
from intake.service_layer.ports import Dossiers
from intake.service_layer.projections import on_registry_event, on_workflow_event

Projection = Callable[[EventPayload, Dossiers], Awaitable[None]]


def _handler(projection: Projection) -> Callable[[Envelope, SqlUnitOfWork], Awaitable[None]]:
    async def handle(envelope: Envelope, uow: SqlUnitOfWork) -> None:
        payload = envelope.parse_payload()
        if payload is not None:  # a version this build does not know: skip, do not fail
            await projection(payload, PostgresDossiers(uow.conn))

    return handle


def _types(role: str) -> list[str]:
    contract = (m for m in registered_events() if m.__module__.startswith("contracts."))
    return sorted({m.event_type for m in contract if m.topic_role == role})


def tracking_consumer(topics: Topics) -> ConsumerSpec:
    """One consumer group for the citizen view: every workflow event and every registry outcome."""
    handlers = {t: _handler(on_workflow_event) for t in _types("workflow_events")}
    handlers |= {t: _handler(on_registry_event) for t in _types("registry_events")}
    return ConsumerSpec("tracking", [topics.workflow_events, topics.registry_events], Dispatcher(handlers))

"""Kafka entry points: workflow's and registry-sync's events, applied to the citizen view."""

from __future__ import annotations

from collections.abc import Sequence

import contracts.events  # noqa: F401 - registers every payload model for parse_payload
from contracts.catalogue import Catalogue
from contracts.envelope import Envelope, registered_events
from contracts.topics import Topics
from eventkit.consumer import BatchDispatcher
from eventkit.runtime import ConsumerSpec
from eventkit.uow import SqlUnitOfWork
from intake.adapters.postgres import PostgresDossiers
from intake.service_layer.projections import on_events


def _types(role: str) -> list[str]:
    contract = (m for m in registered_events() if m.__module__.startswith("contracts."))
    return sorted({m.event_type for m in contract if m.topic_role == role})


def tracking_consumer(topics: Topics, catalogue: Catalogue) -> ConsumerSpec:
    """One consumer group for the citizen view: every workflow event and every registry outcome."""

    async def apply(envelopes: Sequence[Envelope], uow: SqlUnitOfWork) -> None:
        """A consumer transaction's events at once; a version this build does not know is skipped."""
        payloads = [p for p in (e.parse_payload() for e in envelopes) if p is not None]
        await on_events(payloads, PostgresDossiers(uow.conn), catalogue)

    types = [*_types("workflow_events"), *_types("registry_events")]
    return ConsumerSpec("tracking", [topics.workflow_events, topics.registry_events], BatchDispatcher(types, apply))

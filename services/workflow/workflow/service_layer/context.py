"""The frozen process context handlers receive: rules, clock, topics, and who caused the work."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from contracts.envelope import Envelope, EventPayload
from contracts.topics import Topics
from workflow.domain.policies import Rules
from workflow.service_layer.ports import Clock

PRODUCER = "workflow"


@dataclass(frozen=True)
class Cause:
    """The causal chain new events join: correlation of the original request, and what caused them."""

    correlation_id: str | None
    causation_id: str | None

    @classmethod
    def of(cls, envelope: Envelope) -> Cause:
        return cls(envelope.correlation_id, str(envelope.event_id))


@dataclass(frozen=True)
class WorkflowContext:
    """Built once per process by bootstrap (or by a test)."""

    rules: Rules
    clock: Clock
    topics: Topics = field(default_factory=Topics)
    #: Tasks per page of an agency's list unless the request says (WORKFLOW_TASKS_PAGE_SIZE).
    tasks_page_size: int = 100

    def now(self) -> datetime:
        return self.clock.now()

    def topic_of(self, event: EventPayload) -> str | None:
        """The topic an event is published on; None for workflow's internal events."""
        return getattr(self.topics, event.topic_role) if event.topic_role else None

    def wrap(self, event: EventPayload, *, key: str, cause: Cause, at: datetime) -> Envelope:
        return Envelope.wrap(
            event,
            key=key,
            producer=PRODUCER,
            correlation_id=cause.correlation_id,
            causation_id=cause.causation_id,
            occurred_at=at,
        )

"""The Kafka entrypoint: every event of every topic, projected inside the inbox transaction.

The handler takes a consumer transaction's events at once (a :class:`BatchDispatcher`): the
projection loads, changes and saves the rows of a whole batch in the same few statements it needs
for one event. It first takes the shared side of the swap lock, so a rebuild swapping tables in
waits for projections in flight and projections wait for the swap. After the read models change,
the feed items go out with ``pg_notify``: PostgreSQL delivers them only if and when the transaction
commits, to every replica's listener, so the live stream never shows an event that was rolled back.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text

from contracts.envelope import Envelope, EventPayload, registered_events
from contracts.topics import Topics
from eventkit.consumer import BatchDispatcher, Dispatcher
from eventkit.uow import SqlUnitOfWork
from reporting.adapters.feed_listener import announcement
from reporting.adapters.pg_store import SWAP_LOCK_SHARED, PostgresProjectionStore
from reporting.domain.outcome import Derivation
from reporting.service_layer.projector import project

_NOTIFY = "SELECT pg_notify(:channel, m) FROM unnest(CAST(:messages AS text[])) WITH ORDINALITY AS u(m, n) ORDER BY n"

def projected_event_types() -> list[str]:
    """The event types published on the topics reporting reads (test-only types excluded)."""
    roles = set(Topics.model_fields)
    return sorted({cls.event_type for cls in registered_events() if cls.topic_role in roles})


class LiveProjection:
    """Projects a consumer transaction's events inside its inbox transaction and announces them to
    the feed after commit."""

    def __init__(self, derive: Derivation, channel: str, origin: str) -> None:
        self._derive = derive
        self._channel = channel
        self._origin = origin

    def dispatcher(self) -> Dispatcher:
        return BatchDispatcher(projected_event_types(), self.handle)

    async def handle(self, envelopes: Sequence[Envelope], uow: SqlUnitOfWork) -> None:
        await uow.conn.execute(text(SWAP_LOCK_SHARED))
        # A payload that breaks its contract raises here: the consumer isolates the event, retries it
        # alone, then dead-letters it.
        incoming: list[tuple[Envelope, EventPayload | None]] = [(e, e.parse_payload()) for e in envelopes]
        result = await project(incoming, PostgresProjectionStore(uow.conn), self._derive)
        if result.items:
            messages = [announcement(self._origin, item) for item in result.items]
            await uow.conn.execute(text(_NOTIFY), {"channel": self._channel, "messages": messages})

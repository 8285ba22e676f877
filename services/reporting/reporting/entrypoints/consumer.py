"""The Kafka entrypoint: every event of every topic, projected inside the inbox transaction.

The handler first takes the shared side of the swap lock, so a rebuild swapping tables in waits
for projections in flight and projections wait for the swap. After the read models change, the
feed item goes out with ``pg_notify``: PostgreSQL delivers it only if and when the transaction
commits, to every replica's listener, so the live stream never shows an event that was rolled back.
"""

from __future__ import annotations

import orjson
from sqlalchemy import text

from contracts.envelope import Envelope, EventPayload, registered_events
from contracts.topics import Topics
from eventkit.consumer import Dispatcher
from eventkit.uow import SqlUnitOfWork
from reporting.adapters.pg_store import PostgresProjectionStore
from reporting.domain.outcome import Derivation
from reporting.service_layer.projector import project

#: Taken shared by every projection transaction, exclusively by a rebuild's swap.
SWAP_LOCK = "SELECT pg_advisory_xact_lock_shared(hashtext(current_schema() || '/rm-swap'))"
_NOTIFY = "SELECT pg_notify(:channel, :message)"


def projected_event_types() -> list[str]:
    """The event types published on the topics reporting reads (test-only types excluded)."""
    roles = set(Topics.model_fields)
    return sorted({cls.event_type for cls in registered_events() if cls.topic_role in roles})


class LiveProjection:
    """Projects each event inside the consumer's (batched) inbox transaction and announces it to the
    feed after commit."""

    def __init__(self, derive: Derivation, channel: str, origin: str) -> None:
        self._derive = derive
        self._channel = channel
        self._origin = origin

    def dispatcher(self) -> Dispatcher:
        return Dispatcher({event_type: self.handle for event_type in projected_event_types()})

    async def handle(self, envelope: Envelope, uow: SqlUnitOfWork) -> None:
        await uow.conn.execute(text(SWAP_LOCK))
        # A payload that breaks its contract raises here: retried, then dead-lettered by the consumer.
        payload: EventPayload | None = envelope.parse_payload()
        store = PostgresProjectionStore(uow.conn)
        result = await project([(envelope, payload)], store, self._derive)
        for item in result.items:
            message = orjson.dumps({"origin": self._origin, "item": item.to_json_dict()}).decode()
            await uow.conn.execute(text(_NOTIFY), {"channel": self._channel, "message": message})

"""The transactional outbox: messages are written in the same transaction as the state change
that caused them, so nothing is published that was not committed and nothing committed is lost
while the broker is down. :mod:`eventkit.relay` moves them to Kafka."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.envelope import Envelope


@dataclass(frozen=True)
class OutgoingMessage:
    """A message ready for the broker."""

    topic: str
    key: str
    value: bytes
    event_id: str


#: Set on a connection whose transaction queued messages; the unit of work reads it after its commit.
_QUEUED = "eventkit.outbox.queued"

#: Called after a commit that queued messages: the relay publishes them now rather than at its next poll.
OnQueued = Callable[[], None]


def mark_queued(conn: AsyncConnection) -> None:
    """Note that the transaction on ``conn`` wrote outbox rows."""
    conn.info[_QUEUED] = True


def take_queued(conn: AsyncConnection) -> bool:
    """Whether the transaction that just ended on ``conn`` wrote outbox rows; clears the note.

    False for a connection the driver lost (its transaction is gone): its ``info`` would open a
    new connection to answer, synchronously, which asyncio cannot do (MissingGreenlet)."""
    if conn.invalidated:
        return False
    return bool(conn.info.pop(_QUEUED, False))


def to_message(topic: str, envelope: Envelope) -> OutgoingMessage:
    """Serialise an envelope for ``topic``, keyed by the envelope's key."""
    return OutgoingMessage(topic, envelope.key, envelope.to_json(), str(envelope.event_id))


class Outbox(Protocol):
    """The port: queue messages for publication, atomically with the caller's other writes."""

    async def add(self, topic: str, envelopes: list[Envelope]) -> None: ...


class PostgresOutbox:
    """Outbox rows in the service's ``outbox`` table, inside the caller's transaction."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, topic: str, envelopes: list[Envelope]) -> None:
        if not envelopes:
            return
        await self._conn.execute(
            text(
                "INSERT INTO outbox (topic, message_key, event_id, value)"
                " VALUES (:topic, :key, :event_id, :value)"
            ),
            [{"topic": topic, "key": e.key, "event_id": e.event_id, "value": e.to_json()} for e in envelopes],
        )
        mark_queued(self._conn)


class InMemoryOutbox:
    """The same contract in memory, for unit tests."""

    def __init__(self) -> None:
        self.messages: list[OutgoingMessage] = []

    async def add(self, topic: str, envelopes: list[Envelope]) -> None:
        self.messages.extend(to_message(topic, e) for e in envelopes)

    def envelopes(self, topic: str | None = None) -> list[Envelope]:
        """What was queued (for ``topic``), parsed back: what a consumer would receive."""
        return [Envelope.from_json(m.value) for m in self.messages if topic in (None, m.topic)]

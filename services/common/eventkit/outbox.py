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


#: The largest message queued, in bytes: under the producer's and the broker's default limit (1 MiB,
#: ``max_request_size`` and ``message.max.bytes``) with room for the key and the headers a dead letter
#: adds. A row the broker refuses for good would be retried at the head of the outbox for ever, and no
#: later message of the service would go out: it is refused here, in the transaction that writes it.
MAX_MESSAGE_BYTES = 1_040_000


class MessageTooLarge(ValueError):
    """An event too large for the broker; the transaction that would have queued it fails."""

    def __init__(self, event_type: str, size: int) -> None:
        super().__init__(f"{event_type} of {size} bytes is over the {MAX_MESSAGE_BYTES} bytes a message may hold")
        self.event_type, self.size = event_type, size


def check_size(envelope: Envelope, value: str | bytes) -> None:
    """MessageTooLarge if ``value`` (``envelope`` serialised) is over :data:`MAX_MESSAGE_BYTES`."""
    if len(value) * (4 if isinstance(value, str) else 1) <= MAX_MESSAGE_BYTES:
        return  # a character is at most 4 bytes in UTF-8: no need to encode to know
    size = len(value.encode() if isinstance(value, str) else value)
    if size > MAX_MESSAGE_BYTES:
        raise MessageTooLarge(envelope.type, size)


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
    """Serialise an envelope for ``topic``, keyed by the envelope's key (MessageTooLarge if it cannot go)."""
    value = envelope.to_json()
    check_size(envelope, value)
    return OutgoingMessage(topic, envelope.key, value, str(envelope.event_id))


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
        messages = [to_message(topic, e) for e in envelopes]
        await self._conn.execute(
            text(
                "INSERT INTO outbox (topic, message_key, event_id, value)"
                " VALUES (:topic, :key, :event_id, :value)"
            ),
            [
                {"topic": topic, "key": m.key, "event_id": e.event_id, "value": m.value}
                for e, m in zip(envelopes, messages, strict=True)
            ],
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

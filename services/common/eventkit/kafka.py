"""aiokafka plumbing: the producer behind the outbox relay and the dead-letter sender, and
topic creation. No idempotent producer: the broker we develop against lacks it and the
outbox + inbox design does not need it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code

from eventkit.outbox import OutgoingMessage


class KafkaPublisher:
    """Publishes batches and waits for every acknowledgement (acks=all)."""

    def __init__(self, bootstrap_servers: str, *, client_id: str, request_timeout_ms: int = 10_000) -> None:
        self._bootstrap = bootstrap_servers
        self._client_id = client_id
        self._timeout_ms = request_timeout_ms
        self._producer: AIOKafkaProducer | None = None
        # The relay and a consumer's dead-lettering may both find no producer at once: one starts it,
        # or the other's would be overwritten and never stopped.
        self._starting = asyncio.Lock()

    @property
    def started(self) -> bool:
        return self._producer is not None

    async def start(self) -> None:
        """Connect; raises while the broker is unreachable (callers retry)."""
        async with self._starting:
            if self._producer is None:
                self._producer = await self._started_producer()

    async def _started_producer(self) -> AIOKafkaProducer:
        producer = AIOKafkaProducer(
            bootstrap_servers=self._bootstrap,
            client_id=self._client_id,
            acks="all",
            enable_idempotence=False,
            linger_ms=2,
            request_timeout_ms=self._timeout_ms,
        )
        try:
            await producer.start()
        except BaseException:
            await producer.stop()
            raise
        return producer

    async def stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    async def reachable(self, timeout: float) -> None:
        """Raise unless the broker answers a metadata request within ``timeout`` seconds."""
        if self._producer is None:
            await self.start()
        assert self._producer is not None
        await asyncio.wait_for(self._producer.client.fetch_all_metadata(), timeout)

    async def publish(
        self, messages: Sequence[OutgoingMessage], headers: list[tuple[str, bytes]] | None = None
    ) -> None:
        """Send all messages and wait for all acknowledgements; raises if any send failed.

        Messages of one key are written in the order given: each is sent once the one before it is
        acknowledged. aiokafka keeps one batch in flight per partition and retries it in place, but a
        batch still unacknowledged after the request timeout (a broker stall) is failed for good while
        the next batch of its partition may go out and succeed: the relay then republishes the round,
        and a consumer met the later events first. Keys are independent, so different keys still go
        out together, batched; only a key with several messages in one round waits between them.
        """
        if self._producer is None:
            await self.start()
        producer = self._producer
        assert producer is not None
        chains: dict[tuple[str, str], list[OutgoingMessage]] = {}
        for message in messages:
            chains.setdefault((message.topic, message.key), []).append(message)

        async def in_order(chain: list[OutgoingMessage]) -> None:
            for m in chain:
                await (await producer.send(m.topic, value=m.value, key=m.key.encode(), headers=headers))

        await asyncio.gather(*(in_order(chain) for chain in chains.values()))

    async def ping(self) -> None:
        """Raise unless the broker answers a metadata request."""
        if self._producer is None:
            raise ConnectionError("producer not connected")
        await asyncio.wait_for(self._producer.client.fetch_all_metadata(), timeout=3)


async def ensure_topics(bootstrap_servers: str, topics: Sequence[str], *, partitions: int) -> list[str]:
    """Create the topics that do not exist yet; returns the ones created. Raises
    :class:`TopicsNotCreated` if the broker refused any (the services would wait on them for ever)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="topic-setup")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t not in existing]
        if not missing:
            return []
        response = await admin.create_topics([NewTopic(t, partitions, 1) for t in missing])
        return created_topics(response.topic_errors)
    finally:
        await admin.close()


class TopicsNotCreated(RuntimeError):
    """The broker refused to create topics: ``refused`` maps each to its error's name and message."""

    def __init__(self, refused: dict[str, str]) -> None:
        super().__init__("the broker did not create " + "; ".join(f"{t}: {why}" for t, why in refused.items()))
        self.refused = refused


def created_topics(topic_errors: Sequence[tuple[Any, ...]]) -> list[str]:
    """The topics a CreateTopics answer says were created; another process creating one first is
    no error. aiokafka hands the answer back without raising for a topic the broker refused (too few
    brokers for the replication factor, a bad name): the refusal passed for success, and with topics
    not created automatically the relay and the consumers then waited on a missing topic for ever."""
    created, refused = [], {}
    for topic, code, *message in topic_errors:
        if code == 0:
            created.append(topic)
        elif code != TopicAlreadyExistsError.errno:
            error = for_code(code)
            refused[topic] = f"{error.message} ({code}){f': {message[0]}' if message and message[0] else ''}"
    if refused:
        raise TopicsNotCreated(refused)
    return created

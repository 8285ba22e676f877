"""End-to-end tracking: what was submitted when, and when its last result came out.

The services tell citizens about progress by notification; the load generator listens where those
notifications come from, the ``workflow.events`` topic, with its own consumer (no group: it
commits nothing and disturbs no service's consumer group). Completion times are the events' own
``occurred_at`` — when the workflow recorded the fact — so the watcher's own lag does not count.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from loadgen.safety import require_loopback
from loadgen.stats import Latencies

# Event type → outcome, for what ends a bundle and what ends a standalone dossier.
BUNDLE_ENDS = {"BundleCompleted": "completed", "BundlePartiallyCompleted": "partially_completed"}
SUCCESSES = frozenset({"completed", "result_issued"})
DOSSIER_ENDS = {"ResultIssued": "result_issued", "DossierRefused": "refused", "DossierStopped": "stopped",
                "WithdrawalAccepted": "withdrawn"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class SeenEvent:
    type: str
    key: str
    occurred_at: float  # epoch seconds
    payload: dict[str, Any]


def parse_event(raw: bytes) -> SeenEvent | None:
    """The parts of an envelope the generator needs; None for anything that is not an envelope."""
    try:
        envelope = orjson.loads(raw)
        occurred = datetime.fromisoformat(envelope["occurred_at"]).timestamp()
        return SeenEvent(envelope["type"], envelope["key"], occurred, envelope.get("payload") or {})
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


@dataclass
class Completions:
    """Submitted items (bundles by bundle id, standalone dossiers by dossier id) and their ends."""

    started: dict[str, tuple[str, float]] = field(default_factory=dict)  # key → (label, submitted at)
    latencies: dict[str, Latencies] = field(default_factory=dict)  # successful ends, by label
    failures: dict[str, Latencies] = field(default_factory=dict)  # other ends (partial, refused …), by label
    outcomes: Counter[str] = field(default_factory=Counter)
    first_done: float | None = None
    last_done: float | None = None
    # Ends seen before the submission's answer came back (the event can beat the HTTP response).
    _early: dict[str, tuple[str, float]] = field(default_factory=dict)

    def submitted(self, key: str, label: str, at: float) -> None:
        self.started[key] = (label, at)
        if key in self._early:
            self.ended(key, *self._early.pop(key))

    def ended(self, key: str, outcome: str, at: float) -> None:
        entry = self.started.pop(key, None)
        if entry is None:
            if len(self._early) < 100_000:
                self._early[key] = (outcome, at)
            return
        label, submitted_at = entry
        into = self.latencies if outcome in SUCCESSES else self.failures
        into.setdefault(label, Latencies()).add(max(0.0, at - submitted_at))
        self.outcomes[f"{label} {outcome}"] += 1
        if outcome in SUCCESSES:
            self.first_done = at if self.first_done is None else min(self.first_done, at)
            self.last_done = at if self.last_done is None else max(self.last_done, at)

    def observe(self, event: SeenEvent) -> None:
        if event.type in BUNDLE_ENDS:
            self.ended(str(event.payload.get("bundle_id", event.key)), BUNDLE_ENDS[event.type], event.occurred_at)
        elif event.type in DOSSIER_ENDS and not event.payload.get("bundle_id"):
            self.ended(str(event.payload.get("dossier_id", event.key)), DOSSIER_ENDS[event.type], event.occurred_at)

    @property
    def pending(self) -> int:
        return len(self.started)

    @property
    def done(self) -> int:
        """Successful ends (a bundle completed, a dossier's result issued)."""
        return sum(len(latencies) for latencies in self.latencies.values())

    @property
    def ended_otherwise(self) -> int:
        return sum(len(latencies) for latencies in self.failures.values())


class EventWatcher:
    """Reads ``topics`` from their current end onwards and hands every event to ``on_event``."""

    def __init__(self, bootstrap: str, topics: list[str], on_event: Callable[[SeenEvent], None]) -> None:
        host, port = require_loopback(f"http://{bootstrap}")
        self.bootstrap = f"{host}:{port}"
        self.topics = topics
        self.on_event = on_event
        self.seen = 0
        self.error: str | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        # A short fetch wait: the embedded broker holds a multi-partition fetch for its whole wait.
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False, fetch_max_wait_ms=50
        )
        self._consumer = consumer  # set first: stop() closes it even when start() fails half-way
        await consumer.start()
        await consumer.topics()  # fetches metadata, so the partitions are known
        partitions = [
            TopicPartition(topic, p)
            for topic in self.topics
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        for tp in partitions:  # resolve the end offsets now, before anything is submitted
            await consumer.position(tp)
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._consumer is not None
        try:
            while True:
                batches = await self._consumer.getmany(timeout_ms=100, max_records=5000)
                for records in batches.values():
                    for record in records:
                        event = parse_event(record.value)
                        if event is not None:
                            self.seen += 1
                            self.on_event(event)
        except Exception as exc:  # reported at the end of the run instead of dying unseen
            self.error = f"{type(exc).__name__}: {exc}"

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

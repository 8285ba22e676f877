"""``python -m deploy.tools.create_topics``: the compose stack's topic-creation step.

Creates every topic of ``contracts.topics`` and its dead-letter topic, so the list and the
partition count have one source: ``contracts.topics.DEFAULT_PARTITIONS`` unless
``TOPIC_PARTITIONS`` says otherwise. Topics that exist are left alone: Kafka can add partitions
but never remove them, and adding them moves keys between partitions (see deploy/README.md).

Environment: ``KAFKA_BOOTSTRAP_SERVERS`` (required), ``TOPIC_PARTITIONS``,
``TOPIC_INIT_TIMEOUT_SECONDS`` (how long to wait for the broker, default 120).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass

from aiokafka.errors import KafkaError

from contracts.topics import DEFAULT_PARTITIONS, Topics
from eventkit.kafka import TopicsNotCreated, ensure_topics


@dataclass(frozen=True)
class TopicPlan:
    """What the step creates: names, partitions, and where."""

    bootstrap_servers: str
    topics: tuple[str, ...]
    partitions: int
    timeout_seconds: float


def plan_from_env(env: Mapping[str, str]) -> TopicPlan:
    """The plan for an environment; raises ``ValueError`` naming the variable at fault."""
    bootstrap = env.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    if not bootstrap:
        raise ValueError("KAFKA_BOOTSTRAP_SERVERS must be set")
    partitions = _positive(env, "TOPIC_PARTITIONS", DEFAULT_PARTITIONS)
    timeout = _positive(env, "TOPIC_INIT_TIMEOUT_SECONDS", 120)
    return TopicPlan(bootstrap, tuple(Topics().all_with_dead_letters()), partitions, float(timeout))


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{name} must be a positive integer, not {raw!r}")
    return int(raw)


async def create(plan: TopicPlan) -> list[str]:
    """Create the missing topics, retrying while the broker is not reachable yet."""
    deadline = time.monotonic() + plan.timeout_seconds
    delay = 0.5
    while True:
        try:
            return await ensure_topics(plan.bootstrap_servers, plan.topics, partitions=plan.partitions)
        except (KafkaError, OSError, TopicsNotCreated) as exc:
            # A broker just started may refuse topics for a while ("only 0 brokers are registered").
            if time.monotonic() + delay > deadline:
                raise TimeoutError(f"broker {plan.bootstrap_servers} not ready: {exc}") from exc
            print(f"broker not ready ({exc!r}); retrying in {delay:.1f} s", file=sys.stderr, flush=True)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


def main() -> int:
    try:
        plan = plan_from_env(os.environ)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    try:
        created = asyncio.run(create(plan))
    except TimeoutError as exc:
        print(exc, file=sys.stderr)
        return 1
    existing = sorted(set(plan.topics) - set(created))
    print(f"created {len(created)} topic(s) with {plan.partitions} partitions: {', '.join(created) or '-'}")
    print(f"already there: {', '.join(existing) or '-'}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

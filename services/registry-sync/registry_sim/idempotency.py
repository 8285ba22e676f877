"""Idempotency keys: the same key with the same request gets the first answer again and no
second effect; the same key with a different request is a conflict (the caller has a bug).

Keys are scoped per system, like separate real services would scope them. Only successful
answers are remembered: a rejected request had no effect, so retrying it simply re-evaluates.
Each system keeps its most recent ``capacity`` keys (real services expire keys after hours; a
bounded store keeps a long load test from growing without limit).
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """The first answer given under a key, and what request it answered."""

    fingerprint: str
    status: int
    body: dict[str, Any]


def fingerprint(operation: str, path: str, body: dict[str, Any] | None) -> str:
    """A digest of the request's meaning: parsed body, not bytes, so key order and spacing don't matter."""
    canonical = json.dumps({"op": operation, "path": path, "body": body}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class IdempotencyStore:
    """Answers remembered by (system, key): each system keeps its ``capacity`` most recent, least
    recently stored evicted first. One shared store let the portal's keys (a new one per revision,
    thousands in a load run) push out a registry's, and a retry meant to be answered from memory then
    met "already paid" or "card exists", as a refusal."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._answers: dict[str, OrderedDict[str, StoredAnswer]] = {}

    def __len__(self) -> int:
        return sum(len(answers) for answers in self._answers.values())

    def get(self, system: str, key: str) -> StoredAnswer | None:
        answers = self._answers.get(system)
        return None if answers is None else answers.get(key)

    def remember(self, system: str, key: str, answer: StoredAnswer) -> None:
        answers = self._answers.setdefault(system, OrderedDict())
        answers[key] = answer
        while len(answers) > self.capacity:
            answers.popitem(last=False)

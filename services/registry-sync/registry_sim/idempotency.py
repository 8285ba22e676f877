"""Idempotency keys: the same key with the same request gets the first answer again and no
second effect; the same key with a different request is a conflict (the caller has a bug).

Keys are scoped per system, like separate real services would scope them. Only successful
answers are remembered: a rejected request had no effect, so retrying it simply re-evaluates.
The store keeps the most recent ``capacity`` keys (real services expire keys after hours; a
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
    """Answers remembered by (system, key), least recently stored evicted first."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._answers: OrderedDict[tuple[str, str], StoredAnswer] = OrderedDict()

    def __len__(self) -> int:
        return len(self._answers)

    def get(self, system: str, key: str) -> StoredAnswer | None:
        return self._answers.get((system, key))

    def remember(self, system: str, key: str, answer: StoredAnswer) -> None:
        self._answers[(system, key)] = answer
        while len(self._answers) > self.capacity:
            self._answers.popitem(last=False)

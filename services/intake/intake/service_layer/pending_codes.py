"""Dossier codes the database numbers as the submission commits.

A code's number comes from the agency's daily counter, gap-free: a submission that fails must give
its number back, so the counter row stays locked until the submission commits, and every submission
to that agency waits for it. Taking the number in the very statement that writes the submission (and
commits it) keeps that wait inside PostgreSQL, instead of spanning the Python work and round trips
in between. Until then every document written with the codes — the dossier rows, the event
envelopes, the reply kept under an Idempotency-Key — carries placeholders, which the adapter fills in
within that statement (or in memory, for the fake).

A placeholder holds a random nonce, so no text a citizen sends can pass for one.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson

_PLACEHOLDER = re.compile(r"@@code-([0-9a-f]{32})-([0-9]+)@@")


@dataclass(frozen=True)
class PendingCodes:
    """``count`` codes to be taken, in order; the ``i``-th stands in as ``placeholder(i)``."""

    count: int
    nonce: str = field(default_factory=lambda: uuid.uuid4().hex)

    def placeholder(self, i: int) -> str:
        if not 0 <= i < self.count:
            raise IndexError(f"code {i} of {self.count}")
        return f"@@code-{self.nonce}-{i}@@"

    @property
    def placeholders(self) -> list[str]:
        return [self.placeholder(i) for i in range(self.count)]

    def index(self, placeholder: str) -> int:
        """Which code ``placeholder`` stands for."""
        match = _PLACEHOLDER.fullmatch(placeholder)
        if match is None or match[1] != self.nonce or int(match[2]) >= self.count:
            raise ValueError(f"{placeholder!r} is not one of these placeholders")
        return int(match[2])

    def split(self, text: str) -> list[tuple[str, int | None]]:
        """``text`` as pieces, each followed by the index of the code that comes after it (None: the end)."""
        pieces: list[tuple[str, int | None]] = []
        start = 0
        for match in _PLACEHOLDER.finditer(text):
            if match[1] == self.nonce and int(match[2]) < self.count:
                pieces.append((text[start : match.start()], int(match[2])))
                start = match.end()
        pieces.append((text[start:], None))
        return pieces

    def fill(self, text: str, codes: list[str]) -> str:
        """``text`` with the codes in place of their placeholders."""
        if len(codes) != self.count:
            raise ValueError(f"{len(codes)} codes for {self.count} placeholders")
        return "".join(piece + (codes[i] if i is not None else "") for piece, i in self.split(text))

    def fill_json(self, value: Any, codes: list[str]) -> Any:
        """A JSON-like value with the codes in place of their placeholders."""
        return orjson.loads(self.fill(orjson.dumps(value).decode(), codes))

"""Time-ordered identifiers (UUIDv7, RFC 9562) so ids sort by creation time in indexes and logs."""

from __future__ import annotations

import os
import re
import time
import uuid

#: A UUID as text, in either case.
UUID_TEXT = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)


def uuid7() -> uuid.UUID:
    """A UUIDv7: 48-bit Unix milliseconds, then sub-millisecond precision and randomness."""
    nanos = time.time_ns()
    millis = nanos // 1_000_000
    # 12 bits of sub-millisecond time keep ids from one process ordered within a millisecond.
    sub_ms = ((nanos % 1_000_000) * 4096) // 1_000_000
    rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= sub_ms << 64
    value |= 0b10 << 62
    value |= rand_b
    return uuid.UUID(int=value)


def as_stored_id(text: str) -> str:
    """An id as the services store it: a UUID in lower case, whichever case it came in (RFC 9562 allows
    both; one upper-cased by a client was a 404); anything else (a dossier code) as it is."""
    return text.lower() if UUID_TEXT.match(text) else text

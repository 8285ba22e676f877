"""Event types that exist only in tests of the runtime."""

from __future__ import annotations

from pydantic import Field

from contracts.envelope import Envelope, EventPayload


class SomethingHappened(EventPayload):
    """A test event: ``n`` is its place in the stream."""

    event_type = "TestSomethingHappened"
    n: int = Field(description="Sequence number within its stream.")
    fail: bool = Field(default=False, description="Handlers in tests raise on it.")


def happened(key: str, n: int, *, fail: bool = False) -> Envelope:
    return Envelope.wrap(SomethingHappened(n=n, fail=fail), key=key, producer="tests")

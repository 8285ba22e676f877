"""What crosses a service boundary: event envelopes, payload models, topics, catalogue data.

Depends only on pydantic and the standard library, so any service (or an external
consumer) can install it without dragging in our runtime.
"""

from contracts.envelope import Envelope, EventPayload, new_event_id, payload_model, registered_events
from contracts.topics import Topics

__all__ = ["Envelope", "EventPayload", "Topics", "new_event_id", "payload_model", "registered_events"]

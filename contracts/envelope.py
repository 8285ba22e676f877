"""The event envelope every message on every topic travels in, and the payload registry.

An envelope carries routing and tracing metadata; its ``payload`` is the event's body as
JSON. Each event type is a frozen :class:`EventPayload` subclass declaring its ``event_type``
and ``event_version``; subclasses register themselves so a consumer can turn a received
envelope back into the typed payload with :meth:`Envelope.parse_payload`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import UnionType
from typing import Any, ClassVar, Self, TypeVar, Union, get_args, get_origin
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from contracts.ids import uuid7

_REGISTRY: dict[tuple[str, int], type[EventPayload]] = {}
_TYPES: set[str] = set()  # the event types of _REGISTRY, in any version
M = TypeVar("M", bound=BaseModel)


def new_event_id() -> UUID:
    """A fresh, time-ordered event id."""
    return uuid7()


class EventPayload(BaseModel):
    """Base of every event body. Subclasses set ``event_type``, ``event_version`` and ``topic_role``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str] = ""
    event_version: ClassVar[int] = 1
    #: Which of :class:`contracts.topics.Topics`' fields this event is published on.
    topic_role: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.event_type:
            return  # an intermediate base class
        key = (cls.event_type, cls.event_version)
        if key in _REGISTRY and _REGISTRY[key].__qualname__ != cls.__qualname__:
            raise TypeError(f"event {key} is defined twice: {_REGISTRY[key]!r} and {cls!r}")
        _REGISTRY[key] = cls
        _TYPES.add(cls.event_type)


def is_known_type(event_type: str) -> bool:
    """Whether this build defines ``event_type`` in any version."""
    return event_type in _TYPES


def payload_model(event_type: str, version: int) -> type[EventPayload] | None:
    """The payload class for a type and version, or None when this build does not know it."""
    return _REGISTRY.get((event_type, version))


def known_fields(model: type[BaseModel], data: Any) -> Any:
    """``data`` without the keys ``model`` (and the models nested in it) does not declare."""
    if not isinstance(data, dict):
        return data
    kept: dict[str, Any] = {}
    for name, value in data.items():
        field = model.model_fields.get(name)
        if field is not None:
            kept[name] = _known_in(field.annotation, value)
    return kept


def read_tolerantly(model: type[M], raw: str | bytes) -> M:
    """``model`` from JSON that a newer build may have written: fields it does not declare, at any
    depth, are ignored when they are all that is wrong (anything else still fails).

    For state a service keeps as JSON (a saga, a portal record) and rewrites: during a rolling
    upgrade the previous build reads what the new one stored instead of failing on it. What it then
    writes back lacks the new fields, so a new field must mean "unknown" when absent, as it does in
    rows written before it existed."""
    try:
        return model.model_validate_json(raw)  # the usual case, at no extra cost
    except ValidationError as exc:
        if not only_unknown_fields(exc):
            raise
    return model.model_validate_json(json.dumps(known_fields(model, json.loads(raw))))


def only_unknown_fields(exc: ValidationError) -> bool:
    """Whether all that is wrong is fields the model does not declare."""
    return all(error["type"] == "extra_forbidden" for error in exc.errors())


def _known_in(annotation: Any, value: Any) -> Any:
    """``value`` as ``annotation`` would take it: nested models (alone, in a list, or optional) pruned."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return known_fields(annotation, value)
    args = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) in (list, tuple) and args and isinstance(value, list):
        return [_known_in(args[0], v) for v in value]
    if get_origin(annotation) in (Union, UnionType) and len(args) == 1:
        return _known_in(args[0], value)
    return value


def registered_events() -> list[type[EventPayload]]:
    """Every known event payload class, sorted by type then version."""
    return [_REGISTRY[key] for key in sorted(_REGISTRY)]


class Envelope(BaseModel):
    """One event as it is stored in an event store and published on a topic."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: UUID = Field(description="Unique, time-ordered (UUIDv7) id; consumers deduplicate on it.")
    type: str = Field(description="Event type name, past tense, e.g. 'DossierSubmitted'.", min_length=1)
    version: int = Field(description="Schema version of the payload for this type.", ge=1)
    occurred_at: AwareDatetime = Field(description="When the fact happened, with its UTC offset.")
    producer: str = Field(description="Name of the service that wrote the event, e.g. 'intake'.")
    key: str = Field(description="Partitioning key: the dossier or bundle id the event is about.")
    correlation_id: str = Field(description="Id shared by every event caused by one original request.")
    causation_id: str | None = Field(
        default=None, description="event_id (or request id) of the message that directly caused this one."
    )
    payload: dict[str, Any] = Field(description="The event body; its schema is given by type and version.")

    @classmethod
    def wrap(
        cls,
        payload: EventPayload,
        *,
        key: str,
        producer: str,
        correlation_id: str | None = None,
        causation_id: str | None = None,
        occurred_at: datetime | None = None,
        event_id: UUID | None = None,
    ) -> Self:
        """Put a typed payload in a new envelope; a new correlation id starts a new causal chain."""
        event_id = event_id or new_event_id()
        return cls(
            event_id=event_id,
            type=payload.event_type,
            version=payload.event_version,
            occurred_at=occurred_at or datetime.now(UTC),
            producer=producer,
            key=key,
            correlation_id=correlation_id or str(event_id),
            causation_id=causation_id,
            payload=payload.model_dump(mode="json"),
        )

    def caused(self, payload: EventPayload, *, producer: str, key: str | None = None) -> Envelope:
        """A new envelope for an event caused by this one: same correlation, causation = this event."""
        return Envelope.wrap(
            payload,
            key=key or self.key,
            producer=producer,
            correlation_id=self.correlation_id,
            causation_id=str(self.event_id),
        )

    def parse_payload(self) -> EventPayload | None:
        """The typed payload, or None for a type/version this build does not know (forward compatible).

        Fields this build does not know are ignored, at any depth: a version grows by optional fields
        only, so during a rolling upgrade a consumer still on the previous build reads what a newer
        producer wrote instead of dead-lettering it. Producers stay strict: a payload built with an
        unknown field is still an error."""
        model = payload_model(self.type, self.version)
        if model is None:
            return None
        try:
            return model.model_validate(self.payload)  # the usual case, at no extra cost
        except ValidationError as exc:
            if not only_unknown_fields(exc):
                raise
        return model.model_validate(known_fields(model, self.payload))

    def to_json(self) -> bytes:
        """The wire format: UTF-8 JSON."""
        return self.model_dump_json().encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> Envelope:
        """Parse the wire format; raises pydantic.ValidationError on a malformed message."""
        return cls.model_validate_json(raw)

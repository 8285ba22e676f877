"""Checking what intake publishes against the checked-in JSON Schemas of the contracts."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import contracts
from contracts.catalogue.formschema import FormValidator
from contracts.envelope import Envelope

SCHEMAS = Path(contracts.__file__).resolve().parent / "schemas" / "events"


@cache
def _validator(event_type: str, version: int) -> FormValidator:
    return FormValidator(json.loads((SCHEMAS / f"{event_type}.v{version}.json").read_text(encoding="utf-8")))


def assert_matches_contract(raw: bytes) -> Envelope:
    """The message as a consumer gets it: valid against its type's schema, and parsed back."""
    envelope = Envelope.from_json(raw)
    problems = _validator(envelope.type, envelope.version).validate(json.loads(raw))
    assert problems == [], problems
    assert envelope.parse_payload() is not None
    return envelope

"""The envelope: time-ordered ids, round trips, causation, typed payloads."""

from __future__ import annotations

import time

import pytest
from pydantic import ValidationError

from contracts.envelope import Envelope
from contracts.events.common import DossierStatus
from contracts.events.intake import WithdrawalRequested
from contracts.ids import uuid7


def test_uuid7_is_version_7_and_time_ordered() -> None:
    ids = []
    for _ in range(50):
        ids.append(uuid7())
        time.sleep(0.001)
    assert all(i.version == 7 for i in ids)
    assert ids == sorted(ids, key=lambda u: u.bytes)


def withdrawal() -> WithdrawalRequested:
    return WithdrawalRequested(dossier_id="d-1", reason="moved abroad", requested_at="2026-03-02T09:00:00+07:00")


def test_round_trip_through_the_wire_format() -> None:
    envelope = Envelope.wrap(withdrawal(), key="d-1", producer="intake")
    again = Envelope.from_json(envelope.to_json())
    assert again == envelope
    assert again.parse_payload() == withdrawal()


def test_a_caused_event_keeps_the_correlation_and_names_its_cause() -> None:
    first = Envelope.wrap(withdrawal(), key="d-1", producer="intake", correlation_id="req-7")
    second = first.caused(withdrawal(), producer="workflow")
    assert second.correlation_id == "req-7"
    assert second.causation_id == str(first.event_id)
    assert second.key == "d-1"


def test_envelopes_are_frozen_and_strict() -> None:
    envelope = Envelope.wrap(withdrawal(), key="d-1", producer="intake")
    with pytest.raises(ValidationError):
        envelope.key = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        Envelope.model_validate({**envelope.model_dump(), "surprise": 1})


def test_an_unknown_type_parses_to_none_for_forward_compatibility() -> None:
    envelope = Envelope.wrap(withdrawal(), key="d-1", producer="intake")
    newer = envelope.model_copy(update={"type": "SomethingFromTheFuture"})
    assert newer.parse_payload() is None


def test_status_codes_follow_the_national_lifecycle() -> None:
    assert [s.code for s in DossierStatus] == list(range(1, 11))
    assert DossierStatus.SUPPLEMENT_REQUESTED.code == 5
    assert DossierStatus.RETURNED.code == 10

"""The envelope: time-ordered ids, round trips, causation, typed payloads."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from contracts.envelope import Envelope
from contracts.events.common import Applicant, Document, DossierStatus
from contracts.events.intake import DossierSubmitted, WithdrawalRequested
from contracts.events.workflow import DossierReceived
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


def test_a_dossier_event_s_status_code_is_its_status_s() -> None:
    """Registry-sync sends the code to the national portal and workflow folds the status: an event
    carrying two states left them apart, unnoticed."""
    common = {"dossier_id": "d-1", "code": "X-240617-0001", "at": datetime(2024, 6, 17, tzinfo=UTC), "agency": "A"}
    DossierReceived(**common, status=DossierStatus.RECEIVED, status_code=2, procedure_code="1.001193",
                    due_at=datetime(2024, 6, 18, tzinfo=UTC))  # fmt: skip
    with pytest.raises(ValidationError, match="status_code 2 is not the code of 'processed'"):
        DossierReceived(**common, status=DossierStatus.PROCESSED, status_code=2, procedure_code="1.001193",
                        due_at=datetime(2024, 6, 18, tzinfo=UTC))  # fmt: skip


def test_a_consumer_ignores_fields_a_newer_producer_added_at_any_depth() -> None:
    """Versions grow by optional fields only: during a rolling upgrade a consumer on the previous
    build must read a newer producer's event, not dead-letter it for a field it does not know."""
    submitted = Envelope.wrap(
        DossierSubmitted(
            dossier_id="d-1", code="X-240603-0001", procedure_code="1.001193", catalogue_version="t",
            channel="online", receiving_agency="X", competent_agency="X",
            applicant=Applicant(id_number="036095001234", full_name="Nguyễn Văn An"), form={"any": {"thing": 1}},
            documents=[Document(kind="giay_chung_sinh", digitized=True, reused=False)], fee=0,
            status=DossierStatus.REGISTERED, submitted_at="2026-03-02T09:00:00+07:00", received_at=None, due_at=None,
        ),
        key="d-1", producer="intake",
    )  # fmt: skip
    newer = dict(submitted.payload)
    newer["field_from_the_future"] = 1
    newer["applicant"] = {**newer["applicant"], "nickname": "An"}
    newer["documents"] = [{**newer["documents"][0], "pages": 2}]
    newer["delivery"] = {**newer["delivery"], "locker": "B12"}
    read = submitted.model_copy(update={"payload": newer}).parse_payload()
    assert read == submitted.parse_payload()
    assert isinstance(read, DossierSubmitted) and read.form == {"any": {"thing": 1}}  # free-form data is kept
    with pytest.raises(ValidationError):  # a producer still cannot build one with a field the contract lacks
        DossierSubmitted.model_validate(newer)


def test_an_id_is_stored_in_lower_case_whichever_case_it_came_in() -> None:
    from contracts.ids import as_stored_id

    assert as_stored_id("01A24C5F-0B13-7E08-889C-3B45F5EA70F8") == "01a24c5f-0b13-7e08-889c-3b45f5ea70f8"
    assert as_stored_id("UBND-X-YENHOA-240617-0001") == "UBND-X-YENHOA-240617-0001"  # a code, not an id

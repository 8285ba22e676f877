"""A citizen reads the same words for a step on our view and on the national portal.

Intake's timeline and registry-sync's portal history each had a list of the events' names; they said
"Đã có kết quả" and "Có kết quả giải quyết" for one result, and differed on four more events.
"""

from __future__ import annotations

from datetime import timedelta

from contracts.events.common import DossierStatus
from contracts.events.vocabulary import EVENT_NAMES
from contracts.events.workflow import DossierEvent, DossierStepStarted, PaymentConfirmed, PaymentRequested
from intake.domain.tracking import workflow_change
from registry_sync.domain.portal_record import SILENT_EVENTS, apply_dossier_event, apply_submitted
from tests.unit.registry_sync.events import T0, lifecycle, received, result_issued, returned, submitted


def _all_subclasses(cls: type) -> list[type]:
    return [c for sub in cls.__subclasses__() for c in (sub, *_all_subclasses(sub))]


def test_every_lifecycle_event_a_citizen_sees_has_a_name() -> None:
    seen = {c.event_type for c in _all_subclasses(DossierEvent)} - {"DossierDueSoon"}  # type: ignore[attr-defined]
    assert seen - EVENT_NAMES.keys() == set()


def test_the_view_and_the_portal_start_each_line_with_the_same_words() -> None:
    code = "CA-X-ANPHU-240710-0001"
    at = T0 + timedelta(hours=3)
    events: list[DossierEvent] = [
        received("d1", code).parse_payload(),  # type: ignore[list-item]
        DossierStepStarted(
            **lifecycle("d1", code, at, status=DossierStatus.PROCESSING),
            step="processing",
            step_due_at=at + timedelta(days=2),
        ),
        PaymentRequested(**lifecycle("d1", code, at, status=DossierStatus.PAYMENT_REQUESTED), amount=50_000),
        PaymentConfirmed(**lifecycle("d1", code, at, status=DossierStatus.PROCESSING), amount=50_000, online=True),
        result_issued("d1", code).parse_payload(),  # type: ignore[list-item]
        returned("d1", code).parse_payload(),  # type: ignore[list-item]
    ]
    record = apply_submitted(None, submitted("d1", code).parse_payload())  # type: ignore[arg-type]
    for event in events:
        assert event.event_type not in SILENT_EVENTS
        record = apply_dossier_event(record, event)
        line = record.history[-1].content
        entry = workflow_change(event).timeline
        assert entry is not None
        name = EVENT_NAMES[event.event_type]
        assert line.startswith(name), (line, name)
        assert entry.as_dict()["note"].startswith(name), (entry.as_dict()["note"], name)

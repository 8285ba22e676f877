"""A bundle's end-to-end time leaves out its steps' waits for the citizen's supplements."""

from __future__ import annotations

import pytest

from contracts.events import intake, workflow
from contracts.events.common import DossierStatus
from tests.integration.reporting.test_unjudged_stops import summary_of
from tests.support.infra import Infra
from tests.unit.reporting import scenario

pytestmark = pytest.mark.integration
S = DossierStatus


async def test_a_bundle_s_working_days_leave_out_the_citizen_s_waits(infra: Infra) -> None:
    """DOMAIN.md: time spent waiting for the citizen's supplement does not count against the agency.
    Counted, a bundle whose step waited a working day showed a day more than its agencies took."""
    s = scenario.Scenario()
    commune, at = "UBND-X-YENHOA", scenario.at
    steps = [intake.BundleStep(step_id="birth", procedure_code="1.001193", dossier_id="P1", code="x")]
    s.emit(intake.BundleSubmitted(bundle_id="BP", bundle_type="birth", catalogue_version="test", channel="counter",
                                  receiving_agency=commune, applicant=scenario.APPLICANT, form={}, steps=steps,
                                  submitted_at=at(4, 9)), "BP", at(4, 9))  # fmt: skip
    s.submit("P1", procedure="1.001193", channel="counter", agency=commune, fee=0, documents=[], when=at(4, 9),
             due=at(6, 17), bundle="BP")  # fmt: skip
    s.flow(workflow.SupplementRequested, "P1", at(4, 9), commune, S.SUPPLEMENT_REQUESTED, reason="thiếu",
           request_number=1)  # fmt: skip
    # Monday 09:00 to Tuesday 09:00: one working day waiting for the citizen
    s.flow(workflow.SupplementReceived, "P1", at(5, 9), commune, S.PROCESSING, paused_seconds=8 * 3600,
           due_at=at(7, 17))  # fmt: skip
    s.result("P1", at(6, 9), commune, on_time=True)
    s.emit(workflow.BundleCompleted(bundle_id="BP", bundle_type="birth", at=at(6, 9), results={}), "BP", at(6, 9))
    body = await summary_of(infra, s, {"from": "2024-03-01", "to": "2024-03-31"})
    # Monday 09:00 → Wednesday 09:00 is 2 working days, of which 1 the citizen's
    assert body["bundles"]["average_e2e_working_days"] == pytest.approx(1.0)

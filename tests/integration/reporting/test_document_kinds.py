"""A document sent again replaces the one of its kind in the stored facts, through the live projection."""

from __future__ import annotations

import pytest

from contracts.events import intake
from contracts.events.common import Document
from tests.integration.reporting.test_unjudged_stops import summary_of
from tests.support.infra import Infra
from tests.unit.reporting import scenario

pytestmark = pytest.mark.integration


async def test_a_scan_sent_for_a_paper_component_makes_the_dossier_fully_digitised(infra: Infra) -> None:
    s = scenario.Scenario()
    paper = Document(kind="to_khai", digitized=False, reused=False)
    reused = Document(kind="giay_chung_sinh", digitized=True, reused=True)
    s.submit("R1", procedure="1.001193", channel="counter", agency="UBND-X-YENHOA", fee=0, documents=[paper, reused],
             when=scenario.at(4, 9), due=scenario.at(4, 17))  # fmt: skip
    scanned = Document(kind="to_khai", digitized=True, reused=False)
    s.intake(intake.SupplementProvided(dossier_id="R1", documents=[scanned], provided_at=scenario.at(4, 10)), "R1",
             scenario.at(4, 10))  # fmt: skip
    body = await summary_of(infra, s, {"from": "2024-03-01", "to": "2024-03-31"})
    counts = body["digitisation"]
    assert (counts["documents"], counts["documents_digitised"], counts["documents_reused"]) == (2, 2, 1)
    assert counts["dossiers_fully_digitised"] == 1

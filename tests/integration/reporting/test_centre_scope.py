"""A one-stop centre decides no procedure: its figures are the dossiers it received."""

from __future__ import annotations

import pytest

from tests.integration.reporting.test_unjudged_stops import summary_of
from tests.support.infra import Infra
from tests.unit.reporting import scenario

pytestmark = pytest.mark.integration


async def test_a_centre_reports_what_it_received_and_an_agency_what_it_decides(infra: Infra) -> None:
    """A dossier belongs to its competent agency: the province centre, which decides nothing, had no
    dossier at all, and DOMAIN.md's figures of a centre (Ninh Bình: 55,428 in six months) could not
    be made."""
    s = scenario.Scenario()
    for dossier, counter in (("C1", "TTPVHCC-BINHAN"), ("C2", "TTPVHCC-BINHAN"), ("C3", "STNMT-BINHAN")):
        s.submit(dossier, procedure="9.000003", channel="counter", agency="STNMT-BINHAN", received_by=counter,
                 fee=0, documents=[], when=scenario.at(4, 9), due=scenario.at(20, 17))  # fmt: skip
    s.submit("C4", procedure="1.001193", channel="counter", agency="UBND-P-PHUCLOI", received_by="TTPVHCC-BINHAN",
             fee=0, documents=[], when=scenario.at(4, 9), due=scenario.at(4, 17))  # fmt: skip
    month = {"from": "2024-03-01", "to": "2024-03-31"}
    centre = await summary_of(infra, s, {**month, "agency": "TTPVHCC-BINHAN"})
    land = await summary_of(infra, s, {**month, "agency": "STNMT-BINHAN"})
    assert (centre["received"]["total"], land["received"]["total"]) == (3, 3)
    assert centre["received"]["by_channel"]["counter"] == 3

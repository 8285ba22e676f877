"""What an approval produces: a paper's dates are the Vietnamese calendar's, whatever the clock's zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from contracts.catalogue import Catalogue
from workflow.domain.results import result_data

#: 06:30 on 4 June in Hà Nội is still 3 June in UTC: the production clock reads UTC.
EARLY_MORNING = datetime(2024, 6, 3, 23, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("procedure_code", "field", "expected"),
    [("1.000656", "registered_on", "2024-06-04"), ("1.003197", "deregistered_on", "2024-06-04")],
)
def test_a_date_on_a_result_is_the_vietnamese_date_of_the_approval(
    catalogue: Catalogue, procedure_code: str, field: str, expected: str
) -> None:
    data = result_data(
        catalogue.procedure(procedure_code),
        dossier_id="d-1",
        code="UBND-X-YENHOA-240604-0001",
        form={},
        stated={},
        issued_at=EARLY_MORNING,
        province_code="036",
    )
    assert data[field] == expected


def test_a_card_valid_for_ten_years_counts_from_the_vietnamese_date(catalogue: Catalogue) -> None:
    data = result_data(
        catalogue.procedure("9.000007"),  # identity card renewal
        dossier_id="d-1",
        code="CA-T-NAMDINH-240604-0001",
        form={},
        stated={},
        issued_at=EARLY_MORNING,
        province_code="036",
    )
    assert data["valid_until"] == "2034-06-04"

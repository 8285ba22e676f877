"""What an approval produces: a paper's dates are the Vietnamese calendar's, whatever the clock's zone."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from contracts.catalogue import Catalogue, reuse
from contracts.events import workflow as wf
from tests.unit.workflow.builders import Harness, submitted
from workflow.domain.errors import InvalidDecision
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
        form={},
        stated={},
        issued_at=EARLY_MORNING,
        province_code="036",
    )
    assert data["valid_until"] == "2034-06-04"


def id_card_form(date_of_birth: str | None) -> dict[str, Any]:
    """An ID card renewal's form, its holder born on ``date_of_birth`` (or with no date of birth)."""
    person = {"id_number": "036190000123", "full_name": "Nguyễn Văn An"}
    if date_of_birth is not None:
        person["date_of_birth"] = date_of_birth
    return {"person": person, "reason": "expired"}


@pytest.mark.parametrize(
    ("born", "valid_until"),
    [
        ("2013-01-15", "2027-01-15"),  # 11: renewed at 14
        ("2012-02-29", "2037-02-28"),  # 12, within 2 years of 14: valid to 25 (28 February in a common year)
        ("1987-03-10", "2027-03-10"),  # 37: renewed at 40
        ("1986-03-10", "2046-03-10"),  # 38, within 2 years of 40: valid to 60
        ("1966-06-05", "2026-06-05"),  # 57, turning 58 the next day: renewed at 60
        ("1966-06-04", None),  # 58 on the (Vietnamese) day of issue: valid for life
        ("1950-01-01", None),  # 74: valid for life
    ],
)
def test_an_id_card_is_valid_until_its_holder_s_next_renewal_age_or_for_life(
    catalogue: Catalogue, born: str, valid_until: str | None
) -> None:
    """Every card was given ten years, whatever its holder's age: one issued at 38 ran past the renewal
    due at 40 (Law on Identification 2023, art. 21), one issued at 60, valid for life, expired at 70. A
    card valid for life carries no expiry: the field is a date, and no date says "for life"."""
    data = result_data(catalogue.procedure("9.000007"), dossier_id="d-1", form=id_card_form(born), stated={},
                       issued_at=EARLY_MORNING, province_code="036")  # fmt: skip
    assert data == ({"valid_until": valid_until} if valid_until else {})


@pytest.mark.parametrize("born", [None, "02/04/1979", "2030-01-01"])
def test_an_id_card_whose_holder_s_age_cannot_be_read_is_valid_ten_years(
    catalogue: Catalogue, born: str | None
) -> None:
    data = result_data(catalogue.procedure("9.000007"), dossier_id="d-1", form=id_card_form(born), stated={},
                       issued_at=EARLY_MORNING, province_code="036")  # fmt: skip
    assert data == {"valid_until": "2034-06-04"}


async def test_an_approved_id_card_for_life_is_issued_without_an_expiry(harness: Harness) -> None:
    """The card of a holder of 74 was issued valid for ten years, to expire at 84."""
    event = submitted(procedure_code="9.000007", receiving_agency="CA-H-HOAMY", competent_agency="CA-H-HOAMY",
                      fee=0, form=id_card_form("1950-01-01"), at=harness.now)  # fmt: skip
    await harness.deliver(event)
    await harness.decide(event.dossier_id, "approve")
    [issued] = [e.parse_payload() for e in harness.published() if e.type == "ResultIssued"]
    assert isinstance(issued, wf.ResultIssued) and issued.data == {}


@pytest.mark.parametrize("stated", ["2001-01-01", "2024-06-04"])
def test_an_expiry_an_official_states_must_come_after_the_day_of_issue(catalogue: Catalogue, stated: str) -> None:
    """Only its shape was checked: a card issued in 2026 "valid until 2001-01-01" was accepted. The day
    of issue is the Vietnamese one: at 06:30 on 4 June, still 3 June in UTC, 4 June is refused."""
    with pytest.raises(InvalidDecision, match="after the day of issue, 2024-06-04") as refused:
        result_data(catalogue.procedure("9.000007"), dossier_id="d-1", form=id_card_form("1979-04-02"),
                    stated={"valid_until": stated}, issued_at=EARLY_MORNING, province_code="036")  # fmt: skip
    assert refused.value.field == "result.valid_until"
    kept = result_data(catalogue.procedure("9.000004"), dossier_id="d-1", form={},
                       stated={"valid_until": "2024-06-05"}, issued_at=EARLY_MORNING, province_code="036")  # fmt: skip
    assert kept["valid_until"] == "2024-06-05"


def _properties_named(schema: Any, name: str) -> list[dict[str, Any]]:
    """Every property called ``name`` in a form schema, however deep."""
    found = []
    if isinstance(schema, dict):
        for key, sub in (schema.get("properties") or {}).items():
            if key == name and isinstance(sub, dict):
                found.append(sub)
            found += _properties_named(sub, name)
        for key in ("items", "then", "else"):
            found += _properties_named(schema.get(key), name)
        for sub in schema.get("allOf", []) + schema.get("anyOf", []) + schema.get("oneOf", []):
            found += _properties_named(sub, name)
    return found


def test_every_number_workflow_issues_is_taken_back_by_the_forms_that_reuse_it(catalogue: Catalogue) -> None:
    """A paper issued here is the next procedure's input: a licence renewed, a land certificate on a
    building permit, a death extract for the funeral allowance. Issued as '<dossier code>/<FIELD>' (up
    to 53 characters), its number was refused by those forms (12 digits; at most 30 or 50)."""
    reused = 0
    for procedure in catalogue.procedures.values():
        data = result_data(procedure, dossier_id="0190d6a4-7d5e-7c1a-9a55-3f1e2b4c5d6e", form={}, stated={},
                           issued_at=EARLY_MORNING, province_code="036")  # fmt: skip
        for name, value in data.items():
            if name == "personal_id_number":
                continue  # drawn for the person the form names; checked by citizen_id
            for other in catalogue.procedures.values():
                for schema in _properties_named(other.form_schema, name):
                    reused += 1
                    errors = list(Draft202012Validator(schema).iter_errors(value))
                    where = f"{procedure.code}'s {name} {value!r}, in {other.code}'s form"
                    assert not errors, f"{where}: {errors[0].message}"
    assert reused >= 3  # licence, certificate, death extract at least


@pytest.mark.parametrize("stated", ["vĩnh viễn", "04/06/2034", "2034-13-01", "20340604", "2034-W23-1"])
def test_a_date_an_official_states_on_a_result_must_be_a_date(catalogue: Catalogue, stated: str) -> None:
    """Only the length was checked: a licence 'valid until vĩnh viễn' was issued and stored."""
    with pytest.raises(InvalidDecision) as refused:
        result_data(catalogue.procedure("9.000007"), dossier_id="d-1", form={}, stated={"valid_until": stated},
                    issued_at=EARLY_MORNING, province_code="036")  # fmt: skip
    assert refused.value.field == "result.valid_until"
    kept = result_data(catalogue.procedure("9.000007"), dossier_id="d-1", form={},
                       stated={"valid_until": "2034-06-04"}, issued_at=EARLY_MORNING, province_code="036")  # fmt: skip
    assert kept["valid_until"] == "2034-06-04"


@pytest.mark.parametrize(
    ("procedure_code", "stated", "message"),
    [
        ("9.000004", {"licence_number": "GP-2024/17"}, r"must match .*procedure 9\.000004"),
        ("1.000656", {"death_extract_number": "TLKT-" + "0" * 55}, r"at most 50 characters.*procedure 1\.003197"),
    ],
)
def test_a_number_an_official_states_must_fit_the_forms_that_take_it_back(
    catalogue: Catalogue, procedure_code: str, stated: dict[str, str], message: str
) -> None:
    """Only its length (500) was checked: a licence numbered 'GP-2024/17' could not be renewed (the form
    takes 12 digits), and a death extract's 60-character number failed the funeral allowance step."""
    takers = reuse.takers(catalogue)[procedure_code]
    [(field, _)] = stated.items()
    with pytest.raises(InvalidDecision, match=message) as refused:
        result_data(catalogue.procedure(procedure_code), dossier_id="d-1", form={}, stated=stated,
                    issued_at=EARLY_MORNING, province_code="036", takers=takers)  # fmt: skip
    assert refused.value.field == f"result.{field}"
    fitting = {field: "012345678901"}  # 12 digits: what a renewal takes, and short enough for the allowance
    data = result_data(catalogue.procedure(procedure_code), dossier_id="d-1", form={}, stated=fitting,
                       issued_at=EARLY_MORNING, province_code="036", takers=takers)  # fmt: skip
    assert data[field] == "012345678901"


async def test_an_approval_checks_the_stated_number_against_the_forms_that_take_it_back(harness: Harness) -> None:
    event = submitted(procedure_code="9.000004", receiving_agency="UBND-P-PHUCLOI", competent_agency="UBND-P-PHUCLOI",
                      fee=0, form={}, at=harness.now)  # fmt: skip
    await harness.deliver(event)
    with pytest.raises(InvalidDecision) as refused:
        await harness.decide(event.dossier_id, "approve", result={"licence_number": "GP-2024/17"})
    assert refused.value.field == "result.licence_number"


def test_a_number_no_form_takes_back_is_not_held_to_a_form_that_happens_to_share_its_name(
    catalogue: Catalogue,
) -> None:
    """A criminal record certificate's number was held to the building permit's land certificate number
    (at most 30 characters): both fields are called certificate_number."""
    stated = {"certificate_number": "LLTP-" + "1" * 27}  # 32 characters
    data = result_data(catalogue.procedure("9.000005"), dossier_id="d-1", form={}, stated=stated,
                       issued_at=EARLY_MORNING, province_code="036",
                       takers=reuse.takers(catalogue).get("9.000005"))  # fmt: skip
    assert data["certificate_number"] == stated["certificate_number"]
    with pytest.raises(InvalidDecision, match=r"at most 30 characters.*procedure 9\.000006"):
        result_data(catalogue.procedure("9.000003"), dossier_id="d-1", form={}, stated=stated,
                    issued_at=EARLY_MORNING, province_code="036",
                    takers=reuse.takers(catalogue)["9.000003"])  # fmt: skip

"""Broken data fails loading with a message that names the file and the problem."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from contracts.catalogue import CatalogueError, load_catalogue

JsonEdit = Callable[[str, Callable[[Any], None]], None]  # the edit_json fixture (conftest)


def problems(data_dir: Path) -> str:
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(data_dir)
    return "\n".join(caught.value.problems)


def test_bundle_step_with_an_unknown_procedure(data_dir: Path, edit_json: JsonEdit) -> None:
    edit_json("bundles/birth.json", lambda b: b["steps"][2].update(procedure_code="9.999999"))
    assert "no procedure '9.999999'" in problems(data_dir)


def test_a_bundles_supplied_documents_are_documents_of_its_steps(data_dir: Path, edit_json: JsonEdit) -> None:
    edit_json("bundles/birth.json", lambda b: b["supplied_documents"].extend(["giay_bao_tu", "giay_chung_sinh"]))
    found = problems(data_dir)
    assert "supplied document 'giay_bao_tu' is not a required document of any step's procedure" in found
    assert "supplied_documents repeats a kind" in found


def test_agency_with_a_missing_parent(data_dir: Path, edit_json: JsonEdit) -> None:
    def orphan(doc: dict[str, Any]) -> None:
        next(a for a in doc["agencies"] if a["code"] == "CA-X-YENHOA")["parent"] = "CA-H-NOWHERE"

    edit_json("agencies/binh_an.json", orphan)
    assert "CA-X-YENHOA: parent 'CA-H-NOWHERE' does not exist" in problems(data_dir)


def test_agency_parent_cycle(data_dir: Path, edit_json: JsonEdit) -> None:
    def loop(doc: dict[str, Any]) -> None:
        next(a for a in doc["agencies"] if a["code"] == "CA-T-BINHAN")["parent"] = "CA-P-PHUCLOI"

    edit_json("agencies/binh_an.json", loop)
    assert "parent chain loops" in problems(data_dir)


def test_form_schema_typo_is_caught(data_dir: Path, edit_json: JsonEdit) -> None:
    def typo(doc: dict[str, Any]) -> None:
        doc["form_schema"]["properties"]["deceased"]["requried"] = ["id_number"]

    edit_json("procedures/death_registration.json", typo)
    assert "unknown JSON Schema keyword 'requried'" in problems(data_dir)


def test_a_fee_beyond_what_intake_stores_is_refused_at_load(data_dir: Path, edit_json: JsonEdit) -> None:
    """Loaded, every submission of the procedure failed on intake's 32-bit fee column."""
    edit_json("procedures/land_certificate_first_issuance.json", lambda p: p.update(fee=3_000_000_000))
    assert "fee" in problems(data_dir) and "2147483647" in problems(data_dir)


def test_form_schema_must_be_a_draft_2020_12_object(data_dir: Path, edit_json: JsonEdit) -> None:
    edit_json("procedures/marriage_registration.json", lambda p: p["form_schema"].update(type="array"))
    assert "type 'object'" in problems(data_dir)


def test_subject_path_must_exist_in_the_form(data_dir: Path, edit_json: JsonEdit) -> None:
    edit_json("procedures/death_registration.json", lambda p: p.update(subject_paths=["/deceased/passport"]))
    assert "'/deceased/passport' names no property" in problems(data_dir)


def test_condition_value_outside_the_form_enum(data_dir: Path, edit_json: JsonEdit) -> None:
    edit_json("bundles/death.json", lambda b: b["steps"][3]["when"].update(equals="welfare"))
    assert "['welfare'] not in the form's enum" in problems(data_dir)


@pytest.mark.parametrize("path", ["form.child.full_name", "form.father.date_of_birth", "form.child.born"])
def test_an_age_limit_reads_a_required_date_of_the_form(data_dir: Path, edit_json: JsonEdit, path: str) -> None:
    edit_json("bundles/birth.json", lambda b: b["age_limit"].update(path=path))
    assert f"age_limit: {path!r} is not a required date of the form" in problems(data_dir)


def test_step_input_from_a_result_the_procedure_does_not_produce(data_dir: Path, edit_json: JsonEdit) -> None:
    edit_json(
        "bundles/birth.json",
        lambda b: b["steps"][1]["inputs"].update(
            {"person.id_number": "steps.birth_registration.result.citizen_number"}
        ),
    )
    assert "result field 'citizen_number'" in problems(data_dir)


def test_step_input_from_a_later_step(data_dir: Path, edit_json: JsonEdit) -> None:
    edit_json(
        "bundles/birth.json",
        lambda b: b["steps"][1]["inputs"].update({"address": "steps.health_insurance_card.result.card_number"}),
    )
    assert "'health_insurance_card' is not an earlier step" in problems(data_dir)


def test_step_must_fill_its_procedures_required_fields(data_dir: Path, edit_json: JsonEdit) -> None:
    edit_json("bundles/birth.json", lambda b: b["steps"][1]["inputs"].pop("address"))
    assert "nothing fills 'address'" in problems(data_dir)


def test_step_input_target_must_be_in_the_procedure_form(data_dir: Path, edit_json: JsonEdit) -> None:
    edit_json(
        "bundles/death.json", lambda b: b["steps"][2]["inputs"].update({"deceased.nickname": "form.declarant_relation"})
    )
    assert "input 'deceased.nickname' is not in the form of 9.000002" in problems(data_dir)


def test_step_inputs_must_not_overlap(data_dir: Path, edit_json: JsonEdit) -> None:
    edit_json(
        "bundles/death.json",
        lambda b: b["steps"][0]["inputs"].update({"deceased": "form.deceased"}),
    )
    assert "input 'deceased.date_of_death' lies inside input 'deceased'" in problems(data_dir)


def test_a_constant_a_step_is_given_must_pass_its_form(data_dir: Path, edit_json: JsonEdit) -> None:
    """'dead' is no deregistration reason the form takes: it loaded, and every death bundle's second
    step would have failed at the population database."""
    edit_json("bundles/death.json", lambda b: b["steps"][1]["inputs"].update(reason={"const": "dead"}))
    assert "input 'reason': 'dead' is not one of ['deceased', 'moved_abroad', 'other']" in problems(data_dir)


def test_a_field_a_step_is_given_must_be_of_the_kind_its_form_takes(data_dir: Path, edit_json: JsonEdit) -> None:
    date_into_number = {"person.id_number": "form.child.date_of_birth"}
    edit_json("bundles/birth.json", lambda b: b["steps"][1]["inputs"].update(date_into_number))
    assert (
        "input 'person.id_number' from 'form.child.date_of_birth': the form wants pattern '^[0-9]{12}$', the"
        " bundle's field has no pattern"
    ) in problems(data_dir)


def test_a_default_a_step_is_given_must_pass_its_form_and_comes_from_the_bundle_form(
    data_dir: Path, edit_json: JsonEdit
) -> None:
    def edit(bundle: dict[str, Any]) -> None:
        bundle["steps"][1]["inputs"]["relation_to_head"]["default"] = "c" * 60

    edit_json("bundles/birth.json", edit)
    assert "input 'relation_to_head''s default: " in problems(data_dir)

    def from_a_result(bundle: dict[str, Any]) -> None:
        bundle["steps"][1]["inputs"]["relation_to_head"] = {"ref": "steps.x.result.y", "default": "con"}

    edit_json("bundles/birth.json", from_a_result)
    assert "relation_to_head" in problems(data_dir)  # a result promised is no value to default


def test_a_field_at_least_as_strict_as_the_step_s_form_loads(data_dir: Path, edit_json: JsonEdit) -> None:
    """Equality was asked for, and these correct editions stopped every service at start-up."""

    def weight_in_the_form(procedure: dict[str, Any]) -> None:
        procedure["form_schema"]["properties"]["birth_weight_kg"] = {"type": "number", "minimum": 0}

    def weight_in_the_bundle(bundle: dict[str, Any]) -> None:  # an integer is a number
        bundle["form_schema"]["properties"]["birth_weight_kg"] = {"type": "integer", "minimum": 1}
        bundle["steps"][0]["inputs"]["birth_weight_kg"] = "form.birth_weight_kg"
        # a $ref narrowed by a pattern beside it: both apply
        residence = bundle["form_schema"]["properties"]["residence"]["properties"]
        residence["household_head_id_number"] = {"$ref": "#/$defs/full_name", "pattern": "^[0-9]{12}$"}

    def looser_residence_form(procedure: dict[str, Any]) -> None:
        procedure["form_schema"]["properties"]["address"]["type"] = ["string", "null"]
        procedure["form_schema"]["$defs"]["id_number"]["pattern"] = "^([0-9]{9}|[0-9]{12})$"

    edit_json("procedures/birth_registration.json", weight_in_the_form)
    edit_json("bundles/birth.json", weight_in_the_bundle)
    edit_json("procedures/permanent_residence.json", looser_residence_form)
    assert load_catalogue(data_dir).bundle("birth").step("birth_registration").inputs["birth_weight_kg"]


def test_a_constant_object_must_have_what_the_form_requires(data_dir: Path, edit_json: JsonEdit) -> None:
    edit_json("bundles/birth.json", lambda b: b["steps"][0]["inputs"].update(child={"const": {"full_name": 5}}))
    found = problems(data_dir)
    assert "input 'child': 'sex' is missing" in found and "full_name: 5 is not of type 'string'" in found


def test_a_bundle_is_as_strict_on_age_as_the_procedures_of_its_steps(data_dir: Path, edit_json: JsonEdit) -> None:
    """Without it, a ten-year-old's birth bundle took the health-card step, for children under 6."""
    edit_json("bundles/birth.json", lambda b: b.pop("age_limit"))
    assert "step 'health_insurance_card': 9.000001 is for a person under 6" in problems(data_dir)


def test_bundle_file_is_named_after_its_type(data_dir: Path) -> None:
    (data_dir / "bundles" / "birth.json").rename(data_dir / "bundles" / "newborn.json")
    assert "bundles/newborn.json: defines bundle_type 'birth'" in problems(data_dir)


def test_unknown_keys_in_data_are_rejected(data_dir: Path, edit_json: JsonEdit) -> None:
    edit_json("procedures/birth_registration.json", lambda p: p.update(fees=10))
    assert "procedures/birth_registration.json: fees: Extra inputs are not permitted" in problems(data_dir)


def test_duplicate_procedure_codes(data_dir: Path) -> None:
    source = data_dir / "procedures" / "marriage_registration.json"
    (data_dir / "procedures" / "marriage_copy.json").write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    assert "procedure code 1.000894 is defined twice" in problems(data_dir)


def test_a_procedure_nobody_is_competent_for(data_dir: Path, edit_json: JsonEdit) -> None:
    edit_json("procedures/id_card_renewal.json", lambda p: p.update(agency_kind="immigration_office"))
    assert "no immigration_office agency serves" in problems(data_dir)


def test_every_problem_is_reported_at_once(data_dir: Path, edit_json: JsonEdit) -> None:
    edit_json("procedures/birth_registration.json", lambda p: p.update(fee=-1))
    edit_json("procedures/death_registration.json", lambda p: p.update(online_level="sometimes"))
    found = problems(data_dir)
    assert "birth_registration.json: fee" in found and "death_registration.json: online_level" in found


def test_where_a_result_is_taken_back_is_a_property_of_an_existing_form(data_dir: Path, edit_json: JsonEdit) -> None:
    """What an official states is checked against these places: one that names nothing checks nothing."""
    places = ["9.000006:/land_parcel/number", "9.999999:/x"]
    edit_json(
        "procedures/land_certificate_first_issuance.json",
        lambda p: p["result"]["taken_back_by"].update(certificate_number=places),
    )
    found = problems(data_dir)
    assert "procedure 9.000003: result.taken_back_by.certificate_number: 'land_parcel/number' is not in the form of" \
        " 9.000006" in found  # fmt: skip
    assert "procedure 9.000003: result.taken_back_by.certificate_number: no procedure '9.999999'" in found


def test_only_fields_the_result_carries_are_taken_back(data_dir: Path, edit_json: JsonEdit) -> None:
    edit_json("procedures/driving_licence_renewal.json", lambda p: p["result"]["taken_back_by"].update(number=[]))
    assert "taken_back_by names fields the result does not carry: ['number']" in problems(data_dir)

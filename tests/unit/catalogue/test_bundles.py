"""Bundle definitions: the forms issue 3 fixes, step selection, and the data handed from step to step."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from contracts.catalogue import BundleDefinition, Catalogue, InputUnavailable, load_catalogue
from contracts.catalogue.schema_check import is_required, subschema
from tests.support.catalogue import BUSINESS_START, add_bundle

BIRTH_FORM = {
    "child": {
        "full_name": "Nguyễn Minh An",
        "sex": "female",
        "date_of_birth": "2024-06-03",
        "place_of_birth": "Bệnh viện Đa khoa tỉnh Bình An",
    },
    "mother": {"id_number": "036190001234", "full_name": "Lê Thị Hoa"},
    "residence": {
        "address": "Thôn Hải Nạp, xã Yên Hòa, huyện Hòa Mỹ, tỉnh Bình An",
        "household_head_id_number": "036088005678",
    },
}
DEATH_FORM = {
    "deceased": {
        "id_number": "036045000111",
        "full_name": "Phạm Văn Tư",
        "date_of_death": "2024-06-01",
        "place_of_death": "xã Tân Lập",
    },
    "declarant_relation": "con",
}


def test_every_step_names_an_existing_procedure(catalogue: Catalogue) -> None:
    assert set(catalogue.bundles) >= {"birth", "death"}
    for bundle in catalogue.bundles.values():
        for step in bundle.steps:
            assert catalogue.procedure(step.procedure_code).code == step.procedure_code


def test_step_order_and_performers(catalogue: Catalogue) -> None:
    birth = catalogue.bundle("birth")
    assert [s.step_id for s in birth.steps] == ["birth_registration", "permanent_residence", "health_insurance_card"]
    assert [catalogue.step_procedure("birth", s.step_id).performer.type for s in birth.steps] == [
        "official",
        "registry",
        "registry",
    ]
    assert birth.statutory_limit.limit() == (3, "working_days")
    assert birth.statutory_limit.limit(verification=True) == (5, "working_days")
    death = catalogue.bundle("death")
    assert [s.step_id for s in death.steps] == [
        "death_registration",
        "residence_deregistration",
        "funeral_allowance",
        "burial_support",
    ]


@pytest.mark.parametrize(
    ("bundle_type", "required", "optional"),
    [
        (
            "birth",
            {
                "child": ["full_name", "sex", "date_of_birth", "place_of_birth"],
                "mother": ["id_number", "full_name"],
                "residence": ["address", "household_head_id_number"],
            },
            {"father"},
        ),
        (
            "death",
            {
                "deceased": ["id_number", "full_name", "date_of_death", "place_of_death"],
                "declarant_relation": [],
                "funeral_allowance": [],
            },
            set(),
        ),
    ],
)
def test_bundle_forms_are_the_ones_issue_3_fixes(
    catalogue: Catalogue, bundle_type: str, required: dict[str, list[str]], optional: set[str]
) -> None:
    schema = catalogue.bundle(bundle_type).form_schema
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == set(required) | optional
    for name, fields in required.items():
        assert is_required(schema, (name,))
        node = subschema(schema, (name,))
        assert node is not None and sorted(node.get("required", [])) == sorted(fields)
    for name in optional:
        assert not is_required(schema, (name,))
    if bundle_type == "death":
        choice = subschema(schema, ("funeral_allowance",))
        assert choice is not None and choice["enum"] == ["social_insurance", "social_welfare", "none"]


@pytest.mark.parametrize(
    ("choice", "expected"),
    [("social_insurance", "funeral_allowance"), ("social_welfare", "burial_support"), ("none", None)],
)
def test_death_bundle_picks_exactly_one_allowance_or_none(
    catalogue: Catalogue, choice: str, expected: str | None
) -> None:
    steps = [s.step_id for s in catalogue.bundle("death").applicable_steps({**DEATH_FORM, "funeral_allowance": choice})]
    allowances = [s for s in steps if s in {"funeral_allowance", "burial_support"}]
    assert allowances == ([expected] if expected else [])
    assert steps[:2] == ["death_registration", "residence_deregistration"]


def test_birth_bundle_always_runs_all_three_steps(catalogue: Catalogue) -> None:
    assert len(catalogue.bundle("birth").applicable_steps(BIRTH_FORM)) == 3


def test_the_birth_bundle_serves_a_child_until_the_sixth_birthday(catalogue: Catalogue) -> None:
    limit = catalogue.bundle("birth").age_limit
    assert limit is not None
    assert limit.reached_on(BIRTH_FORM, date(2030, 6, 2)) is None
    assert limit.reached_on(BIRTH_FORM, date(2030, 6, 3)) == date(2030, 6, 3)
    leap_day = {**BIRTH_FORM, "child": {**BIRTH_FORM["child"], "date_of_birth": "2024-02-29"}}
    assert limit.reached_on(leap_day, date(2030, 2, 28)) is None
    assert limit.reached_on(leap_day, date(2030, 3, 1)) == date(2030, 3, 1)
    assert catalogue.bundle("death").age_limit is None
    typo = {**BIRTH_FORM, "child": {**BIRTH_FORM["child"], "date_of_birth": "9998-06-03"}}
    assert limit.reached_on(typo, date(2030, 6, 3)) is None  # its sixth birthday is past year 9999


def test_first_step_form_comes_from_the_bundle_form_alone(catalogue: Catalogue) -> None:
    step = catalogue.bundle("birth").step("birth_registration")
    built = step.resolve_inputs(BIRTH_FORM, {})
    assert built == {"child": BIRTH_FORM["child"], "mother": BIRTH_FORM["mother"]}  # no father given: left out
    with_father = {**BIRTH_FORM, "father": {"id_number": "036089004321", "full_name": "Nguyễn Văn Nam"}}
    assert step.resolve_inputs(with_father, {})["father"]["full_name"] == "Nguyễn Văn Nam"


def test_later_steps_take_earlier_results(catalogue: Catalogue) -> None:
    birth = catalogue.bundle("birth")
    results = {"birth_registration": {"personal_id_number": "036324001122", "birth_certificate_number": "12/2024"}}
    residence = birth.step("permanent_residence").resolve_inputs(BIRTH_FORM, results)
    assert residence == {
        "person": {
            "id_number": "036324001122",
            "full_name": "Nguyễn Minh An",
            "date_of_birth": "2024-06-03",
            "sex": BIRTH_FORM["child"]["sex"],
            "birth_certificate_number": "12/2024",  # the population database may not know the newborn yet
        },
        "address": BIRTH_FORM["residence"]["address"],
        "household_head_id_number": "036088005678",
        "relation_to_head": "con",
    }
    results["permanent_residence"] = {"residence_address": "Thôn Hải Nạp, xã Yên Hòa", "household_id": "H-77"}
    card = birth.step("health_insurance_card").resolve_inputs(BIRTH_FORM, results)
    assert card["child"]["personal_id_number"] == "036324001122"
    assert card["address"] == "Thôn Hải Nạp, xã Yên Hòa"


def test_the_child_s_relation_to_the_household_head_is_the_form_s_else_con(catalogue: Catalogue) -> None:
    """It was always 'con' (child): a grandchild registered in the grandfather's household (seed 003's
    family) was recorded as his child in the population database."""
    residence = catalogue.bundle("birth").step("permanent_residence")
    results = {"birth_registration": {"personal_id_number": "036324001122", "birth_certificate_number": "12/2024"}}
    grandchild = {**BIRTH_FORM, "residence": {**BIRTH_FORM["residence"], "relation_to_head": "cháu nội"}}
    assert residence.resolve_inputs(grandchild, results)["relation_to_head"] == "cháu nội"
    assert residence.resolve_inputs(BIRTH_FORM, results)["relation_to_head"] == "con"


def test_a_missing_earlier_result_stops_the_step_unless_partial(catalogue: Catalogue) -> None:
    step = catalogue.bundle("birth").step("permanent_residence")
    with pytest.raises(InputUnavailable, match="personal_id_number"):
        step.resolve_inputs(BIRTH_FORM, {"birth_registration": {"birth_certificate_number": "12/2024"}})
    partial = step.resolve_inputs(BIRTH_FORM, {}, partial=True)
    assert partial["person"] == {
        "full_name": "Nguyễn Minh An",
        "date_of_birth": "2024-06-03",
        "sex": BIRTH_FORM["child"]["sex"],
    }
    assert catalogue.procedure(step.procedure_code).subject_key(partial) is None  # no duplicate check yet


def test_death_steps_hand_on_the_extract_number_and_a_constant_reason(catalogue: Catalogue) -> None:
    death = catalogue.bundle("death")
    results = {"death_registration": {"death_extract_number": "TL-05/2024", "registered_on": "2024-06-03"}}
    deregistration = death.step("residence_deregistration").resolve_inputs(DEATH_FORM, results)
    assert deregistration["reason"] == "deceased"
    assert deregistration["death_extract_number"] == "TL-05/2024"
    allowance = death.step("funeral_allowance").resolve_inputs(DEATH_FORM, results)
    assert allowance["deceased"] == {
        "id_number": "036045000111",
        "full_name": "Phạm Văn Tư",
        "date_of_death": "2024-06-01",
    }


def test_bundle_definitions_round_trip_through_json(catalogue: Catalogue) -> None:
    for bundle in catalogue.bundles.values():
        assert BundleDefinition.model_validate_json(bundle.model_dump_json()) == bundle


def test_a_new_bundle_file_is_discovered(data_dir: Path) -> None:
    """Adding a bundle takes a data file and nothing else."""
    add_bundle(data_dir, BUSINESS_START)
    catalogue = load_catalogue(data_dir)
    assert set(catalogue.bundles) == {"birth", "death", "business_start"}
    assert catalogue.step_procedure("business_start", "household_business").code == "1.001612"

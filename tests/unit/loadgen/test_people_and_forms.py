"""People and forms: every number agrees with its person, dates lie in the past, and every form of
the catalogue (each procedure, each bundle) comes out valid against its own JSON Schema."""

from __future__ import annotations

import random
import re
from datetime import date
from typing import Any

import pytest

from contracts import citizen_id
from contracts.catalogue import Catalogue, load_catalogue
from contracts.catalogue.formschema import FormValidator
from contracts.citizen_id import Sex
from loadgen.forms import FormBuilder, UnfillableSchema
from loadgen.people import People

TODAY = date(2027, 2, 9)  # Tết 2027 eve: nothing about the calendar should matter to forms
CATALOGUE = load_catalogue()


def schema_errors(value: Any, node: dict[str, Any], defs: dict[str, Any], path: str = "$") -> list[str]:
    """A small validator for the JSON Schema keywords the catalogue uses (independent of the generator)."""
    if "$ref" in node:
        node = {**defs[node["$ref"].split("/")[-1]], **{k: v for k, v in node.items() if k != "$ref"}}
    errors: list[str] = []
    kind = node.get("type")
    checks = {"object": dict, "array": list, "string": str, "integer": int, "number": (int, float)}
    if kind in checks and (not isinstance(value, checks[kind]) or isinstance(value, bool)):
        return [f"{path}: not {kind}"]
    if "enum" in node and value not in node["enum"]:
        errors.append(f"{path}: {value!r} not in enum")
    if isinstance(value, dict):
        props = node.get("properties", {})
        errors += [f"{path}.{k}: missing" for k in node.get("required", []) if k not in value]
        if node.get("additionalProperties") is False:
            errors += [f"{path}.{k}: not allowed" for k in value if k not in props]
        for k, v in value.items():
            if k in props:
                errors += schema_errors(v, props[k], defs, f"{path}.{k}")
    if isinstance(value, list):
        errors += [f"{path}: fewer than minItems"] if len(value) < node.get("minItems", 0) else []
        for i, item in enumerate(value):
            errors += schema_errors(item, node["items"], defs, f"{path}[{i}]")
    if isinstance(value, str):
        if not node.get("minLength", 0) <= len(value) <= node.get("maxLength", 10**9):
            errors.append(f"{path}: length {len(value)}")
        if "pattern" in node and not re.search(node["pattern"], value):
            errors.append(f"{path}: {value!r} does not match {node['pattern']}")
        if node.get("format") == "date" and date.fromisoformat(value) >= TODAY:
            errors.append(f"{path}: {value} is not in the past")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value < node.get("minimum", -(10**18)) or value > node.get("maximum", 10**18):
            errors.append(f"{path}: {value} out of range")
        if "exclusiveMinimum" in node and value <= node["exclusiveMinimum"]:
            errors.append(f"{path}: {value} not above {node['exclusiveMinimum']}")
    return errors


def builder(seed: int, catalogue: Catalogue = CATALOGUE) -> FormBuilder:
    rng = random.Random(seed)
    communes = sorted(a.code for a in catalogue.agencies.values() if a.kind == "commune_pc")
    return FormBuilder(People(rng, TODAY), communes, rng)


def people_in(node: Any, key: str = "") -> list[tuple[str, dict[str, Any]]]:
    found = []
    if isinstance(node, dict):
        if "full_name" in node and any(k in node for k in ("id_number", "personal_id_number")):
            found.append((key, node))
        for k, v in node.items():
            found += people_in(v, k)
    return found


@pytest.mark.parametrize("code", sorted(CATALOGUE.procedures))
def test_every_procedure_form_is_valid_against_its_schema(code: str) -> None:
    schema = CATALOGUE.procedure(code).form_schema
    for seed in range(25):
        form = builder(seed).build(schema)
        assert schema_errors(form, schema, schema.get("$defs", {})) == []
        assert FormValidator(schema).validate(form) == []  # intake's own check, conditions included


@pytest.mark.parametrize("bundle_type", sorted(CATALOGUE.bundles))
def test_every_bundle_form_is_valid_and_required_only_forms_too(bundle_type: str) -> None:
    schema = CATALOGUE.bundle(bundle_type).form_schema
    for seed in range(25):
        for required_only in (False, True):
            form = builder(seed).build(schema, required_only=required_only)
            assert schema_errors(form, schema, schema.get("$defs", {})) == []
            assert FormValidator(schema).validate(form) == []


@pytest.mark.parametrize("code", sorted(CATALOGUE.procedures))
def test_numbers_agree_with_role_sex_and_birth_date(code: str) -> None:
    role_sex = {"mother": Sex.FEMALE, "female_party": Sex.FEMALE, "father": Sex.MALE, "male_party": Sex.MALE}
    for seed in range(25):
        form = builder(seed).build(CATALOGUE.procedure(code).form_schema)
        for role, person in people_in(form):
            number = person.get("id_number") or person["personal_id_number"]
            born = date.fromisoformat(person["date_of_birth"]) if "date_of_birth" in person else None
            sex = person.get("sex") or role_sex.get(role)
            assert citizen_id.check_consistency(number, sex=sex, birth_year=born.year if born else None) == []


def test_a_birth_form_has_parents_older_than_the_child_and_a_recent_birth() -> None:
    for seed in range(50):
        form = builder(seed).build(CATALOGUE.bundle("birth").form_schema)
        born = date.fromisoformat(form["child"]["date_of_birth"])
        assert 0 < (TODAY - born).days <= 61
        for role in ("mother", "father"):
            if role in form:
                assert TODAY.year - citizen_id.parse(form[role]["id_number"]).birth_year >= 19


def test_a_death_form_dies_after_birth_and_in_the_past() -> None:
    for seed in range(50):
        deceased = builder(seed).build(CATALOGUE.bundle("death").form_schema)["deceased"]
        died = date.fromisoformat(deceased["date_of_death"])
        assert citizen_id.parse(deceased["id_number"]).birth_year < died.year and died < TODAY


def test_numbers_are_unique_within_a_run() -> None:
    people = People(random.Random(3), TODAY)
    numbers = [people.person().id_number for _ in range(20_000)]
    assert len(set(numbers)) == len(numbers)


def test_an_unknown_pattern_is_refused_rather_than_guessed() -> None:
    schema = {
        "type": "object",
        "required": ["plate"],
        "properties": {"plate": {"type": "string", "pattern": "^[A-Z]{2}$"}},
    }
    with pytest.raises(UnfillableSchema, match="plate"):
        builder(1).build(schema)


@pytest.mark.parametrize("choice", ["social_insurance", "social_welfare", "none"])
def test_a_death_form_carries_what_its_funeral_choice_needs(choice: str) -> None:
    """The benefit systems pay against the deceased's social-insurance number or assistance group:
    a form without it is refused at submission (it used to be accepted, then stopped at the step)."""
    schema = CATALOGUE.bundle("death").form_schema
    needed = {"social_insurance": "social_insurance_number", "social_welfare": "beneficiary_category"}
    for seed in range(10):
        form = builder(seed).build(schema, required_only=True, fixed={"funeral_allowance": choice})
        assert form["funeral_allowance"] == choice
        assert choice == "none" or needed[choice] in form["deceased"]
        assert FormValidator(schema).validate(form) == []
        if choice != "none":
            del form["deceased"][needed[choice]]
            [problem] = FormValidator(schema).validate(form, "$.form")
            assert problem.path == f"$.form.deceased.{needed[choice]}"


def test_only_a_newborn_carries_a_birth_certificate_number_not_yet_in_the_population_database() -> None:
    """The field tells registry-sync to record the person as a newborn first: an adult with one was
    refused by the population database (someone else holds the number, under another birth date)."""
    schema = CATALOGUE.procedure("1.004222").form_schema
    adults = [builder(seed).build(schema)["person"] for seed in range(40)]
    assert all("birth_certificate_number" not in person for person in adults)
    assert any("date_of_birth" in person for person in adults)  # the optional field is still drawn

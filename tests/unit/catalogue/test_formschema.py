"""The compiled form validator: every bad field with its JSON path, all catalogue forms supported."""

from __future__ import annotations

import pytest

from contracts.catalogue import Catalogue, load_catalogue
from contracts.catalogue.formschema import FormValidator, UnsupportedSchema

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["person", "kind"],
    "properties": {
        "person": {"$ref": "#/$defs/person"},
        "kind": {"type": "string", "enum": ["a", "b"]},
        "count": {"type": "integer", "minimum": 1, "maximum": 7},
        "area": {"type": "number", "exclusiveMinimum": 0},
        "tags": {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}, "uniqueItems": True},
    },
    "$defs": {
        "person": {
            "type": "object",
            "additionalProperties": False,
            "required": ["id_number", "born"],
            "properties": {
                "id_number": {"type": "string", "pattern": "^[0-9]{12}$"},
                "born": {"type": "string", "format": "date"},
            },
        }
    },
}


def paths(instance: object, schema: dict = SCHEMA) -> dict[str, str]:  # type: ignore[type-arg]
    return {p.path: p.type for p in FormValidator(schema).validate(instance, "$.form")}


def test_a_valid_form_has_no_problems() -> None:
    form = {"person": {"id_number": "036195000123", "born": "1995-02-28"}, "kind": "a", "count": 7, "tags": ["x"]}
    assert paths(form) == {}


def test_every_bad_field_is_reported_with_its_path() -> None:
    form = {
        "person": {"id_number": "12", "born": "1995-02-30", "nick": "x"},
        "kind": "c",
        "count": 1.5,
        "area": 0,
        "tags": ["", ""],
        "extra": True,
    }
    assert paths(form) == {
        "$.form.person.id_number": "pattern",
        "$.form.person.born": "format",
        "$.form.person.nick": "extra_forbidden",
        "$.form.kind": "enum",
        "$.form.count": "type_error",
        "$.form.area": "out_of_range",
        "$.form.tags[0]": "too_short",
        "$.form.tags[1]": "too_short",
        "$.form.tags": "not_unique",
        "$.form.extra": "extra_forbidden",
    }


def test_missing_fields_are_named_at_their_own_path() -> None:
    assert paths({"person": {}}) == {
        "$.form.kind": "missing",
        "$.form.person.id_number": "missing",
        "$.form.person.born": "missing",
    }


def test_wrong_shapes_do_not_crash_the_validator() -> None:
    assert paths([]) == {"$.form": "type_error"}
    assert paths({"person": "someone", "kind": "a"}) == {"$.form.person": "type_error"}
    assert paths({"person": {"id_number": 123456789012, "born": None}, "kind": True}) == {
        "$.form.person.id_number": "type_error",
        "$.form.person.born": "type_error",
        "$.form.kind": "type_error",
    }


def test_booleans_are_not_numbers_and_whole_floats_are_integers() -> None:
    assert paths({"person": {"id_number": "036195000123", "born": "1995-01-01"}, "kind": "a", "count": True}) == {
        "$.form.count": "type_error"
    }
    assert paths({"person": {"id_number": "036195000123", "born": "1995-01-01"}, "kind": "a", "count": 2.0}) == {}


def test_combinators_and_conditionals() -> None:
    schema = {
        "type": "object",
        "properties": {"v": {"oneOf": [{"type": "string"}, {"type": "integer"}]}, "w": {"not": {"const": 0}}},
        "if": {"properties": {"v": {"const": "x"}}},
        "then": {"required": ["w"]},
    }
    assert paths({"v": 1}, schema) == {}
    assert paths({"v": []}, schema) == {"$.form.v": "oneOf"}
    assert paths({"v": "x"}, schema) == {"$.form.w": "missing"}
    assert paths({"v": "y", "w": 0}, schema) == {"$.form.w": "not"}


def test_an_unsupported_keyword_fails_at_compile_time_not_on_a_request() -> None:
    with pytest.raises(UnsupportedSchema, match="unevaluatedProperties"):
        FormValidator({"type": "object", "unevaluatedProperties": False})


def test_every_form_of_the_catalogue_compiles() -> None:
    catalogue = load_catalogue()
    for procedure in catalogue.procedures.values():
        assert FormValidator(procedure.form_schema).validate({}, "$.form"), procedure.code  # something is required
    for bundle in catalogue.bundles.values():
        FormValidator(bundle.form_schema)


def marriage_form(**female_party: str) -> dict[str, object]:
    """A marriage registration's form (1.000894), valid but for what ``female_party`` changes."""
    party = {"id_number": "036195000123", "full_name": "Nguyễn Thị Mai", "date_of_birth": "1995-02-28"}
    return {
        "female_party": party | female_party,
        "male_party": {"id_number": "036193000456", "full_name": "Trần Văn Bình", "date_of_birth": "1993-07-14"},
    }


def test_a_date_is_written_with_its_dashes(catalogue: Catalogue) -> None:
    """Python 3.11's date parser also reads ISO 8601's basic form, "19950228", which JSON Schema's
    ``date`` format (RFC 3339's full-date) refuses: checked by the parser alone, a birth date written
    without its dashes was taken as valid."""
    validator = FormValidator(catalogue.procedures["1.000894"].form_schema)
    assert [p.type for p in validator.validate(marriage_form(), "$.form")] == []
    problems = validator.validate(marriage_form(date_of_birth="19950228"), "$.form")
    assert [(p.path, p.type) for p in problems] == [("$.form.female_party.date_of_birth", "format")]


def test_a_name_one_character_longer_than_its_limit_is_refused(catalogue: Catalogue) -> None:
    """``maxLength`` is the longest length allowed: counted one too generously, a 101-character name
    went through a form that allows 100."""
    validator = FormValidator(catalogue.procedures["1.000894"].form_schema)
    assert [p.type for p in validator.validate(marriage_form(full_name="A" * 100), "$.form")] == []
    problems = validator.validate(marriage_form(full_name="A" * 101), "$.form")
    assert [(p.path, p.type) for p in problems] == [("$.form.female_party.full_name", "too_long")]

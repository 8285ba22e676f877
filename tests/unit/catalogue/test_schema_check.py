"""The structural JSON Schema check that stands in for a validator library contracts may not use."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.catalogue.schema_check import DRAFT_2020_12, required_leaves, schema_problems, subschema


def form(**properties: Any) -> dict[str, Any]:
    return {"$schema": DRAFT_2020_12, "type": "object", "properties": properties}


def test_a_well_formed_form_has_no_problems() -> None:
    schema = {
        **form(person={"$ref": "#/$defs/person"}, tags={"type": "array", "items": {"type": "string"}, "minItems": 1}),
        "required": ["person"],
        "$defs": {
            "person": {
                "type": "object",
                "required": ["id"],
                "properties": {"id": {"type": "string", "pattern": "^[0-9]{12}$"}},
            }
        },
        "x-ui-order": ["person", "tags"],
    }
    assert schema_problems(schema) == []
    assert subschema(schema, ("person", "id")) == {"type": "string", "pattern": "^[0-9]{12}$"}
    assert subschema(schema, ("person", "name")) is None
    assert required_leaves(schema) == [("person", "id")]


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        (form(a={"type": "text"}), "/properties/a/type: must be one of"),
        (form(a={"pattern": "(["}), "does not compile"),
        (form(a={"minLength": -1}), "non-negative integer"),
        (form(a={"minLength": 5, "maxLength": 2}), "minLength 5 is greater than maxLength 2"),
        (form(a={"$ref": "#/$defs/missing"}), "does not resolve"),
        (form(a={"$ref": "https://example.com/s.json"}), "only local references"),
        (form(a={"enum": []}), "non-empty array"),
        (form(a={"allOf": {}}), "non-empty array of schemas"),
        (form(a=[]), "must be an object or a boolean"),
        (
            {**form(a={}), "required": ["b"], "additionalProperties": False},
            "'b' is required but not among the properties",
        ),
        ({"type": "object"}, "$schema must be"),
        ([], "must be a JSON object"),
    ],
)
def test_structural_problems_are_found(schema: Any, message: str) -> None:
    assert any(message in p for p in schema_problems(schema)), schema_problems(schema)


def test_keywords_beside_a_ref_add_to_its_definition() -> None:
    """Beside a $ref, a `required` replaced the definition's: the check saw one required property
    where intake's form validation required three."""
    schema = {
        "type": "object",
        "properties": {"child": {"$ref": "#/$defs/person", "required": ["id_number"], "title": "Trẻ"}},
        "$defs": {
            "person": {
                "type": "object",
                "required": ["full_name", "date_of_birth"],
                "properties": {
                    "full_name": {"type": "string"},
                    "date_of_birth": {"type": "string", "format": "date"},
                    "id_number": {"type": "string", "pattern": "^[0-9]{12}$"},
                },
            }
        },
    }
    schema["required"] = ["child"]
    assert sorted(required_leaves(schema)) == [
        ("child", "date_of_birth"),
        ("child", "full_name"),
        ("child", "id_number"),
    ]
    assert subschema(schema, ("child",))["title"] == "Trẻ"  # type: ignore[index]
    assert subschema(schema, ("child", "id_number")) == {"type": "string", "pattern": "^[0-9]{12}$"}

"""A structural check of JSON Schema (draft 2020-12) documents, and navigation inside them.

``contracts`` may depend only on pydantic, so this is not a validator of *instances*: it checks that
a form schema in the data is itself well formed — known keywords with values of the right kind,
regexes that compile, ``required`` names that exist, local ``$ref`` s that resolve — so a typo in a
data file fails at load instead of silently accepting every form. Unknown keywords are errors
(JSON Schema would ignore them; here they are almost always misspellings); ``x-`` keys are allowed
for annotations.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
TYPES = {"null", "boolean", "object", "array", "number", "string", "integer"}

_ONE_SCHEMA = {
    "not",
    "if",
    "then",
    "else",
    "items",
    "contains",
    "additionalProperties",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
    "contentSchema",
}
_SCHEMA_LIST = {"allOf", "anyOf", "oneOf", "prefixItems"}
_SCHEMA_MAP = {"properties", "patternProperties", "$defs", "dependentSchemas"}
_COUNTS = {
    "maxLength",
    "minLength",
    "maxItems",
    "minItems",
    "maxContains",
    "minContains",
    "maxProperties",
    "minProperties",
}
_NUMBERS = {"multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum"}
_STRINGS = {
    "$schema",
    "$id",
    "$ref",
    "$comment",
    "$anchor",
    "$dynamicRef",
    "$dynamicAnchor",
    "title",
    "description",
    "pattern",
    "format",
    "contentEncoding",
    "contentMediaType",
}
_BOOLS = {"uniqueItems", "deprecated", "readOnly", "writeOnly"}
_ANY = {"const", "default", "enum", "examples", "required", "dependentRequired", "type", "$vocabulary"}
KEYWORDS = _ONE_SCHEMA | _SCHEMA_LIST | _SCHEMA_MAP | _COUNTS | _NUMBERS | _STRINGS | _BOOLS | _ANY
_RANGES = (
    ("minLength", "maxLength"),
    ("minItems", "maxItems"),
    ("minProperties", "maxProperties"),
    ("minimum", "maximum"),
)


def _pointer(path: tuple[str, ...]) -> str:
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in path) if path else "(root)"


def resolve_ref(root: dict[str, Any], ref: str) -> Any:
    """The subschema a local ``$ref`` (``#``, ``#/$defs/x``) points at; KeyError if it does not resolve."""
    if not ref.startswith("#"):
        raise KeyError(f"only local references are allowed (contracts are self-contained), got {ref!r}")
    node: Any = root
    for part in [p for p in ref[1:].split("/") if p]:
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            raise KeyError(f"$ref {ref!r} does not resolve")
        node = node[part]
    return node


def _check(schema: Any, root: dict[str, Any], path: tuple[str, ...]) -> Iterator[str]:
    where = _pointer(path)
    if isinstance(schema, bool):
        return
    if not isinstance(schema, dict):
        yield f"{where}: a schema must be an object or a boolean, not {type(schema).__name__}"
        return
    for key, value in schema.items():
        at = f"{_pointer((*path, key))}"
        if key.startswith("x-"):
            continue
        if key not in KEYWORDS:
            yield f"{at}: unknown JSON Schema keyword {key!r}"
        elif key in _ONE_SCHEMA:
            yield from _check(value, root, (*path, key))
        elif key in _SCHEMA_LIST:
            if not isinstance(value, list) or not value:
                yield f"{at}: must be a non-empty array of schemas"
            else:
                for i, sub in enumerate(value):
                    yield from _check(sub, root, (*path, key, str(i)))
        elif key in _SCHEMA_MAP:
            if not isinstance(value, dict):
                yield f"{at}: must be an object of schemas"
            else:
                for name, sub in value.items():
                    if key == "patternProperties":
                        yield from _regex(name, at)
                    yield from _check(sub, root, (*path, key, name))
        elif key in _COUNTS and (type(value) is not int or value < 0):
            yield f"{at}: must be a non-negative integer"
        elif key in _NUMBERS and (type(value) not in (int, float) or (key == "multipleOf" and value <= 0)):
            yield f"{at}: must be a number" + (" > 0" if key == "multipleOf" else "")
        elif key in _STRINGS and not isinstance(value, str):
            yield f"{at}: must be a string"
        elif key in _BOOLS and not isinstance(value, bool):
            yield f"{at}: must be a boolean"
        elif key == "pattern":
            yield from _regex(value, at)
        elif key == "$ref":
            try:
                resolve_ref(root, value)
            except KeyError as exc:
                yield f"{at}: {exc.args[0]}"
        else:
            yield from _check_value_keyword(key, value, schema, at)
    for low, high in _RANGES:
        if isinstance(schema.get(low), int | float) and isinstance(schema.get(high), int | float):
            if schema[low] > schema[high]:
                yield f"{where}: {low} {schema[low]} is greater than {high} {schema[high]}"


def _check_value_keyword(key: str, value: Any, schema: dict[str, Any], at: str) -> Iterator[str]:
    if key == "type":
        types = value if isinstance(value, list) else [value]
        if not types or any(t not in TYPES for t in types) or len(set(types)) != len(types):
            yield f"{at}: must be one of {sorted(TYPES)} or a non-empty array of distinct ones"
    elif key in ("enum", "examples") and (not isinstance(value, list) or (key == "enum" and not value)):
        yield f"{at}: must be {'a non-empty' if key == 'enum' else 'an'} array"
    elif key == "required":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or len(set(value)) != len(value):
            yield f"{at}: must be an array of distinct strings"
        elif schema.get("additionalProperties") is False and "properties" in schema:
            for name in value:
                if name not in schema["properties"]:
                    yield f"{at}: {name!r} is required but not among the properties (no form could satisfy it)"
    elif key == "dependentRequired":
        if not isinstance(value, dict) or not all(isinstance(v, list) for v in value.values()):
            yield f"{at}: must be an object of string arrays"


def _regex(pattern: Any, at: str) -> Iterator[str]:
    if not isinstance(pattern, str):
        yield f"{at}: a pattern must be a string"
        return
    try:
        re.compile(pattern)
    except re.error as exc:
        yield f"{at}: pattern {pattern!r} does not compile: {exc}"


def schema_problems(schema: Any, *, form: bool = True) -> list[str]:
    """Everything structurally wrong with ``schema`` (empty when it is fine).

    ``form=True`` also requires what a form schema of this project must be: draft 2020-12 declared in
    ``$schema``, and an object at the root.
    """
    if not isinstance(schema, dict):
        return ["(root): a form schema must be a JSON object"]
    problems = list(_check(schema, schema, ()))
    if form:
        if schema.get("$schema") != DRAFT_2020_12:
            problems.append(f"(root): $schema must be {DRAFT_2020_12!r}")
        if schema.get("type") != "object":
            problems.append("(root): a form schema must have type 'object'")
    return problems


def dereferenced(root: dict[str, Any], node: Any) -> Any:
    """``node`` with its ``$ref`` followed; keywords written beside the ``$ref`` (a title, a stricter
    pattern) apply too, as they do in draft 2020-12, and win."""
    seen = 0
    while isinstance(node, dict) and "$ref" in node and seen < 32:
        beside = {k: v for k, v in node.items() if k != "$ref"}
        target = resolve_ref(root, node["$ref"])
        node = _both(target, beside) if isinstance(target, dict) else target
        seen += 1
    return node


def _both(target: dict[str, Any], beside: dict[str, Any]) -> dict[str, Any]:
    """A definition and the keywords written beside its reference, both applying: the required
    properties of both, the properties of both; any other keyword beside it is the stricter word."""
    merged = {**target, **beside}
    if "required" in target and "required" in beside:
        merged["required"] = list(dict.fromkeys([*target["required"], *beside["required"]]))
    if isinstance(target.get("properties"), dict) and isinstance(beside.get("properties"), dict):
        merged["properties"] = {**target["properties"], **beside["properties"]}
    return merged


def subschema(root: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any] | None:
    """The (dereferenced) schema of the property at ``keys``, following ``properties`` and local
    ``$ref`` s; None when the schema declares no such property."""
    node = dereferenced(root, root)
    for key in keys:
        props = node.get("properties") if isinstance(node, dict) else None
        if not isinstance(props, dict) or key not in props:
            return None
        node = dereferenced(root, props[key])
    return node if isinstance(node, dict) else {}


def is_required(root: dict[str, Any], keys: tuple[str, ...]) -> bool:
    """True when every object along ``keys`` requires the next key: the value is always present in a
    valid instance."""
    node = dereferenced(root, root)
    for key in keys:
        if not isinstance(node, dict) or key not in node.get("required", []):
            return False
        node = dereferenced(root, node.get("properties", {}).get(key, {}))
    return True


def required_leaves(root: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Paths of the required properties that have no required properties of their own: what a
    producer of valid instances must at least supply."""
    node = subschema(root, prefix) if prefix else dereferenced(root, root)
    leaves: list[tuple[str, ...]] = []
    for name in (node or {}).get("required", []):
        path = (*prefix, name)
        below = required_leaves(root, path)
        leaves.extend(below or [path])
    return leaves

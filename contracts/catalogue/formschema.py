"""Validation of forms against the catalogue's JSON Schemas (draft 2020-12), compiled once.

Why not a general JSON Schema library: the submit path must stay cheap (a generic validator costs
~200 µs per birth form; this compiled closure tree ~18 µs) and the 422 must name the path of every bad
field, including a missing one (``$.form.child.place_of_birth``, where generic validators point at
the parent). The keywords the catalogue's forms use are compiled; a keyword this module does not
implement raises :class:`UnsupportedSchema` when the catalogue is loaded, so a new data file can
never be validated half-way in silence.
"""

from __future__ import annotations

import re
from typing import Any

from .jsonvalue import is_json_type, json_equal
from .problems import FieldProblem, child_path
from .schema_check import resolve_ref
from .schema_keywords import (
    Check,
    accept,
    all_of,
    alternatives,
    const,
    enum,
    number_checks,
    passes,
    reject,
    string_checks,
)

#: Keywords that only annotate: they never make an instance invalid.
_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$comment", "$anchor", "$defs", "title", "description", "default", "examples",
     "deprecated", "readOnly", "writeOnly", "contentEncoding", "contentMediaType"}
)
_IMPLEMENTED = frozenset(
    {"$ref", "type", "enum", "const", "minLength", "maxLength", "pattern", "format", "minimum", "maximum",
     "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "properties", "required", "additionalProperties",
     "patternProperties", "minProperties", "maxProperties", "dependentRequired", "items", "prefixItems",
     "minItems", "maxItems", "uniqueItems", "allOf", "anyOf", "oneOf", "not", "if", "then", "else"}
)


class UnsupportedSchema(ValueError):
    """The schema uses a keyword this validator does not implement."""


class FormValidator:
    """A compiled schema: ``validate(form, "$.form")`` lists every problem, empty when valid."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self._root = schema
        self._refs: dict[str, Check] = {}
        self._check = self._compile(schema)

    def validate(self, instance: Any, path: str = "$") -> list[FieldProblem]:
        problems: list[FieldProblem] = []
        self._check(instance, path, problems)
        return problems

    def is_valid(self, instance: Any) -> bool:
        return not self.validate(instance)

    # -- compilation -------------------------------------------------------------------------------

    def _compile(self, schema: Any) -> Check:
        if schema is True:
            return accept
        if schema is False:
            return reject
        unknown = sorted(k for k in schema if k not in _IMPLEMENTED | _ANNOTATIONS and not k.startswith("x-"))
        if unknown:
            raise UnsupportedSchema(f"form schema keywords not supported by the form validator: {unknown}")
        checks: list[Check] = []
        if "$ref" in schema:
            checks.append(self._ref(schema["$ref"]))
        if "enum" in schema:
            checks.append(enum(schema["enum"]))
        if "const" in schema:
            checks.append(const(schema["const"]))
        checks.extend(string_checks(schema))
        checks.extend(number_checks(schema))
        checks.extend(self._object_checks(schema))
        checks.extend(self._array_checks(schema))
        checks.extend(self._combinators(schema))
        rest = all_of(checks)
        if "type" not in schema:
            return rest
        names = [schema["type"]] if isinstance(schema["type"], str) else list(schema["type"])
        expected = " or ".join(names)

        def check_type_first(value: Any, path: str, out: list[FieldProblem]) -> None:
            # A value of the wrong type gets one problem, not one per keyword it cannot satisfy.
            if any(is_json_type(value, n) for n in names):
                rest(value, path, out)
            else:
                out.append(FieldProblem(path, f"must be {expected}", "type_error"))

        return check_type_first

    def _ref(self, ref: str) -> Check:
        if ref not in self._refs:
            self._refs[ref] = accept  # placeholder: a recursive schema refers to itself while compiling
            self._refs[ref] = self._compile(resolve_ref(self._root, ref))
        return lambda value, path, out: self._refs[ref](value, path, out)

    def _object_checks(self, schema: dict[str, Any]) -> list[Check]:
        props = {name: self._compile(sub) for name, sub in schema.get("properties", {}).items()}
        patterns = [(re.compile(p), self._compile(s)) for p, s in schema.get("patternProperties", {}).items()]
        additional = schema.get("additionalProperties", True)
        extra = None if additional is True else self._compile(additional)
        required: list[str] = list(schema.get("required", []))
        dependent: dict[str, list[str]] = schema.get("dependentRequired", {})
        min_props, max_props = schema.get("minProperties"), schema.get("maxProperties")
        if not (props or patterns or extra or required or dependent or min_props or max_props is not None):
            return []

        def check(value: Any, path: str, out: list[FieldProblem]) -> None:
            if not isinstance(value, dict):
                return
            for name in required:
                if name not in value:
                    out.append(FieldProblem(child_path(path, name), "field required", "missing"))
            for name, needs in dependent.items():
                if name in value:
                    for other in needs:
                        if other not in value:
                            out.append(FieldProblem(child_path(path, other), f"required with {name!r}", "missing"))
            for name, item in value.items():
                at = child_path(path, name)
                matched = name in props
                if matched:
                    props[name](item, at, out)
                for regex, sub in patterns:
                    if regex.search(name):
                        matched = True
                        sub(item, at, out)
                if not matched and extra is not None:
                    if additional is False:
                        out.append(FieldProblem(at, "unknown field: not allowed by the form", "extra_forbidden"))
                    else:
                        extra(item, at, out)
            if min_props is not None and len(value) < min_props:
                out.append(FieldProblem(path, f"needs at least {min_props} fields", "too_short"))
            if max_props is not None and len(value) > max_props:
                out.append(FieldProblem(path, f"allows at most {max_props} fields", "too_long"))

        return [check]

    def _array_checks(self, schema: dict[str, Any]) -> list[Check]:
        prefix = [self._compile(s) for s in schema.get("prefixItems", [])]
        items = self._compile(schema["items"]) if "items" in schema else None
        low, high, unique = schema.get("minItems"), schema.get("maxItems"), schema.get("uniqueItems", False)
        if not (prefix or items or low or high is not None or unique):
            return []

        def check(value: Any, path: str, out: list[FieldProblem]) -> None:
            if not isinstance(value, list):
                return
            for i, item in enumerate(value):
                sub = prefix[i] if i < len(prefix) else items
                if sub is not None:
                    sub(item, child_path(path, i), out)
            if low is not None and len(value) < low:
                out.append(FieldProblem(path, f"needs at least {low} items", "too_short"))
            if high is not None and len(value) > high:
                out.append(FieldProblem(path, f"allows at most {high} items", "too_long"))
            if unique and any(json_equal(a, b) for i, a in enumerate(value) for b in value[i + 1 :]):
                out.append(FieldProblem(path, "items must be unique", "not_unique"))

        return [check]

    def _combinators(self, schema: dict[str, Any]) -> list[Check]:
        checks: list[Check] = [self._compile(s) for s in schema.get("allOf", [])]
        for keyword in ("anyOf", "oneOf"):
            if keyword in schema:
                checks.append(alternatives(keyword, [self._compile(s) for s in schema[keyword]]))
        if "not" in schema:
            negated = self._compile(schema["not"])

            def check_not(value: Any, path: str, out: list[FieldProblem]) -> None:
                if passes(negated, value, path):
                    out.append(FieldProblem(path, "matches a form that is not allowed", "not"))

            checks.append(check_not)
        if "if" in schema:
            condition = self._compile(schema["if"])
            then = self._compile(schema.get("then", True))
            otherwise = self._compile(schema.get("else", True))
            checks.append(lambda v, p, out: (then if passes(condition, v, p) else otherwise)(v, p, out))
        return checks

"""The leaf checks the form compiler assembles: types, enums, strings, numbers, alternatives.

Each check appends :class:`FieldProblem` s for the value at ``path`` and returns nothing, so one pass
over a form collects every problem.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from contracts.text import visible

from .jsonvalue import is_json_type, json_equal, valid_format
from .problems import FieldProblem

Check = Callable[[Any, str, list[FieldProblem]], None]


def accept(value: Any, path: str, out: list[FieldProblem]) -> None:
    return None


def reject(value: Any, path: str, out: list[FieldProblem]) -> None:
    out.append(FieldProblem(path, "no value is allowed here", "forbidden"))


def passes(check: Check, value: Any, path: str) -> bool:
    scratch: list[FieldProblem] = []
    check(value, path, scratch)
    return not scratch


def all_of(checks: list[Check]) -> Check:
    if not checks:
        return accept
    if len(checks) == 1:
        return checks[0]

    def check(value: Any, path: str, out: list[FieldProblem]) -> None:
        for each in checks:
            each(value, path, out)

    return check


def enum(options: list[Any]) -> Check:
    def check(value: Any, path: str, out: list[FieldProblem]) -> None:
        if not any(json_equal(value, o) for o in options):
            out.append(FieldProblem(path, f"must be one of {options}", "enum"))

    return check


def const(expected: Any) -> Check:
    def check(value: Any, path: str, out: list[FieldProblem]) -> None:
        if not json_equal(value, expected):
            out.append(FieldProblem(path, f"must be {expected!r}", "const"))

    return check


#: An unescaped ``$`` outside a character class.
_DOLLAR = re.compile(r"(?<!\\)\$(?![^\[]*\])")


def ecma_pattern(pattern: str) -> str:
    r"""A JSON Schema ``pattern`` (ECMA-262) as Python reads it the same way: Python's ``$`` also
    matches before a final newline, so ``^[0-9]{12}$`` took ``"036095000123\n"``, and an ID number
    with a trailing newline skipped every check on it. ``\Z`` ends the string only."""
    return _DOLLAR.sub(r"\\Z", pattern)


def string_checks(schema: dict[str, Any]) -> list[Check]:
    low, high, fmt = schema.get("minLength"), schema.get("maxLength"), schema.get("format")
    pattern = re.compile(ecma_pattern(schema["pattern"])) if "pattern" in schema else None
    format_msg = f"must be a valid {fmt}" + (" (YYYY-MM-DD)" if fmt == "date" else "")
    if low is None and high is None and pattern is None and fmt is None:
        return []

    def check(value: Any, path: str, out: list[FieldProblem]) -> None:
        if not isinstance(value, str):
            return
        if low is not None and len(visible(value)) < low:  # "   " or a zero-width space is no name
            out.append(FieldProblem(path, "must not be blank" if low == 1 else f"needs {low}+ characters", "too_short"))
        if high is not None and len(value) > high:
            out.append(FieldProblem(path, f"allows at most {high} characters", "too_long"))
        if pattern is not None and not pattern.search(value):
            out.append(FieldProblem(path, f"must match {pattern.pattern}", "pattern"))
        if fmt is not None and not valid_format(fmt, value):
            out.append(FieldProblem(path, format_msg, "format"))

    return [check]


def number_checks(schema: dict[str, Any]) -> list[Check]:
    bounds: list[tuple[str, float, Callable[[float, float], bool], str]] = [
        (key, schema[key], test, text)
        for key, test, text in (
            ("minimum", lambda v, b: v >= b, "must be ≥"),
            ("maximum", lambda v, b: v <= b, "must be ≤"),
            ("exclusiveMinimum", lambda v, b: v > b, "must be >"),
            ("exclusiveMaximum", lambda v, b: v < b, "must be <"),
        )
        if key in schema
    ]
    step = schema.get("multipleOf")
    if not bounds and step is None:
        return []

    def check(value: Any, path: str, out: list[FieldProblem]) -> None:
        if not is_json_type(value, "number"):
            return
        for _, bound, test, text in bounds:
            if not test(value, bound):
                out.append(FieldProblem(path, f"{text} {bound}", "out_of_range"))
        if step is not None:
            quotient = value / step
            if not math.isfinite(quotient) or abs(quotient - round(quotient)) > 1e-9:
                out.append(FieldProblem(path, f"must be a multiple of {step}", "multiple_of"))

    return [check]


def alternatives(keyword: str, options: list[Check]) -> Check:
    def check(value: Any, path: str, out: list[FieldProblem]) -> None:
        matching = sum(passes(option, value, path) for option in options)
        if matching == 0:
            out.append(FieldProblem(path, "matches none of the allowed forms", keyword))
        elif keyword == "oneOf" and matching > 1:
            out.append(FieldProblem(path, "matches more than one of the allowed forms", keyword))

    return check

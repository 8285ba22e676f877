"""JSON values as JSON Schema sees them: the types, equality and formats that intake's form
validation and the catalogue's load-time checks of the values bundles hand their steps share."""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from typing import Any

_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def is_json_type(value: Any, name: str) -> bool:
    """JSON's view of Python values: booleans are not numbers, 1.0 is an integer."""
    if name == "object":
        return isinstance(value, dict)
    if name == "array":
        return isinstance(value, list)
    if name == "string":
        return isinstance(value, str)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "null":
        return value is None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return name == "number" or isinstance(value, int) or (math.isfinite(value) and value.is_integer())


def json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON means it (``True`` is not ``1``)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def valid_format(fmt: str, value: str) -> bool:
    if fmt == "date":
        if not _DATE.match(value):
            return False
        try:
            date.fromisoformat(value)
        except ValueError:
            return False
        return True
    if fmt == "date-time":
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return False
        return "T" in value.upper() and parsed.tzinfo is not None
    if fmt == "email":
        return bool(_EMAIL.match(value))
    return True  # other formats are annotations (draft 2020-12 default)

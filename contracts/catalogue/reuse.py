"""Which forms take back what a procedure's result carries.

A paper issued by one procedure is the input of another: a licence number on its renewal, a land
certificate's on a building permit, a death extract's on the funeral allowance. A result field is
taken back by every form property of the same name, wherever it sits in the form. What an official
states on a result must fit each of them, or the citizen holds a paper no form accepts.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .formschema import FormValidator
from .procedure import Procedure
from .schema_check import dereferenced

#: Nested deeper than this, a form is not walked further (a schema that refers to itself).
_MAX_DEPTH = 16


@dataclass(frozen=True)
class Taker:
    """A form property that takes back a result field: whose form, and its compiled schema."""

    procedure_code: str
    validator: FormValidator


def takers(procedures: Mapping[str, Procedure]) -> dict[str, tuple[Taker, ...]]:
    """For every result field of these procedures, the form properties of the same name."""
    names = {name for p in procedures.values() for name in p.result.data_fields}
    found: dict[str, list[Taker]] = {name: [] for name in names}
    for procedure in procedures.values():
        root = procedure.form_schema
        for name, schema in _properties(root, root, 0):
            if name in found:
                # The property's schema alone, its references still resolved against the form's own.
                alone = {"$defs": root.get("$defs", {}), **schema}
                found[name].append(Taker(procedure.code, FormValidator(alone)))
    return {name: tuple(each) for name, each in found.items() if each}


def _properties(root: dict[str, Any], node: Any, depth: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every (name, dereferenced schema) of a property in ``node``, however deep."""
    node = dereferenced(root, node)
    if not isinstance(node, dict) or depth > _MAX_DEPTH:
        return
    for name, sub in (node.get("properties") or {}).items():
        schema = dereferenced(root, sub)
        if isinstance(schema, dict):
            yield name, schema
        yield from _properties(root, sub, depth + 1)
    for key in ("items", "then", "else"):
        if key in node:
            yield from _properties(root, node[key], depth + 1)
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in node.get(key) or []:
            yield from _properties(root, sub, depth + 1)

"""Which forms take back what a procedure's result carries.

A paper issued by one procedure is the input of another: a licence number on its renewal, a land
certificate's on a building permit, a death extract's on the funeral allowance. The catalogue lists
each place (``ResultSpec.taken_back_by``; a bundle step that takes a field from an earlier step's
result must be among them). What an official states on a result must fit each, or the citizen holds
a paper no form accepts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .formschema import FormValidator
from .procedure import Procedure
from .schema_check import subschema


@dataclass(frozen=True)
class Taker:
    """A form property that takes back a result field: whose form, and its compiled schema."""

    procedure_code: str
    validator: FormValidator


def takers(procedures: Mapping[str, Procedure]) -> dict[str, dict[str, tuple[Taker, ...]]]:
    """Per procedure code, per result field, the form properties that take it back (loading the
    catalogue checked that each exists; a procedure left out of ``procedures`` takes nothing back)."""
    found: dict[str, dict[str, tuple[Taker, ...]]] = {}
    for procedure in procedures.values():
        for name, code, keys in procedure.result.takers():
            if code not in procedures:
                continue
            root = procedures[code].form_schema
            schema = subschema(root, keys) or {}
            # The property's schema alone, its references still resolved against the form's own.
            taker = Taker(code, FormValidator({"$defs": root.get("$defs", {}), **schema}))
            fields = found.setdefault(procedure.code, {})
            fields[name] = (*fields.get(name, ()), taker)
    return found

"""Which forms take back what a procedure's result carries.

A paper issued by one procedure is the input of another: a birth certificate's number on the child's
permanent residence, a death extract's on the funeral allowance, a licence number on its renewal, a
land certificate's on a building permit. The bundles' inputs name the first kind (a step taking a
field of an earlier step's result); the catalogue lists the others (``ResultSpec.taken_back_by``).
What an official states on a result must fit each, or the citizen holds a paper no form accepts.
"""

from __future__ import annotations

from dataclasses import dataclass

from .formschema import FormValidator
from .loader import Catalogue
from .paths import target_keys
from .schema_check import subschema


@dataclass(frozen=True)
class Taker:
    """A form property that takes back a result field: whose form, and its compiled schema."""

    procedure_code: str
    validator: FormValidator


def takers(catalogue: Catalogue) -> dict[str, dict[str, tuple[Taker, ...]]]:
    """Per procedure code, per result field, the form properties that take it back (loading the
    catalogue checked that each exists; a procedure the catalogue lacks takes nothing back)."""
    places: dict[str, dict[str, list[tuple[str, tuple[str, ...]]]]] = {}

    def add(source: str, name: str, code: str, keys: tuple[str, ...]) -> None:
        listed = places.setdefault(source, {}).setdefault(name, [])
        if code in catalogue.procedures and (code, keys) not in listed:
            listed.append((code, keys))

    for procedure in catalogue.procedures.values():
        for name, code, keys in procedure.result.takers():
            add(procedure.code, name, code, keys)
    for bundle in catalogue.bundles.values():
        procedure_of = {step.step_id: step.procedure_code for step in bundle.steps}
        for step in bundle.steps:
            for target, ref in step.refs().items():
                if ref.source == "steps" and len(ref.keys) == 1 and ref.step_id in procedure_of:
                    add(procedure_of[ref.step_id], ref.keys[0], step.procedure_code, target_keys(target))
    return {
        source: {name: tuple(_taker(catalogue, code, keys) for code, keys in each) for name, each in fields.items()}
        for source, fields in places.items()
    }


def _taker(catalogue: Catalogue, code: str, keys: tuple[str, ...]) -> Taker:
    root = catalogue.procedures[code].form_schema
    schema = subschema(root, keys) or {}
    # The property's schema alone, its references still resolved against the form's own.
    return Taker(code, FormValidator({"$defs": root.get("$defs", {}), **schema}))

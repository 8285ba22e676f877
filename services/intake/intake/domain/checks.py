"""Checks a JSON Schema cannot express: identification numbers against the person's data, and dates
of facts that cannot lie in the future.

They read well-formed values only (a malformed one already has its schema problem), work on any
form by field names shared across the catalogue, and return problems rather than stop at the first.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from contracts import citizen_id
from intake.domain.problems import FieldProblem, child_path

#: Form keys whose person has a known sex whatever else the form says.
ROLE_SEX = {"mother": "female", "father": "male", "female_party": "female", "male_party": "male"}
#: Keys holding the person's own identification number inside a person object.
OWN_ID_KEYS = ("id_number", "personal_id_number")
#: A form value under a key with a name like these records a fact that has happened.
FACT_DATE_PREFIX, FACT_DATE_SUFFIX = "date_", "_date"


def id_number_problems(value: Any, path: str, today: date) -> list[FieldProblem]:
    """The problem with a 12-digit number that is not a possible identification number: one that does
    not parse, or encodes a birth year after ``today``'s (nobody living holds it)."""
    if not isinstance(value, str) or len(value) != 12 or not value.isascii() or not value.isdigit():
        return []  # the form schema (or the request model) reports the shape
    try:
        parts = citizen_id.parse(value)
    except citizen_id.InvalidCitizenId as exc:
        return [FieldProblem(path, f"not a valid identification number: {exc.reason}", "citizen_id")]
    if parts.birth_year > today.year:
        return [FieldProblem(path, f"encodes birth year {parts.birth_year}, which is in the future", "citizen_id")]
    return []


def _date(value: Any) -> date | None:
    if not isinstance(value, str) or len(value) != 10:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


#: Deeper than any form of the catalogue; a hostile body nested further is left to the schema's verdict.
MAX_DEPTH = 16


def _objects(node: Any, path: str, key: str = "", depth: int = 0) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Every object in the form with its path and the key it sits under."""
    if depth > MAX_DEPTH:
        return
    if isinstance(node, dict):
        yield key, path, node
        for name, value in node.items():
            yield from _objects(value, child_path(path, name), name, depth + 1)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _objects(value, child_path(path, i), key, depth + 1)


def form_problems(form: dict[str, Any], path: str, today: date) -> list[FieldProblem]:
    """Every inconsistency between identification numbers, sexes and dates in ``form``."""
    problems: list[FieldProblem] = []
    for key, at, obj in _objects(form, path):
        for name, value in obj.items():
            if name.endswith("id_number"):
                problems.extend(id_number_problems(value, child_path(at, name), today))
            elif name.startswith(FACT_DATE_PREFIX) or name.endswith(FACT_DATE_SUFFIX):
                day = _date(value)
                if day is not None and day > today:
                    problems.append(FieldProblem(child_path(at, name), f"{day} is in the future", "future_date"))
        problems.extend(_person_problems(key, at, obj))
    problems.extend(_parents_born_before_child(form, path))
    return problems


def _own_id(obj: dict[str, Any]) -> tuple[str, citizen_id.CitizenIdParts] | None:
    for name in OWN_ID_KEYS:
        value = obj.get(name)
        if isinstance(value, str) and citizen_id.is_valid(value):
            return name, citizen_id.parse(value)
    return None


def _person_problems(key: str, path: str, person: dict[str, Any]) -> list[FieldProblem]:
    found = _own_id(person)
    if found is None:
        return []
    id_key, parts = found
    id_path = child_path(path, id_key)
    problems = []
    born = _date(person.get("date_of_birth"))
    sex = person.get("sex") if person.get("sex") in ("male", "female") else ROLE_SEX.get(key)
    for mismatch in citizen_id.check_consistency(
        person[id_key], sex=sex, birth_year=born.year if born else None
    ):
        problems.append(FieldProblem(id_path, f"contradicts the data: {mismatch}", "citizen_id_mismatch"))
    died = _date(person.get("date_of_death"))
    if died is not None and died.year < parts.birth_year:
        problems.append(
            FieldProblem(
                child_path(path, "date_of_death"),
                f"is before the birth year {parts.birth_year} that {id_key} encodes",
                "date_order",
            )
        )
    if died is not None and born is not None and died < born:
        problems.append(FieldProblem(child_path(path, "date_of_death"), "is before the date of birth", "date_order"))
    return problems


def _parents_born_before_child(form: dict[str, Any], path: str) -> list[FieldProblem]:
    child = form.get("child")
    born = _date(child.get("date_of_birth")) if isinstance(child, dict) else None
    if born is None:
        return []
    problems = []
    for role in ("mother", "father"):
        parent = form.get(role)
        found = _own_id(parent) if isinstance(parent, dict) else None
        if found is not None and found[1].birth_year >= born.year:
            problems.append(
                FieldProblem(
                    child_path(child_path(path, role), found[0]),
                    f"encodes birth year {found[1].birth_year}, not before the child's ({born.year})",
                    "citizen_id_mismatch",
                )
            )
    return problems

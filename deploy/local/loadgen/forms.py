"""Valid forms for any procedure or bundle of the catalogue, built from its JSON Schema.

The schema gives the shape (types, required keys, enums, lengths, patterns); the property names
give the meaning, so values are plausible and consistent: an object holding an ``id_number`` and
a ``full_name`` is a person, whose number agrees with their sex and birth year; a ``mother`` is a
woman, a ``male_party`` a man, a ``deceased`` someone who died recently; dates lie in the past.
A schema this module cannot fill raises :class:`UnfillableSchema`, so a new catalogue procedure
with an unfamiliar field fails the unit test that builds every form instead of sending garbage.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from contracts.citizen_id import Sex
from loadgen.people import People, Person

TWELVE_DIGITS = "^[0-9]{12}$"
TEN_DIGITS = "^[0-9]{10}$"  # a social-insurance number
AGENCY_CODE = "^[A-Z][A-Z0-9]*(-[A-Z0-9]+)*$"
FEMALE_ROLES = frozenset({"mother", "female_party", "wife"})
MALE_ROLES = frozenset({"father", "male_party", "husband"})
OPTIONAL_KEPT = 0.6
PARENT_AGES = (19, 45)  # parents of a newborn and people marrying
ADULT_AGES = (18, 80)  # share of optional properties filled in

# Free-text fields by name: what a citizen would type.
TEXTS: Mapping[str, Sequence[str]] = {
    "declarant_relation": ("con", "vợ", "chồng", "cháu", "anh", "chị"),
    "relation_to_head": ("con", "vợ", "chồng", "cháu"),
    "purpose": ("Bổ sung hồ sơ xin việc", "Xuất khẩu lao động", "Du học", "Kết hôn với người nước ngoài"),
    "land_use_purpose": ("Đất ở tại nông thôn", "Đất ở tại đô thị", "Đất trồng cây lâu năm"),
    "line_of_business": ("Bán lẻ tạp hóa", "Dịch vụ ăn uống", "Sửa chữa xe máy", "May mặc"),
    "initial_care_facility": ("Trạm y tế xã Yên Hòa", "Bệnh viện đa khoa tỉnh Bình An", "Trung tâm y tế huyện Hòa Mỹ"),
    "place_of_birth": ("Bệnh viện đa khoa tỉnh Bình An", "Trung tâm y tế huyện Hòa Mỹ", "Trạm y tế xã An Phú"),
    "place_of_death": ("Tại nhà riêng", "Bệnh viện đa khoa tỉnh Bình An", "Trung tâm y tế huyện Hòa Mỹ"),
}  # fmt: skip
#: Optional fields only a newborn has: the number of the birth certificate just issued, which tells
#: registry-sync to record the child in the population database first (a 66-year-old with one was
#: refused there: someone else holds that number under another birth date).
NEWBORNS_ONLY = frozenset({"birth_certificate_number"})
# Names of organisations, by the object they name; a serial keeps them unique (they can be subjects).
ORGANISATIONS = {"business": "Hộ kinh doanh", "enterprise": "Doanh nghiệp tư nhân"}


class UnfillableSchema(ValueError):
    """The schema has a field this generator does not know how to fill validly."""


class FormBuilder:
    """Fills JSON Schemas (the subset the catalogue uses) with valid, plausible values."""

    def __init__(self, people: People, communes: Sequence[str], rng: random.Random) -> None:
        self.people = people
        self.communes = list(communes)
        self.rng = rng

    def build(
        self, schema: Mapping[str, Any], *, required_only: bool = False, fixed: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """A form valid against ``schema`` (a JSON Schema whose root is an object), with the top-level
        values in ``fixed`` chosen by the caller (the conditions of the schema then follow them)."""
        defs = schema.get("$defs", {})
        root = self._resolve(schema, defs)
        if root.get("type") != "object":
            raise UnfillableSchema("the form's root must be an object")
        return self._object(root, ("form",), defs, required_only, fixed)

    def _resolve(self, node: Mapping[str, Any], defs: Mapping[str, Any]) -> Mapping[str, Any]:
        while "$ref" in node:
            ref = node["$ref"]
            if not ref.startswith("#/$defs/"):
                raise UnfillableSchema(f"only local $defs references are supported, not {ref!r}")
            node = {**defs[ref.removeprefix("#/$defs/")], **{k: v for k, v in node.items() if k != "$ref"}}
        return node

    def _value(
        self,
        node: Mapping[str, Any],
        path: tuple[str, ...],
        defs: Mapping[str, Any],
        person: Person | None,
        required_only: bool,
    ) -> Any:
        node = self._resolve(node, defs)
        key = path[-1]
        if "enum" in node:
            if key == "sex" and person is not None:
                return person.sex.value
            return self.rng.choice(node["enum"])
        kind = node.get("type")
        if kind == "object":
            return self._object(node, path, defs, required_only)
        if kind == "array":
            count = max(1, node.get("minItems", 0))
            return [self._value(node["items"], path, defs, person, required_only) for _ in range(count)]
        if kind == "integer":
            return self._integer(node, key)
        if kind == "number":
            low = node.get("exclusiveMinimum", node.get("minimum", 0))
            return round(low + self.rng.uniform(40, 400), 1)
        if kind == "boolean":
            return self.rng.random() < 0.5
        if kind == "string":
            return self._string(node, path, person)
        raise UnfillableSchema(f"{'.'.join(path)}: unsupported schema {dict(node)!r}")

    def _object(
        self,
        node: Mapping[str, Any],
        path: tuple[str, ...],
        defs: Mapping[str, Any],
        required_only: bool,
        fixed: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        properties: Mapping[str, Any] = node.get("properties", {})
        required = set(node.get("required", ()))
        person = self._person_for(path[-1], properties)
        filled: dict[str, Any] = {}
        for name, sub in properties.items():
            if name not in required and (required_only or self.rng.random() >= OPTIONAL_KEPT):
                continue
            if name in NEWBORNS_ONLY and name not in required and not _newborn(person):
                continue  # a birth certificate number not yet in the population database: a newborn's
            filled[name] = self._value(sub, (*path, name), defs, person, required_only)
        filled.update(fixed or {})
        for branch in self._branches(node, filled, path):
            self._require(branch, node, filled, path, defs, person)
        return filled

    @classmethod
    def _branches(cls, node: Mapping[str, Any], filled: Mapping[str, Any], path: tuple[str, ...]) -> list[Any]:
        """What the object's conditions require of the values it got, as ``then``-like schemas:
        ``dependentRequired``, and the ``then`` (or ``else``) of each ``allOf`` clause whose ``if``
        tests values by ``const``."""
        branches: list[Any] = [
            {"required": needs} for name, needs in node.get("dependentRequired", {}).items() if name in filled
        ]
        for clause in node.get("allOf", ()):
            if "if" not in clause:
                raise UnfillableSchema(f"{'.'.join(path)}: only if/then/else clauses are supported in allOf")
            branch = clause.get("then") if cls._holds(clause["if"], filled, path) else clause.get("else")
            if branch:
                branches.append(branch)
        return branches

    @staticmethod
    def _holds(condition: Mapping[str, Any], filled: Mapping[str, Any], path: tuple[str, ...]) -> bool:
        if set(condition) - {"properties", "required"}:
            raise UnfillableSchema(f"{'.'.join(path)}: unsupported condition {dict(condition)!r}")
        if any(name not in filled for name in condition.get("required", ())):
            return False
        for name, test in condition.get("properties", {}).items():
            if set(test) != {"const"}:
                raise UnfillableSchema(f"{'.'.join(path)}.{name}: conditions may only test a const")
            if name in filled and filled[name] != test["const"]:
                return False
        return True

    def _require(
        self,
        branch: Mapping[str, Any],
        node: Mapping[str, Any],
        filled: dict[str, Any],
        path: tuple[str, ...],
        defs: Mapping[str, Any],
        person: Person | None,
    ) -> None:
        """What a ``then`` requires, into an object built from ``node`` (nested objects included)."""
        properties: Mapping[str, Any] = node.get("properties", {})
        for name in branch.get("required", ()):
            if name not in filled:
                filled[name] = self._value(properties[name], (*path, name), defs, person, required_only=True)
        for name, sub in branch.get("properties", {}).items():
            if isinstance(filled.get(name), dict):
                inner = self._resolve(properties[name], defs)
                # The person an inner object describes is already in it: a new one would not match it.
                self._require(sub, inner, filled[name], (*path, name), defs, None)

    def _person_for(self, role: str, properties: Mapping[str, Any]) -> Person | None:
        """The person an object describes, if it describes one (it has a name and a number or a sex)."""
        if "full_name" not in properties:
            return None
        if role == "deceased":
            return self.people.deceased()
        if role == "child":
            return self.people.newborn()
        sex = Sex.FEMALE if role in FEMALE_ROLES else Sex.MALE if role in MALE_ROLES else None
        return self.people.person(sex=sex, ages=PARENT_AGES if sex else ADULT_AGES)

    def _integer(self, node: Mapping[str, Any], key: str) -> int:
        low = int(node.get("minimum", 0))
        if key.endswith("_vnd"):
            return self.rng.randrange(50, 5000) * 1_000_000
        if key.endswith("_number"):  # e.g. a land parcel number: part of a subject, so unique
            return low + int(self.people.serial())
        high = int(node.get("maximum", low + 500))
        return self.rng.randint(low, high)

    def _string(self, node: Mapping[str, Any], path: tuple[str, ...], person: Person | None) -> str:
        key = path[-1]
        fmt, pattern = node.get("format"), node.get("pattern")
        if fmt == "date":
            return self._date(key, person).isoformat()
        if fmt is not None:
            raise UnfillableSchema(f"{key}: unsupported string format {fmt!r}")
        if pattern == TWELVE_DIGITS:
            if person is not None and key in ("id_number", "personal_id_number") and person.id_number:
                return person.id_number
            return self.people.person().id_number if key.endswith("id_number") else self.people.serial(12)
        if pattern == TEN_DIGITS:
            return self.people.serial(10)
        if pattern == AGENCY_CODE and key == "commune_code":
            return self.rng.choice(self.communes)
        if pattern is not None:
            raise UnfillableSchema(f"{key}: no generator for pattern {pattern!r}")
        return self._text(node, path, person)

    def _date(self, key: str, person: Person | None) -> date:
        if person is not None and key == "date_of_birth":
            return person.date_of_birth
        if person is not None and key == "date_of_death" and person.date_of_death:
            return person.date_of_death
        if key == "date_of_birth":
            return self.people.person().date_of_birth
        return self.people.recent_date(180)

    def _text(self, node: Mapping[str, Any], path: tuple[str, ...], person: Person | None) -> str:
        key, parent = path[-1], path[-2] if len(path) > 1 else ""
        if key == "full_name":
            return person.full_name if person else self.people.full_name(self.rng.choice(list(Sex)))
        if key.endswith("address"):
            text = self.people.address()
        elif key in TEXTS:
            text = self.rng.choice(TEXTS[key])
        elif key == "name" and parent in ORGANISATIONS:
            text = f"{ORGANISATIONS[parent]} {self.people.full_name(Sex.MALE).split(' ', 1)[1]} {self.people.serial()}"
        elif key == "business_lines":
            text = self.rng.choice(TEXTS["line_of_business"])
        elif key.endswith("_number"):
            text = f"{self.rng.randint(1, 999)}/{self.people.serial()}"
        else:
            text = f"{key.replace('_', ' ').capitalize()} {self.people.serial()}"
        low, high = int(node.get("minLength", 0)), int(node.get("maxLength", 1000))
        text = text[:high]
        if len(text) < low:
            raise UnfillableSchema(f"{key}: generated text shorter than minLength {low}")
        return text


def _newborn(person: Person | None) -> bool:
    return person is not None and (date.today() - person.date_of_birth).days < 366

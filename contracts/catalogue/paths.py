"""The two path notations the catalogue data uses, parsed in one place.

* **Data references** in bundle definitions: ``form.residence.address`` (the bundle's submitted
  form) and ``steps.birth_registration.result.personal_id_number`` (what an earlier step's result
  carried, i.e. ``ResultIssued.data`` / ``RegistryCommandSucceeded.result``). Dotted, because they
  read like the data they name and never need escaping (form keys are identifiers).
* **JSON pointers** (RFC 6901) in procedures: ``/child/full_name``, the notation JSON Schema
  tooling and 422 error paths already use.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_SEGMENT = r"[A-Za-z_][A-Za-z0-9_]*"
FORM_REF = re.compile(rf"^form(\.{_SEGMENT})+$")
STEP_REF = re.compile(rf"^steps\.(?P<step>{_SEGMENT})\.result(\.{_SEGMENT})+$")
TARGET = re.compile(rf"^{_SEGMENT}(\.{_SEGMENT})*$")
DATA_REF_PATTERN = rf"^(form(\.{_SEGMENT})+|steps\.{_SEGMENT}\.result(\.{_SEGMENT})+)$"
POINTER_PATTERN = r"^(/[^/]+)+$"


class _Missing:
    """Sentinel: the path leads nowhere in the data (distinct from a JSON null value)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


@dataclass(frozen=True)
class DataRef:
    """A parsed data reference: where the value comes from and the key path inside it."""

    source: str  # "form" or "steps"
    step_id: str | None
    keys: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> DataRef:
        if FORM_REF.match(text):
            return cls("form", None, tuple(text.split(".")[1:]))
        match = STEP_REF.match(text)
        if match:
            return cls("steps", match["step"], tuple(text.split(".")[3:]))
        raise ValueError(
            f"{text!r} is not a data reference: expected 'form.<key>[.<key>…]' or "
            "'steps.<step id>.result.<key>[.<key>…]'"
        )


def target_keys(text: str) -> tuple[str, ...]:
    """Keys of a dotted input target (``person.id_number`` → ``("person", "id_number")``)."""
    if not TARGET.match(text):
        raise ValueError(f"{text!r} is not a dotted key path like 'person.id_number'")
    return tuple(text.split("."))


def pointer_keys(pointer: str) -> tuple[str, ...]:
    """Keys of an RFC 6901 JSON pointer; ``""`` is the whole document."""
    if pointer == "":
        return ()
    if not pointer.startswith("/"):
        raise ValueError(f"{pointer!r} is not a JSON pointer: it must start with '/'")
    return tuple(part.replace("~1", "/").replace("~0", "~") for part in pointer[1:].split("/"))


def lookup(data: Any, keys: tuple[str, ...]) -> Any:
    """The value at ``keys`` inside nested mappings, or :data:`MISSING`."""
    node = data
    for key in keys:
        if not isinstance(node, Mapping) or key not in node:
            return MISSING
        node = node[key]
    return node


def assign(target: dict[str, Any], keys: tuple[str, ...], value: Any) -> None:
    """Set ``value`` at ``keys``, creating the intermediate objects."""
    node = target
    for key in keys[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ValueError(f"input {'.'.join(keys)!r} nests inside {key!r}, which another input set to a value")
        node = child
    node[keys[-1]] = value

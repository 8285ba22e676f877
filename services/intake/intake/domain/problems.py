"""Field-level problems with a submission, each naming the JSON path of the value at fault."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One bad value: where (``$.form.child.date_of_birth``), what is wrong, and a stable type code."""

    path: str
    msg: str
    type: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "msg": self.msg, "type": self.type}


class InvalidInput(Exception):
    """The request cannot be accepted as it is; ``problems`` lists every bad field."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__("; ".join(f"{p.path}: {p.msg}" for p in problems))
        self.problems = problems


def child_path(path: str, key: str | int) -> str:
    """``$.form`` + ``child`` → ``$.form.child``; integers index arrays: ``$.documents[0]``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    if key.isidentifier():
        return f"{path}.{key}"
    return f"{path}[{key!r}]"

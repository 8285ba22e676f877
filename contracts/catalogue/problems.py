"""Field-level problems with a form or a request, each naming the JSON path of the value at fault."""

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


def child_path(path: str, key: str | int) -> str:
    """``$.form`` + ``child`` → ``$.form.child``; integers index arrays: ``$.documents[0]``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    if key.isidentifier():
        return f"{path}.{key}"
    return f"{path}[{key!r}]"

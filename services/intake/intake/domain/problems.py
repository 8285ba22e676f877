"""Field-level problems with a submission, each naming the JSON path of the value at fault."""

from __future__ import annotations

import ast
import re

from contracts.catalogue.problems import FieldProblem, child_path

__all__ = ["FieldProblem", "InvalidInput", "child_path", "path_loc"]


class InvalidInput(Exception):
    """The request cannot be accepted as it is; ``problems`` lists every bad field."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        problems = list(dict.fromkeys(problems))  # one field feeding two bundle steps is named once
        more = f"; and {len(problems) - 10} more" if len(problems) > 10 else ""
        super().__init__("; ".join(f"{p.path}: {p.msg}" for p in problems[:10]) + more)
        self.problems = problems


#: One step of a path as :func:`child_path` writes it: ``.name``, ``[0]`` or ``['any key']``.
_STEP = re.compile(r"""\.([^.\[]+)|\[([0-9]+)\]|\[('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\]""")


def path_loc(path: str) -> list[str | int]:
    """``$.documents[0].kind`` → ``["documents", 0, "kind"]``, the location FastAPI's own 422s give:
    the inverse of :func:`child_path`, keys with dots or brackets in them included. A path it did not
    write ends with its unparsed rest as one step, rather than failing the answer that names it."""
    steps: list[str | int] = []
    rest = path.removeprefix("$")
    while rest:
        match = _STEP.match(rest)
        if match is None:
            steps.append(rest)
            break
        name, index, quoted = match.groups()
        steps.append(name if name is not None else int(index) if index is not None else ast.literal_eval(quoted))
        rest = rest[match.end() :]
    return steps

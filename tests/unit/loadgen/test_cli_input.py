"""Bad input to the load generator and the local stack is one line naming it, before anything starts:
it was a traceback, or a run that failed at its end."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from devstack import __main__ as devstack_main
from devstack import stack as devstack_stack
from loadgen import cli as loadgen_cli
from loadgen.argtypes import writable_dir
from loadgen.cli import main as loadgen_main

#: A run that would be valid: every check of the test happens before it could start.
VALID = ["--population", "none", "--kafka", "none", "--count", "1", "--duration", "1", "--quiet"]


@pytest.fixture(autouse=True)
def no_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """A test that got as far as the run would send load: it fails instead."""

    def run(*_: Any) -> None:
        raise AssertionError("the run started")

    monkeypatch.setattr(loadgen_cli, "run", run)


def one_error_line(err: str) -> str:
    """The line that explains the refusal (argparse puts its usage before it); no traceback."""
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("args", "named"),
    [(["--rate", "0"], "--rate"), (["--rate", "-2"], "--rate"), (["--rate", "nan"], "--rate"),
     (["--rate", "inf"], "--rate"), (["--duration", "nan"], "--duration"), (["--duration", "inf"], "--duration"),
     (["--drain", "inf"], "--drain"), (["--drain", "nan"], "--drain"), (["--drain", "-1"], "--drain"),
     (["--json", "/nonexistent/dir/r.json"], "--json")],
)  # fmt: skip
def test_loadgen_refuses_bad_numbers_and_an_unwritable_report_before_the_run(
    args: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as refused:
        loadgen_main([*VALID, *args])
    assert refused.value.code == 2
    assert one_error_line(capsys.readouterr().err).startswith(f"loadgen: error: argument {named}: ")


@pytest.mark.parametrize(("variable", "value"), [("INTAKE_PORT", "70000"), ("BROKER_PORT", "abc"),
                                                 ("REGISTRY_SIM_PORT", "0")])  # fmt: skip
def test_loadgen_names_a_port_variable_that_is_no_port(
    variable: str, value: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(variable, value)
    assert loadgen_main(["--count", "1", "--duration", "1", "--quiet"]) == 2
    assert one_error_line(capsys.readouterr().err) == f"loadgen: {variable}={value!r} is not a port number (1-65535)"


def test_the_results_directory_is_checked_without_being_made(tmp_path: Path) -> None:
    assert writable_dir(str(tmp_path / "new" / "results")) == tmp_path / "new" / "results"
    assert not (tmp_path / "new").exists()
    (tmp_path / "file").write_text("")
    with pytest.raises(argparse.ArgumentTypeError, match="is not a directory"):
        writable_dir(str(tmp_path / "file" / "results"))


class NoServer:
    """Stands in for the embedded servers: a test that got this far would have started one."""

    def __init__(self, *_: Any, **__: Any) -> None:
        raise AssertionError("a server was started")


@pytest.fixture
def stack_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The embedded servers, whatever the shell says: their port variables are read."""
    for key in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(devstack_stack, "EmbeddedPostgres", NoServer)
    monkeypatch.setattr(devstack_stack, "TansuBroker", NoServer)


@pytest.mark.usefixtures("stack_env")
@pytest.mark.parametrize(("variable", "value"), [("POSTGRES_PORT", "abc"), ("INTAKE_PORT", "70000")])
def test_devstack_names_a_port_variable_that_is_no_port(
    variable: str, value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(variable, value)
    assert devstack_main.main(["run", "--run-dir", str(tmp_path)]) == 2
    assert one_error_line(capsys.readouterr().err) == f"devstack: {variable}={value!r} is not a port number (1-65535)"


@pytest.mark.usefixtures("stack_env")
@pytest.mark.parametrize(
    ("step", "failure"),
    [("start_infrastructure", RuntimeError("postgres exited with 1; see postgres.log")),
     ("wait_ready", TimeoutError("not ready after 90 s: ['workflow']"))],
)  # fmt: skip
def test_devstack_says_in_one_line_where_the_logs_of_a_failed_start_are(
    step: str, failure: Exception, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fail(*_: Any, **__: Any) -> None:
        raise failure

    for name in ("start_infrastructure", "start_services", "wait_ready"):
        monkeypatch.setattr(devstack_stack.LocalStack, name, fail if name == step else lambda *_, **__: None)
    assert devstack_main.main(["run", "--run-dir", str(tmp_path)]) == 1
    line = one_error_line(capsys.readouterr().err)
    assert line.startswith(f"devstack: did not start: {failure} (logs: {tmp_path.resolve() / 'logs'}")

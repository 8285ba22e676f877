"""The bench's stack is its own, on loopback, whatever the developer's shell points at."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

import pytest

from bench import stack as bench_stack
from bench.stack import BenchStack


class _RecordingStack:
    """Stands in for the launcher: records the environment the services would be started with."""

    seen: ClassVar[dict[str, str]] = {}

    def __init__(self, run_dir: Path, **_: Any) -> None:
        self.run_dir = run_dir

    def start_infrastructure(self) -> None:
        _RecordingStack.seen = dict(os.environ)

    def start_services(self) -> None: ...

    def specs(self) -> list[Any]:
        return []

    def stop(self, **_: Any) -> None: ...


def test_the_services_see_no_server_registry_or_identity_provider_of_the_shell(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Only DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS were dropped: a service-prefixed database URL
    (which takes priority) took 60,000 synthetic dossiers to an external server, a registry's base URL
    sent registry calls out, and AUTH_JWKS made every official's token fail."""
    elsewhere = {
        "DATABASE_URL": "postgresql+asyncpg://u@db.example.invalid/d",
        "INTAKE_DATABASE_URL": "postgresql+asyncpg://u@db.example.invalid/d",
        "WORKFLOW_KAFKA_BOOTSTRAP_SERVERS": "kafka.example.invalid:9092",
        "REGISTRY_SYNC_PORTAL__BASE_URL": "https://portal.example.invalid/api",
        "AUTH_JWKS": "https://sso.example.invalid/jwks",
    }
    for key, value in elsewhere.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("LANG", "C.UTF-8")
    monkeypatch.setattr(bench_stack, "LocalStack", _RecordingStack)
    monkeypatch.setattr(bench_stack.tempfile, "mkdtemp", lambda prefix: str(tmp_path))
    stack = BenchStack()
    stack.start(timeout=0.1)
    try:
        seen = _RecordingStack.seen
        assert not set(elsewhere) & set(seen)
        assert seen["LANG"] == "C.UTF-8"  # the rest of the shell stays
        assert seen["REGISTRY_SYNC_REGISTRIES_URL"].startswith("http://127.0.0.1:")
    finally:
        stack.stop()
    assert {key: os.environ.get(key) for key in elsewhere} == elsewhere  # given back after the run

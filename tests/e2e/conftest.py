"""The whole stack as real processes (the same launcher as `make run`), once per session."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from devstack.identity import DevIdentity
from devstack.processes import free_port
from devstack.stack import SERVICES, SIMULATOR, LocalStack
from tests.e2e.api import Officials, StackApi
from tests.e2e.flows import FlowRun, run_all, started_at


@dataclass(frozen=True)
class RunningStack:
    urls: dict[str, str]
    log_dir: Path
    database_url: str
    bootstrap_servers: str
    local: LocalStack | None = None  # the processes, when this session started them

    def url(self, service: str) -> str:
        return self.urls[service]

    @property
    def officials(self) -> Officials:
        """Officials' credentials for this stack's workflow (none needed without an identity provider)."""
        identity = self.local.identity_dir if self.local else None
        if identity is None and os.environ.get("E2E_IDENTITY_DIR"):  # a stack started otherwise (compose-test.sh)
            identity = Path(os.environ["E2E_IDENTITY_DIR"])
        return Officials(DevIdentity(identity) if identity else None)


@pytest.fixture(scope="session")
def stack() -> Iterator[RunningStack]:
    """Every process of the stack on free ports; stopped at the end of the session.

    With E2E_<SERVICE>_URL set for every process (`make test-compose`), the tests use that
    running stack instead of starting one.
    """
    external = {
        s.name: os.environ.get(f"E2E_{s.name.upper().replace('-', '_')}_URL", "") for s in [*SERVICES, SIMULATOR]
    }
    if all(external.values()):
        yield RunningStack(
            urls=external,
            log_dir=Path(tempfile.mkdtemp(prefix="dossier-e2e-")),
            database_url=os.environ.get("DATABASE_URL", ""),
            bootstrap_servers=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", ""),
        )
        return
    with local_stack() as running:
        yield running


@contextmanager
def local_stack(settings: dict[str, str] | None = None, *, durable: bool = False) -> Iterator[RunningStack]:
    """A fresh stack of processes on free ports (the embedded servers unless DATABASE_URL /
    KAFKA_BOOTSTRAP_SERVERS name others), with these extra settings in its environment; stopped on exit.

    The embedded PostgreSQL commits without waiting for its disk unless ``durable``: faster, and safe
    as long as the server is not crashed on purpose (a crash loses the last commits it acknowledged)."""
    overrides = {f"{spec.env_prefix}PORT": str(free_port()) for spec in [*SERVICES, SIMULATOR]} | (settings or {})
    if not os.environ.get("DATABASE_URL"):
        overrides["POSTGRES_PORT"] = str(free_port())
    if not os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        overrides["BROKER_PORT"] = str(free_port())
    local = LocalStack(Path(tempfile.mkdtemp(prefix="dossier-e2e-")), durable=durable)
    try:
        # The launcher reads its ports from the environment; the rest of the session must not see them
        # (settings tests run after this fixture started and expect the defaults).
        with _environment(overrides):
            local.start_infrastructure()
            local.start_services()
            local.wait_ready(timeout=90)
        yield RunningStack(
            urls=dict(local.urls),
            log_dir=local.log_dir,
            database_url=local.database_url,
            bootstrap_servers=local.bootstrap_servers,
            local=local,
        )
    finally:
        local.stop(discard_data=True)


@contextmanager
def _environment(overrides: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in overrides}
    os.environ.update(overrides)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="session")
async def api(stack: RunningStack) -> AsyncIterator[StackApi]:
    """The stack's public HTTP APIs through one pooled client (loopback only)."""
    async with httpx.AsyncClient(timeout=10.0, trust_env=False) as http:
        yield StackApi(stack.urls, http, stack.officials)


@pytest.fixture(scope="session")
async def flows(api: StackApi) -> FlowRun:
    """Every story of the suite, run once, all at the same time."""
    since = started_at()
    return FlowRun(since, await run_all(api))

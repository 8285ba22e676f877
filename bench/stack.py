"""The stack under test: the same launcher as ``make run`` (LocalStack), on free ports, fresh data."""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from devstack.processes import free_port
from devstack.stack import SERVICES, SIMULATOR, LocalStack


def pointing_elsewhere(key: str) -> bool:
    """Whether an environment variable can point a service of the stack at another server: a
    database or broker (the service-prefixed ones take priority), a registry's or the portal's URL,
    the officials' identity provider."""
    return key.endswith(("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "_URL")) or key.startswith("AUTH_")


@dataclass
class BenchStack:
    durable: bool = True
    postgres_settings: dict[str, str] = field(default_factory=dict)
    local: LocalStack | None = None
    ready: dict[str, float] = field(default_factory=dict)  # service → seconds to ready
    failed: dict[str, str] = field(default_factory=dict)  # service → why (the end of its log)
    _saved_env: dict[str, str | None] = field(default_factory=dict)

    def start(self, timeout: float = 90.0) -> None:
        """Everything the launcher starts; a service that crashes or never gets ready is recorded
        in ``failed`` and the benchmark carries on with the phases that do not need it."""
        overrides = {f"{spec.env_prefix}PORT": str(free_port()) for spec in [*SERVICES, SIMULATOR]}
        overrides |= {"POSTGRES_PORT": str(free_port()), "BROKER_PORT": str(free_port())}
        # The launcher does not (yet) point registry-sync at a simulator on another port than 8009.
        overrides["REGISTRY_SYNC_REGISTRIES_URL"] = f"http://127.0.0.1:{overrides['REGISTRY_SIM_PORT']}"
        # A fresh stack on loopback: not the external servers, registries, portal or identity provider
        # the developer's shell may point `make run` and `make test` at.
        external = [key for key in os.environ if pointing_elsewhere(key) and key not in overrides]
        self._saved_env = {key: os.environ.get(key) for key in (*overrides, *external)}
        os.environ.update(overrides)
        for key in external:
            os.environ.pop(key, None)
        self.local = LocalStack(
            Path(tempfile.mkdtemp(prefix="dossier-bench-")),
            fresh=True,
            durable=self.durable,
            postgres_settings=self.postgres_settings,
        )
        self.local.start_infrastructure()
        self.local.start_services()
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        assert self.local is not None
        started = time.monotonic()
        pending = {spec.name: spec for spec in self.local.specs()}
        with httpx.Client(timeout=2.0, trust_env=False) as client:
            while pending and time.monotonic() - started < timeout:
                for name, spec in list(pending.items()):
                    if self.local.processes[name].poll() is not None:
                        self.failed[name] = "exited: " + self.log_tail(name)
                        del pending[name]
                        continue
                    try:
                        if client.get(f"{spec.url}/readyz").status_code == 200:
                            self.ready[name] = round(time.monotonic() - started, 1)
                            del pending[name]
                    except httpx.HTTPError:
                        pass
                time.sleep(0.2)
        for name in pending:
            self.failed[name] = f"not ready after {timeout:g} s: " + self.log_tail(name)

    def log_tail(self, name: str, lines: int = 3) -> str:
        assert self.local is not None
        path = self.local.log_dir / f"{name}.log"
        try:
            return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])[-600:]
        except OSError:
            return "(no log)"

    def url(self, name: str) -> str:
        return next(spec.url for spec in [*SERVICES, SIMULATOR] if spec.name == name)

    def pids(self) -> dict[str, list[int]]:
        """Process groups to watch: each service, the simulator, PostgreSQL and the broker."""
        assert self.local is not None
        groups = {name: [p.pid] for name, p in self.local.processes.items() if p.poll() is None}
        if self.local.postgres and self.local.postgres.process:
            groups["postgres"] = [self.local.postgres.process.pid]
        if self.local.broker and self.local.broker.process:
            groups["broker"] = [self.local.broker.process.pid]
        return groups

    @property
    def postgres_port(self) -> int:
        assert self.local is not None and self.local.postgres is not None
        return self.local.postgres.port

    def stop(self) -> None:
        if self.local is not None:
            self.local.stop(discard_data=True)
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

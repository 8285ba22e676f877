"""Start and stop the whole local stack: infrastructure first, services after, in reverse on stop."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from contracts.topics import DEFAULT_PARTITIONS, Topics
from devstack.broker import TansuBroker
from devstack.identity import DevIdentity
from devstack.postgres import EmbeddedPostgres
from devstack.processes import PortInUse, ensure_port_free, env_port, spawn, stop, wait_for_port
from eventkit.kafka import ensure_topics

DATABASE = "dossiers"


@dataclass(frozen=True)
class ServiceSpec:
    """A process of the stack: its name, Python module, environment prefix and default port."""

    name: str
    module: str
    env_prefix: str
    default_port: int

    @property
    def port(self) -> int:
        return self.port_in(os.environ)

    @property
    def url(self) -> str:
        return self.url_in(os.environ)

    def port_in(self, env: Mapping[str, str]) -> int:
        """The port this process listens on when started with ``env``."""
        return env_port(f"{self.env_prefix}PORT", self.default_port, env)

    def url_in(self, env: Mapping[str, str]) -> str:
        return f"http://127.0.0.1:{self.port_in(env)}"


SIMULATOR = ServiceSpec("registry-simulator", "registry_sim", "REGISTRY_SIM_", 8009)
SERVICES = [
    ServiceSpec("intake", "intake", "INTAKE_", 8001),
    ServiceSpec("workflow", "workflow", "WORKFLOW_", 8002),
    ServiceSpec("registry-sync", "registry_sync", "REGISTRY_SYNC_", 8003),
    ServiceSpec("reporting", "reporting", "REPORTING_", 8004),
]


def _refuse_if_serving(data_dir: Path) -> None:
    """A fresh start wipes ``data_dir``: never while a PostgreSQL still serves from it (another
    launcher on the same run directory, on another port)."""
    try:
        pid = int((data_dir / "postmaster.pid").read_text().split()[0])
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError, IndexError):
        return  # no pid file, or no such process any more (a stale file): nothing serves from it
    if b"postgres" not in command:
        return  # the pid went to another program since
    raise PortInUse(f"a PostgreSQL (pid {pid}) still serves from {data_dir}: stop it before a fresh start")


@dataclass
class LocalStack:
    """The stack under ``run_dir`` (logs, database files). External servers are used instead of
    the embedded ones when ``DATABASE_URL`` / ``KAFKA_BOOTSTRAP_SERVERS`` are set."""

    run_dir: Path
    fresh: bool = True
    durable: bool = True
    postgres_settings: dict[str, str] = field(default_factory=dict)  # extra settings of the embedded server
    postgres: EmbeddedPostgres | None = None
    broker: TansuBroker | None = None
    database_url: str = ""
    bootstrap_servers: str = ""
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)  # each process's base URL, as started
    _env: dict[str, str] = field(default_factory=dict, repr=False)
    _identity: DevIdentity | None = field(default=None, repr=False)

    @property
    def log_dir(self) -> Path:
        return self.run_dir / "logs"

    def start_infrastructure(self, *, services_follow: bool = True) -> None:
        """PostgreSQL and the broker (embedded unless given), then the topics. ``services_follow``:
        the services are started next (so their ports are checked now, before anything starts);
        false for `make infra`, whose services run by hand."""
        self._check_ports(services=services_follow)  # before anything starts or is wiped
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.database_url = os.environ.get("DATABASE_URL", "")
        if not self.database_url:
            data_dir = self.run_dir / "pgdata"
            port = env_port("POSTGRES_PORT", 5433)
            if self.fresh and data_dir.exists():
                _refuse_if_serving(data_dir)
                shutil.rmtree(data_dir)
            self.postgres = EmbeddedPostgres(data_dir, port, durable=self.durable, settings=self.postgres_settings)
            self.postgres.start()
            self.postgres.create_database(DATABASE)
            self.database_url = self.postgres.url(DATABASE)
        self.bootstrap_servers = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "")
        if not self.bootstrap_servers:
            self.broker = TansuBroker(env_port("BROKER_PORT", 9092), self.log_dir)
            self.broker.start()
            self.bootstrap_servers = self.broker.bootstrap_servers
        asyncio.run(
            ensure_topics(self.bootstrap_servers, Topics().all_with_dead_letters(), partitions=DEFAULT_PARTITIONS)
        )

    @property
    def identity_dir(self) -> Path | None:
        """The identity provider stand-in's directory, when the stack made one (no AUTH_JWKS given)."""
        return self.run_dir / "identity" if self._identity else None

    def service_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(DATABASE_URL=self.database_url, KAFKA_BOOTSTRAP_SERVERS=self.bootstrap_servers)
        if "AUTH_JWKS" not in os.environ:  # officials sign in with a local stand-in of the province's provider
            directory = self.run_dir / "identity"
            reuse = not self.fresh and (directory / "jwks.json").exists()  # tokens made before still verify
            self._identity = DevIdentity(directory) if reuse else DevIdentity.create(directory)
            env.update(self._identity.environment())
        env.setdefault("PYTHONUNBUFFERED", "1")
        # Everything the stack's processes call is on loopback: never through a proxy the shell names.
        bypass = ",".join(filter(None, [env.get("NO_PROXY", ""), env.get("no_proxy", ""), "127.0.0.1,localhost"]))
        env["NO_PROXY"] = env["no_proxy"] = bypass  # clients read either; both must keep the shell's own list
        # Registry-sync talks to the simulator wherever this stack put it.
        env.setdefault("REGISTRY_SYNC_REGISTRIES_URL", SIMULATOR.url)
        return env

    def specs(self) -> list[ServiceSpec]:
        """The simulator (once it exists in this checkout) and the four services."""
        simulator = [SIMULATOR] if importlib.util.find_spec(SIMULATOR.module) else []
        return simulator + SERVICES

    def _check_ports(self, *, services: bool) -> None:
        """Refuse to start while another server listens on a port of this stack: its readiness waits
        would take that server for its own (another stack's database, a Kafka of one's own). Every
        port variable is read (and refused with :class:`BadPort` if it is no port) before any is probed."""
        ports = []
        if not os.environ.get("DATABASE_URL"):
            ports.append((env_port("POSTGRES_PORT", 5433), "PostgreSQL"))
        if not os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
            ports.append((env_port("BROKER_PORT", 9092), "the broker"))
        ports += [(spec.port_in(os.environ), spec.name) for spec in (self.specs() if services else [])]
        for port, what in ports:
            ensure_port_free(port, what)

    def start_services(self) -> None:
        self._env = self.service_env()
        for spec in self.specs():
            self._spawn(spec)

    def _spawn(self, spec: ServiceSpec) -> None:
        log_file = self.log_dir / f"{spec.name}.log"
        self.processes[spec.name] = spawn([sys.executable, "-m", spec.module], log_file=log_file, env=self._env)
        self.urls[spec.name] = spec.url_in(self._env)

    def restart(self, *names: str, sig: int = signal.SIGTERM, timeout: float = 90.0) -> dict[str, float]:
        """Stop these processes with ``sig`` (SIGKILL: as a crash or an out-of-memory kill would, with
        no shutdown at all), start them again as before and wait until they are ready; returns the
        seconds each took."""
        specs = [s for s in self.specs() if s.name in names]
        for spec in specs:
            stop(self.processes[spec.name], sig=sig)
        for spec in specs:
            self._spawn(spec)
        return self.wait_ready(timeout, only=list(names))

    def wait_ready(self, timeout: float = 60.0, *, only: list[str] | None = None) -> dict[str, float]:
        """Poll every /readyz (or ``only`` those) until 200; returns seconds each took. Raises on
        timeout or crash."""
        started = time.monotonic()
        deadline = started + timeout
        pending = [spec.name for spec in self.specs() if only is None or spec.name in only]
        took: dict[str, float] = {}
        with httpx.Client(timeout=2.0, trust_env=False) as client:
            while pending:
                for name in list(pending):
                    process = self.processes[name]
                    if process.poll() is not None:
                        raise RuntimeError(f"{name} exited with {process.returncode}; see {self.log_dir / name}.log")
                    try:
                        if client.get(f"{self.urls[name]}/readyz").status_code == 200:
                            took[name] = time.monotonic() - started
                            pending.remove(name)
                    except httpx.HTTPError:
                        pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"not ready after {timeout} s: {sorted(pending)}")
                time.sleep(0.2)
        return took

    def start(self) -> None:
        self.start_infrastructure()
        self.start_services()
        for spec in self.specs():
            wait_for_port(spec.port, timeout=30, process=self.processes[spec.name])

    def crashed(self) -> list[str]:
        """The processes of the stack that have exited: services, and the embedded servers."""
        servers = {"postgres": self.postgres, "broker": self.broker}
        down = [
            name for name, server in servers.items() if server and server.process and server.process.poll() is not None
        ]
        return down + [name for name, p in self.processes.items() if p.poll() is not None]

    def stop(self, *, discard_data: bool = False) -> None:
        """Services first (they drain their outbox and consumers), then broker and database.

        ``discard_data``: then delete the database files too (a few hundred MB; a throwaway stack's,
        a test's or a benchmark's), keeping the logs."""
        for name in reversed(list(self.processes)):
            stop(self.processes.pop(name))
        if self.broker:
            self.broker.stop()
        if self.postgres:
            self.postgres.stop()
            if discard_data:
                shutil.rmtree(self.postgres.data_dir, ignore_errors=True)

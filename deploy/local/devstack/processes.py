"""Child processes that die with their parent and stop in a controlled order."""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def _die_with_parent(sig: int) -> None:
    # If the runner is killed outright, the kernel sends `sig` to the child: no orphans.
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, sig)


def spawn(
    args: Sequence[str],
    *,
    log_file: Path,
    env: dict[str, str] | None = None,
    user: str | None = None,
    death_signal: int = signal.SIGTERM,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``args`` in its own process group (so a terminal Ctrl-C reaches only the runner,
    which then stops children in order), with output appended to ``log_file``."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    out = open(log_file, "ab")
    try:
        return subprocess.Popen(
            list(args),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            user=user,
            cwd=cwd,
            process_group=0,
            preexec_fn=lambda: _die_with_parent(death_signal),
        )
    finally:
        out.close()


def stop(process: subprocess.Popen[bytes], *, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
    """Signal the process and wait; kill it if it outlives ``timeout``."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


def free_port() -> int:
    """A TCP port on loopback nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_port_free(port: int, what: str) -> None:
    """Refuse to start ``what`` on 127.0.0.1:``port`` while something else listens there: the
    readiness wait would take that other server for ours (another stack's database, a Kafka of
    one's own with old topics)."""
    with socket.socket() as s:
        s.settimeout(0.5)
        if s.connect_ex(("127.0.0.1", port)) == 0:
            raise PortInUse(
                f"127.0.0.1:{port}, where {what} would listen, is in use (another `make run` or `make infra`?);"
                f" stop that, or pick another port"
            )


class PortInUse(RuntimeError):
    """A port the stack would listen on is taken."""


class BadPort(ValueError):
    """A port variable that is not a port number."""


def env_port(name: str, default: int, env: Mapping[str, str] | None = None) -> int:
    """The port the variable ``name`` gives (``default`` when unset), checked: ``POSTGRES_PORT=abc``
    was a ValueError traceback and ``INTAKE_PORT=70000`` an OverflowError from deep in the socket
    check, neither naming the variable."""
    text = (os.environ if env is None else env).get(name)
    if text is None:
        return default
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise BadPort(f"{name}={text!r} is not a port number (1-65535)")
    return port


def wait_for_port(port: int, *, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    """Wait until something accepts connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process {process.args!r} exited with {process.returncode}")
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout} s")

"""`make run`'s launcher: every service ready within 60 s, officials' tokens from its identity provider
stand-in, and Ctrl-C leaves no process behind."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil
import pytest

from devstack.processes import free_port
from devstack.stack import SERVICES, SIMULATOR

pytestmark = pytest.mark.e2e


def test_the_launcher_starts_everything_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    env = dict(os.environ, POSTGRES_PORT=str(free_port()), BROKER_PORT=str(free_port()))
    env.pop("DATABASE_URL", None)
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    for spec in [*SERVICES, SIMULATOR]:
        env[f"{spec.env_prefix}PORT"] = str(free_port())
    launcher = subprocess.Popen(
        [sys.executable, "-m", "devstack", "run", "--run-dir", str(tmp_path)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    try:
        deadline = time.monotonic() + 90
        lines = _lines_of(launcher)
        while (left := deadline - time.monotonic()) > 0:  # a silent launcher cannot hold the read past it
            try:
                line = lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:  # the launcher's output ended
                break
            output.append(line)
            if "Ctrl-C stops everything" in line:
                break
        text = "".join(output)
        assert "all ready in" in text, text
        seconds = float(text.split("all ready in ")[1].split(" s")[0])
        assert seconds < 60, f"stack took {seconds} s to become ready"

        for spec in SERVICES:
            port = env[f"{spec.env_prefix}PORT"]
            assert f"http://127.0.0.1:{port}" in text
            ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
            assert ready.status_code == 200
            assert ready.json()["status"] == "ready"

        # Officials sign in with the stand-in identity provider the launcher made: the command it
        # prints gives a token workflow takes, and nothing gets in without one.
        assert "python -m devstack token --agency" in text, text
        token = subprocess.run(
            [sys.executable, "-m", "devstack", "token", "--run-dir", str(tmp_path), "--agency", "UBND-X-YENHOA"],
            capture_output=True, text=True, check=True, timeout=30,
        ).stdout.strip()  # fmt: skip
        tasks = f"http://127.0.0.1:{env['WORKFLOW_PORT']}/v1/tasks?agency=UBND-X-YENHOA"
        assert httpx.get(tasks, timeout=5).status_code == 401
        assert httpx.get(tasks, headers={"Authorization": f"Bearer {token}"}, timeout=5).status_code == 200

        # A second launcher on the same ports refuses to start: its readiness waits would have taken
        # this stack's servers for its own (and `make run` wiped the data directory under a live one).
        second = subprocess.run(
            [sys.executable, "-m", "devstack", "run", "--run-dir", str(tmp_path / "second")],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert second.returncode == 1, second.stdout + second.stderr
        assert f"127.0.0.1:{env['POSTGRES_PORT']}, where PostgreSQL would listen, is in use" in second.stderr
        assert "Traceback" not in second.stderr

        children = psutil.Process(launcher.pid).children(recursive=True)
        assert len(children) >= 6  # postgres, broker, four services (+ simulator, postgres workers)
        launcher.send_signal(signal.SIGINT)  # what a terminal's Ctrl-C sends to the foreground process
        assert launcher.wait(60) == 0
        _, alive = psutil.wait_procs(children, timeout=10)
        assert alive == [], f"left running: {[p.info for p in alive]}"
    finally:
        if launcher.poll() is None:
            launcher.kill()


def _lines_of(process: subprocess.Popen[str]) -> queue.Queue[str | None]:
    """The process's output lines as they come (None at its end), read by a thread of their own."""
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    return lines

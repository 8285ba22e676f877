"""``python -m devstack run``: the whole stack on this machine, until Ctrl-C.
``python -m devstack infra``: only PostgreSQL and the broker, to run services by hand."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from devstack.stack import LocalStack


def _wait_for_signal(stack: LocalStack | None) -> None:
    stopping = threading.Event()

    def handler(signum: int, _: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    while not stopping.wait(1.0):
        if stack and (dead := stack.crashed()):
            print(f"stopped unexpectedly: {', '.join(dead)} (see {stack.log_dir})", file=sys.stderr)
            return


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="devstack", description=__doc__)
    parser.add_argument("command", choices=["run", "infra"])
    parser.add_argument("--run-dir", type=Path, default=Path(".run"), help="logs and database files")
    parser.add_argument("--keep-data", action="store_true", help="reuse the database from the last run")
    args = parser.parse_args(argv)

    stack = LocalStack(args.run_dir.resolve(), fresh=not args.keep_data)
    started = time.monotonic()
    try:
        if args.command == "infra":
            stack.start_infrastructure()
            print(f"DATABASE_URL={stack.database_url}\nKAFKA_BOOTSTRAP_SERVERS={stack.bootstrap_servers}")
            print("Ctrl-C stops them.", flush=True)
            _wait_for_signal(None)
            return 0
        print("starting PostgreSQL and the broker …", flush=True)
        stack.start_infrastructure()
        print("starting services …", flush=True)
        stack.start_services()
        took = stack.wait_ready(timeout=90)
        print(f"\nall ready in {time.monotonic() - started:.1f} s  (logs: {stack.log_dir})")
        print(f"  {'postgres':20} {stack.database_url}")
        print(f"  {'broker':20} {stack.bootstrap_servers}")
        for spec in stack.specs():
            print(f"  {spec.name:20} {spec.url}   docs: {spec.url}/docs   ready after {took[spec.name]:.1f} s")
        print("\nCtrl-C stops everything.", flush=True)
        _wait_for_signal(stack)
        return 0
    except KeyboardInterrupt:
        return 130
    finally:
        print("stopping …", flush=True)
        stack.stop()
        print("stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())

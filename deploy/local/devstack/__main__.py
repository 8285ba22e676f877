"""``python -m devstack run``: the whole stack on this machine, until Ctrl-C.
``python -m devstack infra``: only PostgreSQL and the broker, to run services by hand.
``python -m devstack token --agency CODE``: an official's bearer token for the running stack's workflow.
``python -m devstack identity --run-dir DIR``: only a new identity provider stand-in (a key and its
JWKS) under DIR/identity, for a stack started otherwise (``deploy/compose-test.sh``)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from devstack.identity import DevIdentity
from devstack.processes import BadPort, PortInUse
from devstack.stack import LocalStack


def _wait_for_signal(stack: LocalStack) -> int:
    """Until Ctrl-C or SIGTERM (0), or until a process of the stack exits (1)."""
    stopping = threading.Event()

    def handler(signum: int, _: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    while not stopping.wait(1.0):
        if dead := stack.crashed():
            print(f"stopped unexpectedly: {', '.join(dead)} (see {stack.log_dir})", file=sys.stderr)
            return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="devstack", description=__doc__)
    parser.add_argument("command", choices=["run", "infra", "token", "identity"])
    parser.add_argument("--run-dir", type=Path, default=Path(".run"), help="logs and database files")
    parser.add_argument("--keep-data", action="store_true", help="reuse the database from the last run")
    parser.add_argument("--agency", action="append", default=[], help="token: an agency code the official acts for")
    parser.add_argument("--official", default="CB-001", help="token: the official's id")
    parser.add_argument("--role", action="append", default=[], help="token: a platform role (operator)")
    parser.add_argument("--audience", default="workflow", help="token: the service it is for (default workflow)")
    args = parser.parse_args(argv)
    if args.command == "token":
        return _print_token(args.run_dir, args.official, args.agency, args.role, args.audience)
    if args.command == "identity":
        print(DevIdentity.create(args.run_dir / "identity").jwks_path)
        return 0

    stack = LocalStack(args.run_dir.resolve(), fresh=not args.keep_data)
    started = time.monotonic()
    try:
        if args.command == "infra":
            stack.start_infrastructure(services_follow=False)
            print(f"DATABASE_URL={stack.database_url}\nKAFKA_BOOTSTRAP_SERVERS={stack.bootstrap_servers}")
            print("Ctrl-C stops them.", flush=True)
            return _wait_for_signal(stack)
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
        if stack.identity_dir:
            print(f"\nofficials sign in with tokens of a local identity provider ({stack.identity_dir}):")
            print("  python -m devstack token --agency UBND-X-YENHOA   (then Authorization: Bearer <token>)")
            print("  python -m devstack token --role operator --audience registry-sync   (operators' endpoints)")
        print("\nCtrl-C stops everything.", flush=True)
        return _wait_for_signal(stack)
    except KeyboardInterrupt:
        return 130
    except BadPort as bad:
        print(f"devstack: {bad}", file=sys.stderr)
        return 2
    except PortInUse as taken:
        print(f"devstack: {taken}", file=sys.stderr)
        return 1
    except (RuntimeError, TimeoutError) as failed:  # a server or service that exited or never got ready
        print(f"devstack: {_did_not_start(failed, stack)}", file=sys.stderr)
        return 1
    finally:
        print("stopping …", flush=True)
        stack.stop()
        print("stopped.", flush=True)


def _did_not_start(failed: Exception, stack: LocalStack) -> str:
    """One line for a start-up that failed, pointing to the logs: it was a traceback ending in
    "not ready after 90 s: ['workflow']", which named neither the cause nor where to find it."""
    return f"did not start: {failed} (logs: {stack.log_dir}, PostgreSQL's: {stack.run_dir / 'postgres.log'})"


def _print_token(run_dir: Path, official: str, agencies: list[str], roles: list[str], audience: str) -> int:
    if not agencies and not roles:
        print("devstack token: name an --agency the official acts for, or a --role", file=sys.stderr)
        return 2
    try:
        identity = DevIdentity(run_dir / "identity")
    except FileNotFoundError:
        print(f"devstack token: no identity provider in {run_dir}; start the stack first", file=sys.stderr)
        return 1
    print(identity.token(official, agencies, roles=roles, audience=audience))
    return 0


if __name__ == "__main__":
    sys.exit(main())

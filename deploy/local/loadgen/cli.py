"""``python -m loadgen``: drive a running stack (``make run``) with the realistic mix.

Examples::

    python -m loadgen --rate 50 --duration 60              # 50 submissions/s for a minute
    python -m loadgen --count 5000 --only standalone       # 5,000 standalone dossiers, flat out
    python -m loadgen --only birth --rate 20 --decision-delay 0.5 2
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import httpx
import orjson
import uvloop

from devstack.processes import BadPort, env_port
from loadgen.api import Targets
from loadgen.argtypes import non_negative_number, positive_number, writable_file
from loadgen.citizens import CitizenPolicy
from loadgen.officials import OfficialPolicy
from loadgen.population import PopulationRefused
from loadgen.report import as_dict, render
from loadgen.runner import LoadConfig, TrackingUnavailable, run
from loadgen.safety import NotLoopback, require_loopback

#: Where ``python -m devstack run`` (``make run``) puts its identity provider stand-in.
DEFAULT_IDENTITY = Path(".run/identity")


def _url(env: str, default_port: int) -> str:
    return f"http://127.0.0.1:{env_port(env, default_port)}"


def _port_defaults(args: argparse.Namespace) -> None:
    """The URLs not given on the command line, from the port variables of `make run`: read here, not
    as the parser's defaults, so that a bad variable (``INTAKE_PORT=70000``) is one line naming it,
    and neither ``--help`` nor a run naming its own URLs trips over it."""
    if args.intake is None:
        args.intake = _url("INTAKE_PORT", 8001)
    if args.workflow is None:
        args.workflow = _url("WORKFLOW_PORT", 8002)
    if args.kafka is None:
        args.kafka = f"127.0.0.1:{env_port('BROKER_PORT', 9092)}"
    if args.population is None:
        args.population = _url("REGISTRY_SIM_PORT", 8009)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="loadgen", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--intake", help="intake base URL (loopback only; default port INTAKE_PORT or 8001)")
    p.add_argument("--workflow", help="workflow base URL (loopback only; default port WORKFLOW_PORT or 8002)")
    p.add_argument("--identity", type=Path, default=DEFAULT_IDENTITY, metavar="DIR",
                   help="the local identity provider `make run` made, whose tokens officials call workflow with\n"
                        "(default .run/identity; 'none', or a missing directory: no token)")  # fmt: skip
    p.add_argument("--kafka", help="broker for end-to-end tracking (default port BROKER_PORT or 9092);\n"
                                   "'none' to go without")  # fmt: skip
    p.add_argument("--population",
                   help="registry simulator to seed with the people the submissions name, as a real population\n"
                        "database knows them (else their residence steps fail: no such citizen);\n"
                        "'none' against real registries (default port REGISTRY_SIM_PORT or 8009)")  # fmt: skip
    p.add_argument("--rate", type=positive_number, default=None,
                   help="submissions per second (default: as fast as possible)")  # fmt: skip
    p.add_argument("--duration", type=positive_number, default=60.0,
                   help="seconds of submitting, at most (default 60)")  # fmt: skip
    p.add_argument("--count", type=int, default=10_000, help="submissions, at most (default 10,000)")
    p.add_argument("--concurrency", type=int, default=32, help="submissions in flight, at most (default 32)")
    p.add_argument("--in-flight", type=int, default=None, metavar="N",
                   help="closed loop: at most N submitted items not ended yet (needs --kafka)")  # fmt: skip
    p.add_argument("--only", choices=["all", "standalone", "birth", "death"], default="all", help="restrict the mix")
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help="makes the run repeatable; default: a fresh one (subjects must not repeat against one stack)",
    )
    p.add_argument("--no-officials", action="store_true", help="nobody decides (submissions only)")
    p.add_argument("--decision-delay", type=non_negative_number, nargs=2, default=(0.0, 0.0), metavar=("MIN", "MAX"),
                   help="seconds an official takes per decision (uniform)")  # fmt: skip
    p.add_argument("--supplement-rate", type=float, default=0.05,
                   help="share of dossiers sent back for a supplement (default %(default)s)")  # fmt: skip
    p.add_argument("--payment-request-rate", type=float, default=0.05,
                   help="share of fee-charging dossiers whose fee an official asks for\n"
                        "(refused if already paid; default %(default)s)")  # fmt: skip
    p.add_argument("--reject-rate", type=float, default=0.01,
                   help="chance that an official who takes a dossier up rejects it\n"
                        "(refused at reception, stopped in processing; default %(default)s)")  # fmt: skip
    p.add_argument("--no-returns", action="store_true",
                   help="results are not handed over at the counter (dossiers end as processed)")  # fmt: skip
    p.add_argument("--supplement-delay", type=non_negative_number, nargs=2, default=(0.0, 0.0), metavar=("MIN", "MAX"),
                   help="seconds a citizen takes to supply documents")  # fmt: skip
    p.add_argument("--no-citizens", action="store_true", help="no payments, supplements or ratings")
    p.add_argument("--drain", type=non_negative_number, default=30.0,
                   help="seconds to wait for completions at the end")  # fmt: skip
    p.add_argument("--client", choices=["wire", "httpx"], default="wire", help="HTTP client for submissions")
    p.add_argument("--json", metavar="FILE", type=writable_file,
                   help="also write the report as JSON (its directory is checked before the run)")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress line")
    return p


def config_from(args: argparse.Namespace) -> LoadConfig:
    _port_defaults(args)
    if args.count < 1 or args.duration <= 0 or args.concurrency < 1:
        raise SystemExit("--count, --duration and --concurrency must be positive: every run is bounded")
    rates = (args.supplement_rate, args.payment_request_rate, args.reject_rate)
    if not all(0 <= rate <= 1 for rate in rates):
        raise SystemExit("--supplement-rate, --payment-request-rate and --reject-rate are shares between 0 and 1")
    if args.in_flight is not None and (args.in_flight < 1 or args.kafka == "none"):
        raise SystemExit("--in-flight must be positive and needs --kafka: the loop waits for items to end")
    if args.population != "none":
        require_loopback(args.population)
    if args.kafka != "none":  # before anything is seeded or sent, not once the run has begun
        require_loopback(f"http://{args.kafka}")
    return LoadConfig(
        targets=Targets(intake=args.intake, workflow=args.workflow, identity=_identity(args.identity)),
        kafka=None if args.kafka == "none" else args.kafka,
        rate=args.rate, duration=args.duration, count=args.count, concurrency=args.concurrency,
        seed=args.seed if args.seed is not None else random.randrange(2**31), only=args.only,
        officials=None if args.no_officials else OfficialPolicy(
            tuple(args.decision_delay), args.supplement_rate, args.payment_request_rate, args.reject_rate,
            returns=not args.no_returns),
        citizens=None if args.no_citizens else CitizenPolicy(tuple(args.supplement_delay)),
        drain=args.drain, client=args.client, progress=not args.quiet, in_flight=args.in_flight,
        population=None if args.population == "none" else args.population,
    )  # fmt: skip


def _identity(directory: Path) -> Path | None:
    if str(directory) == "none" or not (directory / "jwks.json").exists():
        return None
    return directory


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        config = config_from(args)
    except (NotLoopback, BadPort) as exc:
        print(f"loadgen: {exc}", file=sys.stderr)
        return 2
    try:
        result = uvloop.run(run(config))
    except (httpx.TransportError, PopulationRefused) as exc:
        print(f"loadgen: cannot seed the population at {config.population}: {exc!r} (--population none?)",
              file=sys.stderr)  # fmt: skip
        return 2
    except TrackingUnavailable as exc:
        print(f"loadgen: {exc}", file=sys.stderr)
        return 2
    print(render(result))
    if args.json:
        with open(args.json, "wb") as out:
            out.write(orjson.dumps(as_dict(result), option=orjson.OPT_INDENT_2))
    return 0 if result.submitted_ok else 1


if __name__ == "__main__":
    sys.exit(main())

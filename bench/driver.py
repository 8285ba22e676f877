"""``python -m bench.driver``: what one statement costs the calling process, by the way it is sent.

The stack's statements go through SQLAlchemy's async engine over asyncpg, a few through asyncpg
directly (intake's submissions). On the 2-core VM the services' profiles show much of their CPU
in that path, so this measures it alone: an embedded PostgreSQL of its own (started here, on a free
loopback port, removed afterwards), one connection, one transaction, ``--count`` executions of one
small statement each way, and the CPU seconds this process used per execution (user + system:
the server's CPU is not counted, so the figures compare the client side only). Each way runs
twice, alternately, and the lower figure of the two is kept.
"""

from __future__ import annotations

import argparse
import resource
import time
from collections.abc import Awaitable, Callable
from typing import Any

import uvloop
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from bench.own_postgres import own_postgres

#: A statement shaped like the stack's small ones: one parameter, one row back.
_NAMED = "SELECT pg_advisory_xact_lock(hashtextextended('dossier:' || :d, 0))"
_POSITIONAL = "SELECT pg_advisory_xact_lock(hashtextextended('dossier:' || $1, 0))"
_CONSTANT = text(_NAMED)

#: One execution: the SQLAlchemy connection, the asyncpg connection under it, a number for the parameter.
Way = Callable[[AsyncConnection, Any, int], Awaitable[None]]


async def _text_each_call(conn: AsyncConnection, raw: Any, n: int) -> None:
    await conn.execute(text(_NAMED), {"d": f"d{n}"})


async def _text_constant(conn: AsyncConnection, raw: Any, n: int) -> None:
    await conn.execute(_CONSTANT, {"d": f"d{n}"})


async def _driver_sql(conn: AsyncConnection, raw: Any, n: int) -> None:
    await conn.exec_driver_sql(_POSITIONAL, (f"d{n}",))


async def _raw_asyncpg(conn: AsyncConnection, raw: Any, n: int) -> None:
    await raw.fetchval(_POSITIONAL, f"d{n}")


WAYS: dict[str, Way] = {
    "SQLAlchemy text() built per call": _text_each_call,
    "SQLAlchemy text() built once": _text_constant,
    "SQLAlchemy exec_driver_sql": _driver_sql,
    "asyncpg directly": _raw_asyncpg,
}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure(url: str, count: int) -> dict[str, tuple[float, float]]:
    """CPU and wall microseconds per statement, each way (the better of two rounds)."""
    engine = create_async_engine(url)
    best: dict[str, tuple[float, float]] = {}
    try:
        async with engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            for way in WAYS.values():  # warm up: prepared statements, caches
                await way(conn, raw, 0)
            await conn.rollback()
            for _ in range(2):
                for name, way in WAYS.items():
                    cpu, wall = _cpu(), time.perf_counter()
                    for n in range(count):
                        await way(conn, raw, n)
                    cpu, wall = _cpu() - cpu, time.perf_counter() - wall
                    await conn.rollback()  # one transaction per way and round: the locks go
                    figures = (1e6 * cpu / count, 1e6 * wall / count)
                    best[name] = min(best.get(name, figures), figures)
    finally:
        await engine.dispose()
    return best


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.driver", description=__doc__)
    p.add_argument("--count", type=int, default=5000, help="statements per way and round (default 5,000)")
    args = p.parse_args(argv)
    if not 100 <= args.count <= 50_000:
        p.error("--count in [100, 50,000]: every run is bounded")
    with own_postgres("bench-driver-") as postgres:
        figures = uvloop.run(measure(postgres.url(), args.count))
    floor = figures["asyncpg directly"][0]
    print(f"{args.count:,} statements per way, one connection and transaction; this process's CPU per statement:\n")
    print(f"{'CPU µs':>8}  {'wall µs':>8}  {'÷ asyncpg':>9}  way")
    for name, (cpu, wall) in figures.items():
        print(f"{cpu:8.1f}  {wall:8.1f}  {cpu / floor:8.2f}×  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

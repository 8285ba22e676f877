"""Reading the live read models: the aggregates of the metrics API, the recent-event list and the
numbers Prometheus exposes. Every read is a short transaction that takes the shared side of the
swap lock, then its query."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from reporting.adapters import metrics_sql as q
from reporting.adapters.pg_store import SWAP_LOCK_SHARED
from reporting.service_layer.ports import Scope

_READING = SWAP_LOCK_SHARED + ", set_config('plan_cache_mode', 'force_custom_plan', true)"

RESOLUTION_BUCKETS = (0.5, 1, 2, 3, 5, 7, 10, 15, 20, 30, 60)
E2E_BUCKETS = (0.5, 1, 2, 3, 5, 7, 10)


def _buckets(column: str, bounds: tuple[float, ...]) -> str:
    """Cumulative bucket counts named b0, b1, … (Prometheus histograms are cumulative)."""
    return ", ".join(f"count(*) FILTER (WHERE {column} <= {b}) AS b{i}" for i, b in enumerate(bounds))


_PROMETHEUS_DOSSIERS = f"""
SELECT coalesce(channel, 'unknown') AS channel, coalesce(status, 'unknown') AS status,
  coalesce(outcome, CASE WHEN ended_at IS NULL THEN 'unresolved' ELSE 'not_judged' END) AS outcome,
  coalesce(field, 'unknown') AS field,
  count(*) AS n, coalesce(sum(resolution_days), 0) AS days_sum, count(resolution_days) AS days_n,
  {_buckets("resolution_days", RESOLUTION_BUCKETS)}
FROM rm_dossiers WHERE events > 0 GROUP BY 1, 2, 3, 4
"""
_PROMETHEUS_BUNDLES = f"""
SELECT coalesce(bundle_type, 'unknown') AS bundle_type, coalesce(outcome, 'in_progress') AS outcome,
  count(*) AS n, coalesce(sum(e2e_net_days), 0) AS days_sum, count(e2e_net_days) AS days_n,
  {_buckets("e2e_net_days", E2E_BUCKETS)}
FROM {q.BUNDLES_NET} b WHERE events > 0 GROUP BY 1, 2
"""
_PROMETHEUS_PORTAL = """
SELECT coalesce(sum(portal_syncs), 0) AS syncs, coalesce(sum(portal_sync_failures), 0) AS failures,
  coalesce(sum(portal_lag_sum), 0) AS lag_sum, coalesce(max(portal_lag_max), 0) AS lag_max
FROM rm_dossiers
"""
_EVENTS = """
SELECT e.event_id, e.type, e.producer, e.occurred_at, e.dossier_id, e.bundle_id,
  coalesce(e.code, d.code) AS code, coalesce(e.agency, d.agency, b.receiving_agency) AS agency, d.status,
  d.procedure_code, d.field, coalesce(d.receiving_agency, b.receiving_agency) AS receiving_agency, d.competent_agency
FROM rm_event_log e LEFT JOIN rm_dossiers d ON d.dossier_id = e.dossier_id
  -- A bundle's own events (started, completed) name no dossier: their agency is the bundle's counter.
  LEFT JOIN rm_bundles b ON b.bundle_id = e.bundle_id AND e.dossier_id IS NULL
WHERE (CAST(:types AS text[]) IS NULL OR e.type = ANY(CAST(:types AS text[])))
  AND (CAST(:dossier AS text) IS NULL
       OR e.dossier_id = CAST(:dossier AS text) OR e.bundle_id = CAST(:dossier AS text)
       OR e.dossier_id = (SELECT c.dossier_id FROM rm_dossiers c WHERE c.code = CAST(:dossier AS text) LIMIT 1))
  AND (CAST(:agency AS text) IS NULL
       OR CAST(:agency AS text) IN (e.agency, d.agency, d.receiving_agency, d.competent_agency, b.receiving_agency))
"""
_RECENT = _EVENTS + "ORDER BY e.occurred_at DESC, e.event_id DESC LIMIT :limit"
#: Events projected after a given one (a reconnecting stream's Last-Event-ID), in projection order.
_AFTER = (
    _EVENTS
    + """  AND (e.projected_at, e.event_id) > (SELECT projected_at, event_id FROM rm_event_log WHERE event_id = :after)
ORDER BY e.projected_at, e.event_id LIMIT :limit"""
)


class SqlReadModel:
    """Queries on the service's read-model tables."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[AsyncConnection]:
        """A transaction that holds the shared swap lock before it touches a table. Without it a
        query could hold one read-model table while a rebuild's swap, holding another, waited for
        it: PostgreSQL broke the deadlock by failing the query (a 500 under an API fuzzer).

        Its statements are planned for their parameters every time. Prepared statements otherwise
        switch to one generic plan after five runs, and a plan made without knowing the period read
        every year kept instead of the period's dossiers by index (on a million dossiers, a quarter's
        summary took 212-238 ms instead of 100, a year's 1.0 s instead of 0.53)."""
        async with self._engine.connect() as conn:
            await conn.execute(text(_READING))
            yield conn

    async def summary(self, scope: Scope) -> dict[str, Any]:
        async with self._reading() as conn:
            return await q.fetch_one(conn, q.SUMMARY, scope.params())

    async def overdue_by_field(self, scope: Scope) -> list[dict[str, Any]]:
        async with self._reading() as conn:
            return await q.fetch_all(conn, q.BY_FIELD, scope.params())

    async def bundles(self, scope: Scope) -> list[dict[str, Any]]:
        async with self._reading() as conn:
            return await q.fetch_all(conn, q.BUNDLES, scope.params())

    async def trend(self, scope: Scope, unit: str, limit: int) -> list[dict[str, Any]]:
        async with self._reading() as conn:
            return await q.fetch_all(conn, q.TREND, {**scope.params(), "unit": unit, "limit": limit})

    async def losses(self, scope: Scope, unit_costs: dict[str, float], limit: int) -> list[dict[str, Any]]:
        keys = [k for k, cost in unit_costs.items() if cost > 0]
        params = {**scope.params(), "limit": limit, **{f"c_{k}": unit_costs[k] for k in keys}}
        async with self._reading() as conn:
            return await q.fetch_all(conn, q.losses_sql(keys), params)

    async def recent_events(
        self, types: list[str] | None, dossier: str | None, agency: str | None, limit: int
    ) -> list[dict[str, Any]]:
        params = {"types": types, "dossier": dossier, "agency": agency, "limit": limit}
        async with self._reading() as conn:
            return await q.fetch_all(conn, _RECENT, params)

    async def events_after(
        self, after: UUID, types: list[str] | None, dossier: str | None, agency: str | None, limit: int
    ) -> list[dict[str, Any]]:
        params = {"after": after, "types": types, "dossier": dossier, "agency": agency, "limit": limit}
        async with self._reading() as conn:
            return await q.fetch_all(conn, _AFTER, params)

    async def prometheus_snapshot(self) -> dict[str, Any]:
        async with self._reading() as conn:
            dossiers = [dict(r) for r in (await conn.execute(text(_PROMETHEUS_DOSSIERS))).mappings()]
            bundles = [dict(r) for r in (await conn.execute(text(_PROMETHEUS_BUNDLES))).mappings()]
            portal = dict((await conn.execute(text(_PROMETHEUS_PORTAL))).mappings().one())
        return {"dossiers": dossiers, "bundles": bundles, "portal": portal}

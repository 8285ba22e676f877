"""The metrics API's answers: the summary, the 766 index, the dossiers that cost points, the trend.

Counts come from the read model; rates, points and shapes are computed here. Rates and averages
are rounded to 6 decimals so that a rebuilt table (rows in another physical order, so floating-point
sums in another order) reports the same numbers as the live one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from reporting.adapters.catalogue_info import CatalogueInfo
from reporting.domain.index import GroupScore, IndexConfig, Measure, score_index
from reporting.domain.periods import Period, recent_buckets_start
from reporting.service_layer.ports import ReadModel, Scope
from reporting.service_layer.summary import ratio, rounded, summary_body


@dataclass(frozen=True)
class ReportQuery:
    period: Period
    agency: str | None = None
    field: str | None = None
    procedure: str | None = None


class Reports:
    """Builds every metrics answer from the read model, the catalogue and the index configuration."""

    def __init__(
        self, read_model: ReadModel, catalogue: CatalogueInfo, config: IndexConfig, include_subordinates: bool = True
    ) -> None:
        self.read_model = read_model
        self.catalogue = catalogue
        self.config = config
        self._include_subordinates = include_subordinates

    def scope(self, query: ReportQuery) -> Scope:
        agencies = None
        if query.agency:
            agencies = self.catalogue.agency_scope(query.agency) if self._include_subordinates else [query.agency]
        return Scope(
            query.period.start,
            query.period.end,
            agencies,
            query.field,
            query.procedure,
            self.config.satisfied_min_score,
            self.config.dislike_max_score,
            # a one-stop centre decides no procedure: the dossiers it received
            by_receiving=agencies is not None and self.catalogue.receives_only(agencies),
            first_bundle_steps=list(self.catalogue.first_bundle_steps) or None,
        )

    def _header(self, query: ReportQuery, scope: Scope) -> dict[str, Any]:
        return {
            "period": {
                "label": query.period.label,
                "from": query.period.start.isoformat() if query.period.start else None,
                "to": query.period.end.isoformat() if query.period.end else None,
            },
            "filters": {
                "agency": query.agency,
                "agencies": scope.agencies,
                "field": query.field,
                "procedure": query.procedure,
            },
        }

    async def summary(self, query: ReportQuery) -> dict[str, Any]:
        scope = self.scope(query)
        c = await self.read_model.summary(scope)
        by_field = await self.read_model.overdue_by_field(scope)
        bundles = await self.read_model.bundles(scope)
        return {**self._header(query, scope), **summary_body(c, by_field, bundles)}

    def procedures_of(self, scope: Scope) -> list[str]:
        """The procedures a report covers. A centre decides none: the procedures it can receive are
        every one (of the field, the procedure)."""
        agencies = None if scope.by_receiving else scope.agencies
        return self.catalogue.procedures_in(agencies, scope.field, scope.procedure)

    async def measures(self, scope: Scope) -> tuple[dict[str, Measure], dict[str, Any]]:
        c = await self.read_model.summary(scope)
        return measures_from(c, self.catalogue, self.procedures_of(scope)), c

    async def index(self, query: ReportQuery) -> dict[str, Any]:
        scope = self.scope(query)
        measures, counts = await self.measures(scope)
        groups = score_index(self.config, measures)
        levels = self.catalogue.online_level_counts(self.procedures_of(scope))
        return {**self._header(query, scope), **index_body(self.config, groups, counts, self.catalogue, levels)}

    async def losses(self, query: ReportQuery, limit: int) -> dict[str, Any]:
        """The dossiers whose failures cost the most points of the index, with what each costs."""
        scope = self.scope(query)
        measures, _ = await self.measures(scope)
        groups = score_index(self.config, measures)
        costs: dict[str, float] = {}
        for group in groups:
            for ind in group.indicators:
                costs[ind.key] = costs.get(ind.key, 0.0) + ind.unit_cost
        dossier_costs = {k: v for k, v in costs.items() if k in _DOSSIER_BASED and v > 0}
        rows = await self.read_model.losses(scope, dossier_costs, limit)
        items = []
        for row in rows:
            reasons = [
                {"indicator": k, "units": row[f"s_{k}"], "points": round(row[f"s_{k}"] * cost, 6)}
                for k, cost in dossier_costs.items()
                if row.get(f"s_{k}")
            ]
            items.append(
                {
                    **{k: row[k] for k in ("dossier_id", "code", "procedure_code", "field", "agency", "status")},
                    "outcome": row["outcome"],
                    "end_kind": row["end_kind"],
                    "points_lost": round(row["cost"], 6),
                    "reasons": reasons,
                }
            )
        return {**self._header(query, scope), "unit_costs": dossier_costs, "dossiers": items}

    async def trend(self, query: ReportQuery, unit: str, limit: int) -> dict[str, Any]:
        """The ``limit`` most recent buckets of the period; without a start, the ``limit`` buckets up to
        its end (or now)."""
        scope = self.scope(query)
        if scope.start is None:
            scope = replace(scope, start=recent_buckets_start(scope.end, unit, limit, datetime.now(UTC)))
        rows = await self.read_model.trend(scope, unit, limit)
        points = [
            {
                "bucket": row["bucket"].date().isoformat(),
                "received": row["received"],
                "online_rate": ratio(row["online"], row["received"]),
                "resolved": row["resolved"],
                "overdue": row["overdue"],
                "on_time_rate": ratio(row["on_time"], row["resolved"]),
            }
            for row in reversed(rows)
        ]
        return {**self._header(query, scope), "interval": unit, "points": points}


_DOSSIER_BASED = frozenset(
    {
        "on_time", "satisfaction", "portal_sync", "online_submission", "dossiers_paid_online", "electronic_results",
        "digitised_with_e_result", "data_reuse", "national_document_store", "population_data",
    }
)  # fmt: skip


def measures_from(c: dict[str, Any], catalogue: CatalogueInfo, codes: list[str] | None = None) -> dict[str, Measure]:
    """Every sub-indicator's numerator and denominator from the summary counts and the catalogue (its
    procedures ``codes``: those the report covers; all, for none)."""
    resolved, on_time = c["resolved"], c["early"] + c["on_time"]
    return {
        "procedures_published": Measure(0, 0, "configuration"),
        "portal_sync": Measure(c["synced"], c["received"], "events"),
        "on_time": Measure(on_time, resolved, "events"),
        "procedures_online": catalogue.procedures_online(codes),
        "online_submission": Measure(c["online"], c["received"], "events"),
        "procedures_fee_online": catalogue.procedures_fee_online(codes),
        "procedures_with_online_payment": Measure(c["fee_procedures_paid_online"], c["fee_procedures_used"], "events"),
        "dossiers_paid_online": Measure(c["paid_online"], c["with_obligation"], "events"),
        "satisfaction": Measure(max(resolved - c["overdue"] - c["complaints"], 0), resolved, "events"),
        "electronic_results": Measure(c["e_results"], c["processed"], "events"),
        "digitised_with_e_result": Measure(c["digitised_e_results"], c["processed"], "events"),
        "data_reuse": Measure(c["documents_reused"], c["documents"], "events"),
        "national_document_store": Measure(c["documents_national_store"], c["documents"], "events"),
        "population_data": Measure(c["population_data"], c["received"], "events"),
    }


#: The rating of a period or agency with no dossier to score.
NO_DATA = "no_data"


def index_body(
    config: IndexConfig,
    groups: list[GroupScore],
    counts: dict[str, Any],
    catalogue: CatalogueInfo,
    online_levels: dict[str, int],
) -> dict[str, Any]:
    # No dossier received or ended in it: every rate is undefined, and sub-indicators with nothing to
    # measure score full marks, so the index would read 100, "good", for an agency or a past period
    # where nothing happened. It has no score, and says so.
    measured = bool(counts["received"] or counts["resolved"])
    total = round(sum(g.points for g in groups), 2) if measured else None
    not_from_events = [
        {"indicator": i.key, "source": i.measure.source, "rate": rounded(i.measure.rate)}
        for g in groups
        for i in g.indicators
        if i.measure.source != "events"
    ]
    return {
        "total": total,
        "max_points": 100,
        "rating": config.band(total) if total is not None else NO_DATA,
        "groups": [
            {
                "key": g.key,
                "label": g.label,
                "label_vi": g.label_vi,
                "max_points": g.max_points,
                "points": round(g.points, 2) if measured else None,
                "indicators": [
                    {
                        "key": i.key,
                        "label": i.label,
                        "source": i.measure.source,
                        "numerator": rounded(i.measure.numerator),
                        "denominator": rounded(i.measure.denominator),
                        "rate": rounded(i.measure.rate),
                        "threshold": i.threshold,
                        "weight": i.weight,
                        "points": round(i.points, 4) if measured else None,
                    }
                    for i in g.indicators
                ],
            }
            for g in groups
        ],
        "inputs_not_from_events": not_from_events,
        "procedures_by_online_level": _online_levels(online_levels),
        "catalogue_version": catalogue.version,
        "average_resolution_working_days": rounded(counts["avg_resolution_days"]),
        "bands": [b.model_dump() for b in config.bands],
        "not_applicable": config.not_applicable,
    }


def _online_levels(counts: dict[str, int]) -> dict[str, Any]:
    """The report's procedures by how far they are offered online, counts and shares (from the
    catalogue): the published split is full-process, partly and not online, which the index's
    ``procedures_online`` takes the first two of together."""
    total = sum(counts.values())
    return {
        "total": total,
        **{level: {"procedures": n, "share": rounded(ratio(n, total))} for level, n in counts.items()},
    }

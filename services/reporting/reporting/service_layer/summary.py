"""The shape of the metrics summary: counts from the read model turned into totals and rates."""

from __future__ import annotations

from typing import Any


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator ÷ denominator rounded to 6 decimals; None when there is nothing to divide by."""
    return None if not denominator else round(numerator / denominator, 6)


def rounded(value: Any) -> float | None:
    return None if value is None else round(float(value), 6)


def summary_body(c: dict[str, Any], by_field: list[dict[str, Any]], bundles: list[dict[str, Any]]) -> dict[str, Any]:
    resolved, received = c["resolved"], c["received"]
    total_overdue = sum(r["overdue"] for r in by_field)
    return {
        "received": {
            "total": received,
            "by_channel": {"online": c["online"], "counter": c["counter"], "postal": c["postal"]},
            "online_rate": ratio(c["online"], received),
            # Online dossiers not accepted or sent back within 8 working hours of their submission.
            "accepted_late": c["accepted_late"],
        },
        "resolved": {
            "total": resolved,
            "early": c["early"],
            "on_time": c["on_time"],
            "overdue": c["overdue"],
            "on_time_rate": ratio(c["early"] + c["on_time"], resolved),
            "by_end": {k: c[k] for k in ("processed", "refused", "withdrawn", "stopped")},
            "average_working_days": rounded(c["avg_resolution_days"]),
            "apology_letters": c["apology_letters"],
        },
        "in_progress": {
            "total": c["in_progress"],
            "overdue": c["overdue_in_progress"],
            "awaiting_reception": c["awaiting_reception"],
        },
        "payment": {
            "with_financial_obligation": c["with_obligation"],
            "zero_fee_excluded": c["zero_fee"],
            "paid": c["paid"],
            "paid_online": c["paid_online"],
            "online_payment_rate": ratio(c["paid_online"], c["with_obligation"]),
        },
        "satisfaction": {
            "rated": c["rated"],
            "average_score": rounded(c["avg_rating"]),
            "satisfied": c["satisfied"],
            "satisfied_share": ratio(c["satisfied"], c["rated"]),
            "complaints": c["complaints"],
            "complaint_rate": ratio(c["complaints"], resolved),
        },
        "digitisation": {
            "documents": c["documents"],
            "documents_digitised": c["documents_digitised"],
            "document_digitisation_rate": ratio(c["documents_digitised"], c["documents"]),
            "dossiers_fully_digitised": c["digitised_dossiers"],
            "dossier_digitisation_rate": ratio(c["digitised_dossiers"], received),
            "electronic_results": c["e_results"],
            "electronic_result_rate": ratio(c["e_results"], c["processed"]),
            "documents_reused": c["documents_reused"],
            "reuse_rate": ratio(c["documents_reused"], c["documents"]),
            "dossiers_reusing_data": c["dossiers_reusing"],
            "documents_from_national_store": c["documents_national_store"],
            "population_data_used": c["population_data"],
        },
        "portal_sync": {
            "synced": c["synced"],
            "not_synced": received - c["synced"],
            "sync_rate": ratio(c["synced"], received),
            "syncs": c["syncs"],
            "failures": c["sync_failures"],
            "average_lag_seconds": ratio(c["sync_lag_sum"], c["syncs"]),
            "max_lag_seconds": rounded(c["sync_lag_max"]),
        },
        "bundles": bundle_summary(bundles),
        "overdue_by_field": [{**r, "share_of_overdue": ratio(r["overdue"], total_overdue)} for r in by_field],
    }


def bundle_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ended = [r for r in rows if r["avg_e2e_days"] is not None]
    weight: dict[int, float] = {id(r): r["completed"] + r["partially_completed"] for r in ended}
    total_weight = sum(weight.values())

    def weighted(key: str, scale: float = 1.0) -> float | None:
        if not total_weight:
            return None
        return round(sum(float(r[key]) * weight[id(r)] for r in ended) / total_weight / scale, 6)

    return {
        "started": sum(r["started"] for r in rows),
        "completed": sum(r["completed"] for r in rows),
        "partially_completed": sum(r["partially_completed"] for r in rows),
        "in_progress": sum(r["in_progress"] for r in rows),
        "average_e2e_working_days": weighted("avg_e2e_days"),
        "average_e2e_hours": weighted("avg_e2e_seconds", 3600.0),
        "by_type": {
            r["bundle_type"]: {
                "started": r["started"],
                "completed": r["completed"],
                "partially_completed": r["partially_completed"],
                "in_progress": r["in_progress"],
                "average_e2e_working_days": rounded(r["avg_e2e_days"]),
                "max_e2e_working_days": rounded(r["max_e2e_days"]),
            }
            for r in rows
        },
    }

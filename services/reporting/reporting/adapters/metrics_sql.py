"""The aggregate queries behind the metrics API, the index and Prometheus.

Two cohorts (README, "Which dossiers a period counts"): dossiers *received* in the period (submission
time) for channels, payment, digitisation and portal sync; dossiers *resolved* in the period (end time)
for progress and satisfaction. In progress is "as of" the period's end (or now).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from workcal import HOURS_PER_WORKING_DAY

_IN = (
    "({x} >= coalesce(CAST(:start AS timestamptz), '-infinity')"
    " AND {x} < coalesce(CAST(:end AS timestamptz), 'infinity'))"
)
_AS_OF = "least(coalesce(CAST(:end AS timestamptz), 'infinity'), now())"
_DUE = "coalesce(due_at, intake_due_at)"
_SUBMITTED = "coalesce(submitted_at, intake_received_at, received_at)"
_RECEIVED = "coalesce(received_at, intake_received_at)"
#: A financial obligation the citizen could meet: a fee or a payment request, on a dossier open or
#: processed, or paid. One that ended without a result (refused, withdrawn, stopped) unpaid owes nothing
#: (intake takes no payment for it): counted, it lowered the online-payment rate with no payment possible.
_FEE = "(fee > 0 OR obligation_amount > 0)"
_OBLIGATION = f"({_FEE} AND (paid OR end_kind IS NULL OR end_kind = 'processed'))"
_COMPLAINT = "(rating_complaint OR rating_score <= :dislike)"
#: Not a later step of a bundle: those are received when their bundle releases them, by no official.
#: Counted, an online birth bundle put two dossiers no one could accept in the acceptance queue.
_NOT_HELD = (
    "(bundle_step IS NULL OR CAST(:first_steps AS TEXT[]) IS NULL"
    " OR bundle_step = ANY(CAST(:first_steps AS TEXT[])))"
)
_DIGITISED = "(docs_total > 0 AND docs_digitized = docs_total)"

#: One row per dossier with the cohort flags every aggregate filters on.
DOSSIERS = f"""
SELECT d.*,
  {_IN.format(x=_SUBMITTED)} AS rx,
  -- Resolved: ended in the period and judged (a bundle step stopped before it started is not).
  ({_IN.format(x="ended_at")} AND outcome IS NOT NULL) AS rs,
  ({_RECEIVED} < {_AS_OF} AND (ended_at IS NULL OR ended_at >= {_AS_OF})) AS inprog,
  -- Late by the period's end: flagged before it, or its appointment passed before it while the clock ran
  -- (not for a bundle step still received, held for an earlier step: its clock runs once it starts, and
  -- its date moves then by the citizen's waits on the earlier steps). An online dossier not accepted
  -- within its 8 working hours ends overdue whatever comes after (outcome.py): late from that flag on.
  (late_since < {_AS_OF} OR acceptance_late_at < {_AS_OF}
     OR ({_DUE} < {_AS_OF} AND (paused_since IS NULL OR paused_since > {_DUE} OR paused_since >= {_AS_OF})
         AND NOT (bundle_id IS NOT NULL AND status = 'received'))) AS late
FROM rm_dossiers d
WHERE events > 0
  -- Only rows one of the flags can be true for, so that a period reads its own dossiers (by index)
  -- and not every year kept: received or ended in it, or open at its end.
  AND ({_IN.format(x=_SUBMITTED)} OR {_IN.format(x="ended_at")} OR ended_at IS NULL
       OR (ended_at >= {_AS_OF} AND {_RECEIVED} < {_AS_OF})
       -- awaiting reception at the period's end, ended since (received, or refused or withdrawn unreceived),
       -- submitted before the period (those in it are counted above) and within the month before its end
       -- (acceptance takes 8 working hours): an index finds them without reading every dossier that
       -- ended since an old period
       OR ({_SUBMITTED} >= {_AS_OF} - interval '31 days'
           AND {_SUBMITTED} < least(coalesce(CAST(:start AS timestamptz), 'infinity'), {_AS_OF})
           AND ended_at >= {_AS_OF} AND ({_RECEIVED} IS NULL OR {_RECEIVED} >= {_AS_OF})))
  AND (CAST(:agencies AS text[]) IS NULL
       OR CASE WHEN CAST(:receiving AS boolean) THEN receiving_agency
               ELSE coalesce(competent_agency, agency, receiving_agency) END = ANY(CAST(:agencies AS text[])))
  AND (CAST(:field AS text) IS NULL OR field = CAST(:field AS text))
  AND (CAST(:procedure AS text) IS NULL OR procedure_code = CAST(:procedure AS text))
"""

#: The summary's additive figures: (column, its aggregate over one procedure's dossiers). They are
#: summed over procedures, so that no aggregate needs the whole period's rows sorted (a DISTINCT did).
_ADDITIVE = [
    ("received", "count(*) FILTER (WHERE rx)"),
    ("online", "count(*) FILTER (WHERE rx AND channel = 'online')"),
    ("counter", "count(*) FILTER (WHERE rx AND channel = 'counter')"),
    ("postal", "count(*) FILTER (WHERE rx AND channel = 'postal')"),
    ("resolved", "count(*) FILTER (WHERE rs)"),
    ("early", "count(*) FILTER (WHERE rs AND outcome = 'early')"),
    ("on_time", "count(*) FILTER (WHERE rs AND outcome = 'on_time')"),
    ("overdue", "count(*) FILTER (WHERE rs AND outcome = 'overdue')"),
    ("processed", "count(*) FILTER (WHERE rs AND end_kind = 'processed')"),
    ("refused", "count(*) FILTER (WHERE rs AND end_kind = 'refused')"),
    ("withdrawn", "count(*) FILTER (WHERE rs AND end_kind = 'withdrawn')"),
    ("stopped", "count(*) FILTER (WHERE rs AND end_kind = 'stopped')"),
    ("in_progress", "count(*) FILTER (WHERE inprog)"),
    ("overdue_in_progress", "count(*) FILTER (WHERE inprog AND late)"),
    ("awaiting_reception",
     f"count(*) FILTER (WHERE (ended_at IS NULL OR ended_at >= {_AS_OF})"
     f" AND ({_RECEIVED} IS NULL OR {_RECEIVED} >= {_AS_OF}) AND submitted_at < {_AS_OF} AND {_NOT_HELD})"),
    ("accepted_late", f"count(*) FILTER (WHERE rx AND acceptance_late_at < {_AS_OF})"),
    ("with_obligation", f"count(*) FILTER (WHERE rx AND {_OBLIGATION})"),
    ("paid", f"count(*) FILTER (WHERE rx AND {_OBLIGATION} AND paid)"),
    ("paid_online", f"count(*) FILTER (WHERE rx AND {_OBLIGATION} AND paid_online)"),
    ("zero_fee", f"count(*) FILTER (WHERE rx AND NOT {_FEE})"),
    ("rated", "count(*) FILTER (WHERE rs AND rating_score IS NOT NULL)"),
    ("satisfied", "count(*) FILTER (WHERE rs AND rating_score >= :satisfied)"),
    ("complaints", f"count(*) FILTER (WHERE rs AND {_COMPLAINT})"),
    ("e_results", "count(*) FILTER (WHERE rs AND end_kind = 'processed' AND result_electronic)"),
    ("digitised_e_results",
     f"count(*) FILTER (WHERE rs AND end_kind = 'processed' AND result_electronic AND {_DIGITISED})"),
    ("digitised_dossiers", f"count(*) FILTER (WHERE rx AND {_DIGITISED})"),
    ("documents", "sum(docs_total) FILTER (WHERE rx)"),
    ("documents_digitised", "sum(docs_digitized) FILTER (WHERE rx)"),
    ("documents_reused", "sum(docs_reused) FILTER (WHERE rx)"),
    ("documents_national_store", "sum(docs_national_store) FILTER (WHERE rx)"),
    ("dossiers_reusing", "count(*) FILTER (WHERE rx AND docs_reused > 0)"),
    ("population_data", "count(*) FILTER (WHERE rx AND population_data_used)"),
    ("synced", "count(*) FILTER (WHERE rx AND portal_syncs > 0)"),
    ("syncs", "sum(portal_syncs) FILTER (WHERE rx)"),
    ("sync_failures", "sum(portal_sync_failures) FILTER (WHERE rx)"),
    ("apology_letters", "sum(apology_letters) FILTER (WHERE rs)"),
]  # fmt: skip

#: One row per procedure, then the period's figures from those rows: a dozen or so rows to add up,
#: and "procedures used" is a count of them.
SUMMARY = f"""
SELECT
  {", ".join(f"CAST(coalesce(sum({name}), 0) AS bigint) AS {name}" for name, _ in _ADDITIVE)},
  sum(resolution_days_sum) / nullif(sum(resolution_days_n), 0) AS avg_resolution_days,
  sum(rating_sum) / nullif(sum(rating_n), 0) AS avg_rating,
  coalesce(sum(sync_lag_sum), 0) AS sync_lag_sum,
  coalesce(max(sync_lag_max), 0) AS sync_lag_max,
  count(procedure_code) FILTER (WHERE with_obligation > 0) AS fee_procedures_used,
  count(procedure_code) FILTER (WHERE paid_online > 0) AS fee_procedures_paid_online
FROM (
  SELECT procedure_code,
    {", ".join(f"{expr} AS {name}" for name, expr in _ADDITIVE)},
    sum(resolution_days) FILTER (WHERE rs) AS resolution_days_sum,
    count(resolution_days) FILTER (WHERE rs) AS resolution_days_n,
    sum(rating_score) FILTER (WHERE rs) AS rating_sum,
    count(rating_score) FILTER (WHERE rs) AS rating_n,
    sum(portal_lag_sum) FILTER (WHERE rx) AS sync_lag_sum,
    max(portal_lag_max) FILTER (WHERE rx) AS sync_lag_max
  FROM ({DOSSIERS}) d
  GROUP BY procedure_code
) p
"""

BY_FIELD = f"""
SELECT coalesce(field, 'unknown') AS field,
  count(*) FILTER (WHERE rs) AS resolved,
  count(*) FILTER (WHERE rs AND outcome = 'overdue') AS overdue,
  count(*) FILTER (WHERE inprog AND late) AS overdue_in_progress
FROM ({DOSSIERS}) d
GROUP BY 1
HAVING count(*) FILTER (WHERE rs OR (inprog AND late)) > 0
ORDER BY 3 DESC, 4 DESC, 1
"""

#: Bundles, each with its end-to-end working days net of the time its steps waited for the citizen's
#: supplements (DOMAIN.md: that time does not count against the agency). Counted gross, a birth bundle
#: whose every step was on time showed 3.125 days against its 3-day limit after a 3-day wait.
BUNDLES_NET = f"""(
  SELECT b.*, CASE WHEN b.e2e_days IS NULL THEN NULL ELSE greatest(b.e2e_days - coalesce(
    (SELECT sum(s.paused_seconds) FROM rm_dossiers s WHERE s.bundle_id = b.bundle_id), 0)
    / {HOURS_PER_WORKING_DAY * 3600}.0, 0) END AS e2e_net_days
  FROM rm_bundles b)"""

#: Bundles the query's agencies received or have a step of; with a field or procedure, those with a
#: step in it: the same dossiers the rest of the summary counts.
BUNDLES = f"""
SELECT coalesce(bundle_type, 'unknown') AS bundle_type,
  count(*) FILTER (WHERE {_IN.format(x="submitted_at")}) AS started,
  count(*) FILTER (WHERE {_IN.format(x="ended_at")} AND outcome = 'completed') AS completed,
  count(*) FILTER (WHERE {_IN.format(x="ended_at")} AND outcome = 'partial') AS partially_completed,
  count(*) FILTER (WHERE (ended_at IS NULL OR ended_at >= {_AS_OF}) AND submitted_at < {_AS_OF}) AS in_progress,
  avg(e2e_net_days) FILTER (WHERE {_IN.format(x="ended_at")}) AS avg_e2e_days,
  avg(e2e_seconds) FILTER (WHERE {_IN.format(x="ended_at")}) AS avg_e2e_seconds,
  max(e2e_net_days) FILTER (WHERE {_IN.format(x="ended_at")}) AS max_e2e_days
FROM {BUNDLES_NET} b
WHERE events > 0
  -- Open, or ended since the period's start: what every count above needs (by rm_bundles_ended).
  AND (ended_at IS NULL OR ended_at >= coalesce(CAST(:start AS timestamptz), '-infinity'))
  AND (CAST(:agencies AS text[]) IS NULL OR receiving_agency = ANY(CAST(:agencies AS text[])) OR EXISTS (
    SELECT 1 FROM rm_dossiers s WHERE s.bundle_id = b.bundle_id
      AND coalesce(s.competent_agency, s.agency, s.receiving_agency) = ANY(CAST(:agencies AS text[]))))
  AND ((CAST(:field AS text) IS NULL AND CAST(:procedure AS text) IS NULL) OR EXISTS (
    SELECT 1 FROM rm_dossiers s WHERE s.bundle_id = b.bundle_id
      AND (CAST(:field AS text) IS NULL OR s.field = CAST(:field AS text))
      AND (CAST(:procedure AS text) IS NULL OR s.procedure_code = CAST(:procedure AS text))))
GROUP BY 1 ORDER BY 1
"""

_BUCKET = "date_trunc(CAST(:unit AS text), {col} AT TIME ZONE 'Asia/Ho_Chi_Minh')"
#: Received and resolved per bucket in one pass: each dossier counts in the bucket it was received in
#: and in the one it ended in (a CTE read twice would be materialised: every row copied first).
TREND = f"""
SELECT bucket,
  count(*) FILTER (WHERE kind = 'rx') AS received,
  count(*) FILTER (WHERE kind = 'rx' AND channel = 'online') AS online,
  count(*) FILTER (WHERE kind = 'rs') AS resolved,
  count(*) FILTER (WHERE kind = 'rs' AND outcome IN ('early', 'on_time')) AS on_time,
  count(*) FILTER (WHERE kind = 'rs' AND outcome = 'overdue') AS overdue
FROM ({DOSSIERS}) d
CROSS JOIN LATERAL (VALUES
  ('rx', CASE WHEN rx THEN {_BUCKET.format(col=_SUBMITTED)} END),
  ('rs', CASE WHEN rs THEN {_BUCKET.format(col="ended_at")} END)) AS b(kind, bucket)
WHERE bucket IS NOT NULL
GROUP BY bucket
ORDER BY bucket DESC LIMIT :limit
"""

#: Per dossier-based sub-indicator: the cohort it counts in and the units a dossier falls short by.
SHORTFALLS: dict[str, tuple[str, str]] = {
    "on_time": ("rs", "(outcome = 'overdue')::int"),
    "satisfaction": ("rs", f"(outcome = 'overdue')::int + ({_COMPLAINT} IS TRUE)::int"),
    "portal_sync": ("rx", "(portal_syncs = 0)::int"),
    "online_submission": ("rx", "(channel IS DISTINCT FROM 'online')::int"),
    "dossiers_paid_online": (f"rx AND {_OBLIGATION}", "(NOT paid_online)::int"),
    "electronic_results": ("rs AND end_kind = 'processed'", "(NOT result_electronic)::int"),
    "digitised_with_e_result": ("rs AND end_kind = 'processed'", f"(NOT (result_electronic AND {_DIGITISED}))::int"),
    "data_reuse": ("rx", "docs_total - docs_reused"),
    "national_document_store": ("rx", "docs_total - docs_national_store"),
    "population_data": ("rx", "(NOT population_data_used)::int"),
}


def losses_sql(keys: list[str]) -> str:
    """Dossiers ordered by the points they cost; ``:c_<key>`` are the unit costs."""
    parts = {k: f"(CASE WHEN {SHORTFALLS[k][0]} THEN {SHORTFALLS[k][1]} ELSE 0 END)" for k in keys}
    columns = ", ".join(f"{expr} AS s_{k}" for k, expr in parts.items()) or "0 AS s_none"
    cost = " + ".join(f"{expr} * CAST(:c_{k} AS double precision)" for k, expr in parts.items()) or "0"
    return f"""
SELECT dossier_id, code, procedure_code, field, coalesce(competent_agency, agency, receiving_agency) AS agency,
  status, outcome, end_kind, {columns}, ({cost}) AS cost
FROM ({DOSSIERS}) d
WHERE (rx OR rs) AND ({cost}) > 0
ORDER BY cost DESC, dossier_id LIMIT :limit
"""


async def fetch_one(conn: AsyncConnection, sql: str, params: dict[str, Any]) -> dict[str, Any]:
    row = (await conn.execute(text(sql), params)).mappings().one()
    return dict(row)


async def fetch_all(conn: AsyncConnection, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(r) for r in (await conn.execute(text(sql), params)).mappings()]

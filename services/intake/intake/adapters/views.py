"""Reading the view tables (outside any write transaction)."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from intake.domain.codes import dossier_reference

_DOSSIER_COLUMNS = (
    "dossier_id, code, procedure_code, channel, receiving_agency, competent_agency, current_agency, official_id,"
    " status, status_code, submitted_at, received_at, due_at, overdue, awaiting_supplement, fee, paid_amount,"
    " requested_amount, withdrawal_requested, requested_documents,"
    " rating, bundle_id, bundle_step, step_started_at, results::text AS results, timeline::text AS timeline,"
    " portal_sync::text AS portal_sync, delivery"
)
_JSON_COLUMNS = ("results", "timeline", "portal_sync")


def _row(mapping: Any) -> dict[str, Any]:
    row = dict(mapping)
    for column in _JSON_COLUMNS:
        if isinstance(row.get(column), str):
            row[column] = orjson.loads(row[column])
    return row


class PostgresViews:
    """The :class:`~intake.service_layer.queries.ViewReader` on the service's engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def dossier(self, ref: str) -> dict[str, Any] | None:
        column, ref = dossier_reference(ref)
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(text(f"SELECT {_DOSSIER_COLUMNS} FROM dossiers WHERE {column} = :r"), {"r": ref})
            ).mappings().first()
        return _row(row) if row else None

    async def bundle(self, bundle_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        column, bundle_id = dossier_reference(bundle_id)  # a bundle's id is a UUID too
        if column != "dossier_id":
            return None
        async with self._engine.connect() as conn:
            bundle = (
                await conn.execute(text("SELECT * FROM bundles WHERE bundle_id = :b"), {"b": bundle_id})
            ).mappings().first()
            if bundle is None:
                return None
            steps = (
                await conn.execute(
                    text(f"SELECT {_DOSSIER_COLUMNS} FROM dossiers WHERE bundle_id = :b ORDER BY bundle_position"),
                    {"b": bundle_id},
                )
            ).mappings().all()
        return dict(bundle), [_row(s) for s in steps]

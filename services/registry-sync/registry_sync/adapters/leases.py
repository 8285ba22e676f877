"""Renewing the leases of claimed work in either leased table (``registry_commands``,
``portal_dossiers``): a row's ``next_attempt_at`` is its lease while a worker holds it, and the
lease's end doubles as the holder's token. Anything else that writes the row (the recorded outcome,
another worker's claim once the lease ran out) changes it, so a renewal can never undo them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

_RENEW = (
    "UPDATE {table} AS t SET next_attempt_at = :until"
    " FROM unnest(CAST(:ids AS text[]), CAST(:leases AS timestamptz[])) AS held(id, lease)"
    " WHERE t.{key} = held.id AND t.next_attempt_at = held.lease AND t.status = 'pending'"
    " RETURNING t.{key}"
)


async def renew_leases(
    conn: AsyncConnection,
    table: Literal["registry_commands", "portal_dossiers"],
    leases: Sequence[tuple[str, datetime]],
    until: datetime,
) -> set[str]:
    """Extend to ``until`` the ``(id, lease)`` pairs still held; the ids renewed."""
    if not leases:
        return set()
    key = "command_id" if table == "registry_commands" else "dossier_id"
    rows = await conn.execute(
        text(_RENEW.format(table=table, key=key)),
        {"ids": [i for i, _ in leases], "leases": [lease for _, lease in leases], "until": until},
    )
    return {row[0] for row in rows}

"""The synchronisation summary ``GET /v1/sync/status`` answers: portal sync per dossier (synced,
pending, failed with reasons, lag), registry commands per system, each system's breaker, and the
last reconciliation. Also the backlogs ``GET /metrics`` reports, counted the same way, and the
dossiers whose push failed (refused, or given up)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from registry_sync.service_layer.guard import Guards
from registry_sync.service_layer.unit_of_work import Clock, Failure, StatusCount, UnitOfWorkFactory

FAILURES_SHOWN = 20


def _seconds_since(moment: datetime | None, now: datetime) -> float | None:
    return None if moment is None else round(max(0.0, (now - moment).total_seconds()), 3)


def _failure(f: Failure) -> dict[str, Any]:
    item: dict[str, Any] = {"dossier_id": f.dossier_id, "reason": f.reason, "at": f.at.isoformat() if f.at else None}
    if f.code:
        item["code"] = f.code
    if f.operation:
        item.update(command_id=f.id, system=f.system, operation=f.operation)
    return item


def portal_summary(counts: list[StatusCount], failures: list[Failure], now: datetime) -> dict[str, Any]:
    by_status = {"synced": 0, "pending": 0, "failed": 0}
    awaiting = 0
    oldest: datetime | None = None
    lag_sum, lag_n, lag_max = 0.0, 0, None
    for c in counts:
        by_status[c.status] = by_status.get(c.status, 0) + c.count
        if c.status == "pending" and not c.ready:
            awaiting += c.count
        if c.status == "pending" and c.oldest is not None:
            oldest = c.oldest if oldest is None else min(oldest, c.oldest)
        if c.status == "synced" and c.avg_lag_seconds is not None:
            lag_sum += c.avg_lag_seconds * c.count
            lag_n += c.count
            lag_max = c.max_lag_seconds if lag_max is None else max(lag_max, c.max_lag_seconds or 0.0)
    total = sum(by_status.values())
    return {
        "dossiers": total,
        **by_status,
        "awaiting_data": awaiting,
        "synced_ratio": round(by_status["synced"] / total, 4) if total else None,
        "oldest_pending_lag_seconds": _seconds_since(oldest, now),
        "avg_lag_seconds": round(lag_sum / lag_n, 3) if lag_n else None,
        "max_lag_seconds": round(lag_max, 3) if lag_max is not None else None,
        "recent_failures": [_failure(f) for f in failures],
    }


def command_summary(counts: list[StatusCount], failures: list[Failure], now: datetime) -> dict[str, Any]:
    systems: dict[str, dict[str, Any]] = {}
    for c in counts:
        entry = systems.setdefault(c.system or "?", {"pending": 0, "succeeded": 0, "failed": 0})
        entry[c.status] = entry.get(c.status, 0) + c.count
        if c.status == "pending":
            entry["oldest_pending_seconds"] = _seconds_since(c.oldest, now)
    totals = {s: sum(e.get(s, 0) for e in systems.values()) for s in ("pending", "succeeded", "failed")}
    return {**totals, "by_system": systems, "recent_failures": [_failure(f) for f in failures]}


async def sync_status(uow: UnitOfWorkFactory, guards: Guards, now: datetime) -> dict[str, Any]:
    async with uow() as tx:
        dossier_counts = await tx.dossiers.counts()
        dossier_failures = await tx.dossiers.failures(FAILURES_SHOWN)
        command_counts = await tx.commands.counts()
        command_failures = await tx.commands.failures(FAILURES_SHOWN)
        last = await tx.reconciliations.latest()
    return {
        "portal": portal_summary(dossier_counts, dossier_failures, now),
        "commands": command_summary(command_counts, command_failures, now),
        "systems": guards.status(),
        "last_reconciliation": last.as_json() if last else None,
        "as_of": now.isoformat(),
    }


@dataclass(frozen=True)
class Backlog:
    """What waits: how many, and for how long the oldest has (0 when none)."""

    pending: int
    oldest_seconds: float


def backlog(counts: list[StatusCount], now: datetime) -> Backlog:
    """The pending groups of ``counts``: every system's commands, or every dossier's push, those
    awaiting data included (as ``GET /v1/sync/status`` counts them)."""
    pending = [c for c in counts if c.status == "pending"]
    oldest = min((c.oldest for c in pending if c.oldest is not None), default=None)
    return Backlog(sum(c.count for c in pending), _seconds_since(oldest, now) or 0.0)


async def command_backlog(uow: UnitOfWorkFactory, clock: Clock) -> Backlog:
    async with uow() as tx:
        waiting = await tx.commands.pending()
    return backlog([waiting], clock())


@dataclass(frozen=True)
class PortalBacklog(Backlog):
    """The portal's backlog, and the dossiers whose push failed: refused, or given up."""

    failed: int = 0


async def portal_backlog(uow: UnitOfWorkFactory, clock: Clock) -> PortalBacklog:
    """Both read in one transaction, on one connection: the scrape's reads are made one at a time,
    and a third would stretch the longest scrape to three read timeouts, near Prometheus' 10 s."""
    async with uow() as tx:
        waiting = await tx.dossiers.pending()
        failed = await tx.dossiers.failed()
    pending = backlog([waiting], clock())
    return PortalBacklog(pending.pending, pending.oldest_seconds, failed)

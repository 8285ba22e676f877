"""The live event stream (server-sent events) and the recent-event list it starts from."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any
from uuid import UUID

import orjson
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import AfterValidator

from contracts.ids import as_stored_id
from eventkit.http import invalid_parameter
from reporting.adapters.catalogue_info import CatalogueInfo
from reporting.domain.feed import FeedFilter, FeedItem
from reporting.entrypoints.api import AgencyQuery, known_agency
from reporting.entrypoints.consumer import projected_event_types
from reporting.service_layer.broadcaster import Subscription, TooManySubscribers

router = APIRouter(prefix="/v1/events", tags=["events"])

TypeQuery = Annotated[
    list[str] | None, Query(max_length=20, description="Event types (repeat or comma-separate); default all.")
]
DossierQuery = Annotated[
    str | None,
    Query(min_length=1, max_length=80, description="Dossier id, dossier code or bundle id."),
    AfterValidator(lambda text: None if text is None else as_stored_id(text)),
]


_BACKLOG = 1000


def _uuid(value: str | None) -> UUID | None:
    try:
        return UUID(value) if value else None
    except ValueError:
        return None  # not one of ours: start live, as without the header


def event_types(values: list[str] | None) -> frozenset[str]:
    """The requested types, or a 422 naming ``type`` if one is not an event reporting knows."""
    wanted = {t.strip() for value in values or () for t in value.split(",") if t.strip()}
    unknown = sorted(wanted - set(projected_event_types()))
    if unknown:
        raise invalid_parameter("query", "type", f"unknown event types {unknown}", values)
    return frozenset(wanted)


def _sse(data: dict[str, Any], *, event: str | None = None, event_id: str | None = None) -> bytes:
    head = (f"event: {event}\n" if event else "") + (f"id: {event_id}\n" if event_id else "")
    return head.encode() + b"data: " + orjson.dumps(data) + b"\n\n"


#: Told when the feed's own source was cut off a while: events projected meanwhile never reached the
#: stream (a client reads them from /v1/events/recent, or resumes with its last event id).
_GAP = _sse({"gap": True}, event="gap")


def backlog_item(row: dict[str, Any]) -> dict[str, Any]:
    """A recent-event row in the shape of a live feed item (details are only live)."""
    agencies = {row[k] for k in ("agency", "receiving_agency", "competent_agency") if row.get(k)}
    return {
        "event_id": str(row["event_id"]), "type": row["type"], "producer": row["producer"],
        "occurred_at": row["occurred_at"].isoformat(), "dossier_id": row["dossier_id"], "bundle_id": row["bundle_id"],
        "code": row["code"], "agency": row["agency"], "agencies": sorted(agencies), "status": row["status"],
        "procedure_code": row["procedure_code"], "field": row["field"], "detail": {},
    }  # fmt: skip


async def _frames(
    request: Request, subscription: Subscription, keepalive: float, backlog: list[dict[str, Any]]
) -> AsyncIterator[bytes]:
    context = request.app.state.reporting
    try:
        yield b"retry: 2000\n: connected\n\n"
        replayed = {old["event_id"] for old in backlog}
        for old in backlog:
            yield _sse(old, event_id=old["event_id"])
        while True:
            try:
                item: FeedItem | None = await asyncio.wait_for(subscription.queue.get(), timeout=keepalive)
            except TimeoutError:
                if subscription.take_gap():
                    yield _GAP
                dropped = subscription.take_dropped()
                yield _sse({"dropped": dropped}, event="dropped") if dropped else b": keepalive\n\n"
                continue
            if item is None:
                return
            if item.event_id in replayed:
                continue
            if subscription.take_gap():
                yield _GAP
            dropped = subscription.take_dropped()
            if dropped:
                yield _sse({"dropped": dropped}, event="dropped")
            yield _sse(item.to_json_dict(), event_id=item.event_id)
    finally:
        context.broadcaster.unsubscribe(subscription)
        context.metrics.subscribers.set(context.broadcaster.subscribers)


@router.get("/stream", response_class=StreamingResponse, response_model=None)
async def stream(
    request: Request,
    type: TypeQuery = None,
    dossier: DossierQuery = None,
    agency: AgencyQuery = None,
    last_event_id: Annotated[
        str | None, Header(description="Resume after this event (sent by reconnecting clients).")
    ] = None,
) -> StreamingResponse | JSONResponse:
    """Server-sent events: every event as it is projected, filtered by type, dossier and agency."""
    context = request.app.state.reporting
    types, agency = event_types(type), known_agency(_catalogue(request), agency)
    try:
        subscription = context.broadcaster.subscribe(FeedFilter(types, dossier, agency))
    except TooManySubscribers as exc:
        return JSONResponse({"error": "too_many_subscribers", "detail": str(exc)}, status_code=503)
    context.metrics.subscribers.set(context.broadcaster.subscribers)
    backlog: list[dict[str, Any]] = []
    resume = _uuid(last_event_id)
    if resume is not None:  # subscribed first, so nothing falls between the backlog and the live items
        try:
            rows = await context.read_model.events_after(resume, sorted(types) or None, dossier, agency, _BACKLOG)
        except BaseException:
            context.broadcaster.unsubscribe(subscription)
            raise
        backlog = [backlog_item(row) for row in rows]
    return StreamingResponse(
        _frames(request, subscription, context.settings.sse_keepalive_seconds, backlog),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/recent")
async def recent(
    request: Request,
    type: TypeQuery = None,
    dossier: DossierQuery = None,
    agency: AgencyQuery = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Events returned, newest first.")] = 50,
) -> dict[str, Any]:
    """The latest projected events, newest first (the live feed's starting point)."""
    types, agency = sorted(event_types(type)) or None, known_agency(_catalogue(request), agency)
    rows = await request.app.state.reporting.read_model.recent_events(types, dossier, agency, limit)
    for row in rows:
        row["event_id"] = str(row["event_id"])
        row["occurred_at"] = row["occurred_at"].isoformat()
    return {"events": rows}


def _catalogue(request: Request) -> CatalogueInfo:
    return request.app.state.reporting.reports.catalogue  # type: ignore[no-any-return]

"""``GET /dashboard``: the director's page. Plain HTML, CSS and JavaScript served by the service
itself (no CDN, no build step); it draws its charts as inline SVG and updates from the API and the
live stream."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse, Response

from eventkit.http import error

router = APIRouter(tags=["dashboard"])

_ASSETS = {
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
}


def _read(name: str) -> bytes:
    return resources.files("reporting.entrypoints").joinpath("static", name).read_bytes()


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard() -> HTMLResponse:
    """The dashboard page: the index, on-time trend, channels, overdue by field, live events."""
    return HTMLResponse(_read("dashboard.html"), headers={"Cache-Control": "no-cache"})


@router.get("/dashboard/static/{name}", responses={404: error("No such asset.")})
async def asset(name: str) -> Response:
    """A static asset of the dashboard."""
    media_type = _ASSETS.get(name)
    if media_type is None:
        raise HTTPException(404, "no such asset")
    return Response(_read(name), media_type=media_type, headers={"Cache-Control": "no-cache"})

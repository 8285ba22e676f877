"""The metrics API: summary, trend, the 766 index and what costs it points, recent events, metadata."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request

from eventkit.http import invalid_parameter
from reporting.adapters.catalogue_info import CatalogueInfo
from reporting.domain.outcome import UNKNOWN_FIELD
from reporting.domain.periods import PERIOD_PATTERN, Period, parse_bound, parse_period
from reporting.service_layer.reports import ReportQuery, Reports
from workcal import vietnam_tz

AGENCY_PATTERN = r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)*$"
FIELD_PATTERN = r"^[a-z][a-z0-9_]*$"
PROCEDURE_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z._-]*$"


def get_reports(request: Request) -> Reports:
    return request.app.state.reporting.reports  # type: ignore[no-any-return]


ReportsDep = Annotated[Reports, Depends(get_reports)]
AgencyQuery = Annotated[
    str | None, Query(pattern=AGENCY_PATTERN, max_length=40, description="Agency code; covers the agencies under it.")
]
FieldQuery = Annotated[str | None, Query(pattern=FIELD_PATTERN, max_length=40, description="Procedure field.")]
ProcedureQuery = Annotated[str | None, Query(pattern=PROCEDURE_PATTERN, max_length=40, description="Procedure code.")]
FromQuery = Annotated[str | None, Query(alias="from", max_length=40, description="Start: date or ISO date-time.")]
ToQuery = Annotated[str | None, Query(alias="to", max_length=40, description="End: a date is inclusive.")]
PeriodQuery = Annotated[
    str | None,
    Query(pattern=PERIOD_PATTERN, description="YYYY, YYYY-MM or YYYY-Qn; the index's default: this year."),
]


def between(start: str | None, end: str | None, period: str | None = None) -> Period:
    """The from/to period, or the named ``period`` (the index's way to say it); a 422 naming the bound
    at fault. ``period`` was ignored here, and ``from=`` left empty read as no bound: both answered the
    figures of all time with a 200."""
    if period is not None:
        if start is not None or end is not None:
            raise invalid_parameter("query", "period", "give a period or from/to, not both", period)
        return named_period(period)
    bounds: dict[str, datetime | None] = {}
    for name, value, is_end in (("from", start, False), ("to", end, True)):
        if value == "":
            raise invalid_parameter("query", name, "empty: leave the parameter out for no bound", value)
        try:
            bounds[name] = parse_bound(value, is_end=is_end) if value else None
        except ValueError as exc:
            raise invalid_parameter("query", name, str(exc), value) from None
    try:
        return Period(bounds["from"], bounds["to"], f"{start or ''}..{end or ''}")
    except ValueError as exc:
        raise invalid_parameter("query", "to", str(exc), end) from None


def named_period(text: str | None) -> Period:
    try:
        period = parse_period(text or str(datetime.now(vietnam_tz()).year))
    except ValueError as exc:
        raise invalid_parameter("query", "period", str(exc), text) from None
    if period.start is not None and period.start > datetime.now(vietnam_tz()):
        # Nothing can have happened in it: every rate is undefined and the index would score full marks.
        raise invalid_parameter("query", "period", "the period has not begun", text)
    return period


def query(
    reports: Reports, period: Period, agency: str | None, field: str | None = None, procedure: str | None = None
) -> ReportQuery:
    """The report's query; a 422 on ``$.agency``, ``$.field`` or ``$.procedure`` for one the catalogue
    does not know (a typo would otherwise read as one with nothing to report: zeros, the index's full
    marks). The field ``unknown`` is that of procedures the catalogue no longer lists."""
    catalogue = reports.catalogue
    known_agency(catalogue, agency)
    if field is not None and field != UNKNOWN_FIELD and field not in catalogue.field_of_procedure.values():
        raise invalid_parameter("query", "field", "no procedure of the catalogue is of this field", field)
    if procedure is not None and procedure not in catalogue.field_of_procedure:
        raise invalid_parameter("query", "procedure", "no such procedure in the catalogue", procedure)
    return ReportQuery(period, agency, field, procedure)


def known_agency(catalogue: CatalogueInfo, agency: str | None) -> str | None:
    """``agency``, or a 422 naming it if the catalogue does not know it (misspelt, it read as an agency
    with nothing to report, or an empty feed)."""
    if agency is not None and not catalogue.knows_agency(agency):
        raise invalid_parameter("query", "agency", "no such agency in the catalogue", agency)
    return agency


router = APIRouter(prefix="/v1", tags=["metrics"])


@router.get("/metrics/summary")
async def summary(
    reports: ReportsDep,
    start: FromQuery = None,
    end: ToQuery = None,
    agency: AgencyQuery = None,
    field: FieldQuery = None,
    procedure: ProcedureQuery = None,
    period: PeriodQuery = None,
) -> dict[str, Any]:
    """Dossiers received, resolved, in progress, paid, rated, digitised, synced; bundles; overdue by field."""
    return await reports.summary(query(reports, between(start, end, period), agency, field, procedure))


@router.get("/metrics/trend")
async def trend(
    reports: ReportsDep,
    start: FromQuery = None,
    end: ToQuery = None,
    agency: AgencyQuery = None,
    field: FieldQuery = None,
    procedure: ProcedureQuery = None,
    interval: Annotated[Literal["day", "week", "month"], Query(description="Bucket size.")] = "month",
    limit: Annotated[int, Query(ge=1, le=400, description="Most recent buckets returned.")] = 12,
    period: PeriodQuery = None,
) -> dict[str, Any]:
    """On-time rate, received and online rate per day, week or month."""
    scope = query(reports, between(start, end, period), agency, field, procedure)
    return await reports.trend(scope, interval, limit)


#: ``from``/``to`` on the index's routes, only to refuse them: the index is scored by period, and they
#: were ignored, answering this year's index with a 200 to a caller who asked for another span.
NotForTheIndex = Annotated[str | None, Query(alias="from", include_in_schema=False)]
NotForTheIndexEnd = Annotated[str | None, Query(alias="to", include_in_schema=False)]


def index_period(period: str | None, start: str | None, end: str | None) -> Period:
    if start is not None or end is not None:
        name, value = ("from", start) if start is not None else ("to", end)
        raise invalid_parameter("query", name, "the index is scored by period: give period=YYYY, YYYY-MM or YYYY-Qn",
                                value)  # fmt: skip
    return named_period(period)


@router.get("/index")
async def index(
    reports: ReportsDep,
    period: PeriodQuery = None,
    agency: AgencyQuery = None,
    start: NotForTheIndex = None,
    end: NotForTheIndexEnd = None,
) -> dict[str, Any]:
    """The 766 citizen-service index: six groups, each sub-indicator's rate, threshold and points."""
    return await reports.index(query(reports, index_period(period, start, end), agency))


@router.get("/index/losses")
async def index_losses(
    reports: ReportsDep,
    period: PeriodQuery = None,
    agency: AgencyQuery = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Dossiers returned.")] = 20,
    start: NotForTheIndex = None,
    end: NotForTheIndexEnd = None,
) -> dict[str, Any]:
    """The dossiers that cost the index the most points, and why."""
    return await reports.losses(query(reports, index_period(period, start, end), agency), limit)


@router.get("/meta")
async def meta(request: Request) -> dict[str, Any]:
    """Agencies, fields and the index configuration, for the dashboard's pickers."""
    context = request.app.state.reporting
    catalogue = context.reports.catalogue
    return {
        "catalogue_version": catalogue.version,
        "agencies": [{"code": code, "name_vi": name} for code, name in sorted(catalogue.known_agencies())],
        "fields": sorted(set(catalogue.field_of_procedure.values())),
        "index": context.reports.config.model_dump(),
    }

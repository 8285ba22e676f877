"""The scenario's events, published on the real broker and projected by the running service: the
metrics API, the index and Prometheus report the hand-computed numbers; bad input gets a 422."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from contracts.events import workflow
from contracts.events.common import DossierStatus
from reporting.bootstrap import create_app
from reporting.settings import ReportingSettings
from tests.integration.reporting.support import projected_count, publish
from tests.support.infra import Infra
from tests.support.kafka import eventually
from tests.support.services import create_topics, running, settings_for
from tests.unit.reporting import scenario
from tests.unit.reporting.scenario import EXPECTED, EXPECTED_POINTS

pytestmark = pytest.mark.integration


@dataclass
class Live:
    app: FastAPI
    client: httpx.AsyncClient
    settings: ReportingSettings
    infra: Infra
    events: int


@pytest_asyncio.fixture(scope="module")
async def live(infra: Infra) -> AsyncIterator[Live]:
    """The service running with the scenario projected; a few events were delivered twice."""
    settings = settings_for(ReportingSettings, infra, "rm" + __import__("secrets").token_hex(3))
    await create_topics(infra, settings.topics)
    app = create_app(settings)
    async with running(app) as client:
        envelopes = scenario.build().all()
        await publish(infra.bootstrap_servers, settings.topics, envelopes + envelopes[:6])

        async def all_projected() -> bool:
            return await projected_count(app) == len(envelopes)

        await eventually(all_projected, timeout=30)
        yield Live(app, client, settings, infra, len(envelopes))


async def get(live: Live, url: str, **params: str) -> dict:  # type: ignore[type-arg]
    response = await live.client.get(url, params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_summary_reports_the_hand_computed_numbers(live: Live) -> None:
    body = await get(live, "/v1/metrics/summary", **{"from": "2024-03-01", "to": "2024-03-31"})
    e = EXPECTED
    approx = pytest.approx
    assert body["received"] == {
        "total": 11, "by_channel": e["by_channel"], "online_rate": approx(e["online_rate"]),
        "accepted_late": 0,  # D11 was flagged on 1 April: not as of the end of March
    }  # fmt: skip
    spring = await get(live, "/v1/metrics/summary", **{"from": "2024-03-01", "to": "2024-04-30"})
    assert spring["received"]["accepted_late"] == 1
    resolved = body["resolved"]
    assert (resolved["total"], resolved["early"], resolved["on_time"], resolved["overdue"]) == (8, 3, 3, 2)
    assert resolved["on_time_rate"] == approx(0.75) and resolved["by_end"] == e["by_end"]
    assert resolved["average_working_days"] == approx(e["average_working_days"], abs=1e-6)
    assert body["in_progress"] == {"total": 2, "overdue": 1, "awaiting_reception": 1}
    assert body["payment"] == {
        "with_financial_obligation": 6, "zero_fee_excluded": 4, "paid": 5, "paid_online": 3,
        "online_payment_rate": approx(3 / 6),
    }  # fmt: skip
    sat = body["satisfaction"]
    assert (sat["rated"], sat["average_score"], sat["satisfied"], sat["complaints"]) == (4, 3.0, 2, 2)
    assert (sat["satisfied_share"], sat["complaint_rate"]) == (0.5, 0.25)
    dig = body["digitisation"]
    assert (dig["documents"], dig["documents_digitised"], dig["documents_reused"]) == (19, 16, 6)
    assert (dig["documents_from_national_store"], dig["dossiers_fully_digitised"]) == (3, 9)
    assert (dig["electronic_results"], dig["electronic_result_rate"], dig["population_data_used"]) == (4, 0.8, 2)
    sync = body["portal_sync"]
    assert (sync["synced"], sync["not_synced"], sync["syncs"], sync["failures"]) == (7, 4, 8, 1)
    assert (sync["average_lag_seconds"], sync["max_lag_seconds"]) == (approx(123.75), 600.0)
    bundles = body["bundles"]
    assert (bundles["started"], bundles["completed"], bundles["partially_completed"]) == (2, 1, 1)
    assert bundles["average_e2e_working_days"] == approx(e["bundle_e2e_days"])
    assert bundles["average_e2e_hours"] == approx(e["bundle_e2e_hours"])
    overdue = {r["field"]: (r["overdue"], r["overdue_in_progress"]) for r in body["overdue_by_field"]}
    assert overdue["dat_dai"] == (1, 0) and overdue["ly_lich_tu_phap"] == (1, 0) and overdue["xay_dung"] == (0, 1)
    assert [r["field"] for r in body["overdue_by_field"]][:2] == ["dat_dai", "ly_lich_tu_phap"]


async def test_filters_narrow_the_summary(live: Live) -> None:
    # The district covers itself, its communes and their police: D1 D2 D6 D7 D10 D11.
    body = await get(live, "/v1/metrics/summary", agency="UBND-H-HOAMY", **{"from": "2024-03-01", "to": "2024-03-31"})
    assert body["received"]["total"] == 6 and body["resolved"]["total"] == 5
    assert body["filters"]["agencies"] and "CA-X-YENHOA" in body["filters"]["agencies"]
    assert body["bundles"]["started"] == 2  # received at the commune counter
    land = await get(live, "/v1/metrics/summary", field="dat_dai")
    assert (land["received"]["total"], land["resolved"]["overdue"]) == (1, 1)
    assert land["bundles"]["started"] == 0  # no bundle has a land step
    births = await get(live, "/v1/metrics/summary", procedure="1.001193")
    assert (births["bundles"]["started"], births["bundles"]["completed"]) == (1, 1)  # B1, through its step D1
    police = await get(live, "/v1/metrics/summary", agency="CA-X-YENHOA")
    assert police["bundles"]["started"] == 1  # B1, through its residence step D7; the commune received it
    one = await get(live, "/v1/metrics/summary", procedure="9.000004")
    assert one["resolved"]["early"] == 1 and one["received"]["by_channel"]["postal"] == 1
    april = await get(live, "/v1/metrics/summary", **{"from": "2024-04-01"})
    assert (april["received"]["total"], april["resolved"]["total"]) == (0, 0)
    # The index's way to name a span works here too: it was ignored, all time answered.
    march = await get(live, "/v1/metrics/summary", period="2024-03")
    spelled_out = await get(live, "/v1/metrics/summary", **{"from": "2024-03-01", "to": "2024-03-31"})
    assert march["received"] == spelled_out["received"] and march["resolved"] == spelled_out["resolved"]


async def test_index_scores_the_hand_computed_points(live: Live) -> None:
    body = await get(live, "/v1/index", period="2024-03")
    assert {g["key"]: pytest.approx(g["points"], abs=0.005) for g in body["groups"]} == EXPECTED_POINTS
    assert body["total"] == pytest.approx(70.20, abs=0.005) and body["rating"] == "fair"
    indicators = {i["key"]: i for g in body["groups"] for i in g["indicators"]}
    assert (indicators["on_time"]["numerator"], indicators["on_time"]["denominator"]) == (6, 8)
    assert indicators["dossiers_paid_online"]["rate"] == pytest.approx(3 / 6, abs=1e-6)
    assert indicators["online_submission"]["threshold"] == 0.5 and indicators["online_submission"]["points"] == 6
    sources = {i["indicator"]: i["source"] for i in body["inputs_not_from_events"]}
    assert sources == {"procedures_published": "configuration", "procedures_online": "catalogue",
                       "procedures_fee_online": "catalogue"}  # fmt: skip
    quarter = await get(live, "/v1/index", period="2024-Q1")
    assert quarter["total"] == body["total"]  # nothing happened in January or February


async def test_an_agency_s_index_takes_the_catalogue_shares_of_its_own_procedures(live: Live) -> None:
    body = await get(live, "/v1/index", period="2024-03", agency="STNMT-BINHAN")
    indicators = {i["key"]: i for g in body["groups"] for i in g["indicators"]}
    shares = [
        (indicators[k]["numerator"], indicators[k]["denominator"])
        for k in ("procedures_online", "procedures_fee_online")
    ]
    assert shares == [(0, 1), (0, 1)]  # its one procedure, land first issue, is neither (the province: 13/15, 7/8)
    split = body["procedures_by_online_level"]
    assert (split["total"], split["none"]["procedures"], split["none"]["share"]) == (1, 1, 1.0)
    province = (await get(live, "/v1/index", period="2024-03"))["procedures_by_online_level"]
    assert province["full"]["procedures"] + province["partial"]["procedures"] == 13 and province["total"] == 15


async def test_losses_list_the_dossiers_that_cost_most(live: Live) -> None:
    body = await get(live, "/v1/index/losses", period="2024-03", limit="2")
    top = body["dossiers"]
    assert [d["dossier_id"] for d in top] == ["D3", "D5"]
    # D3: overdue 20/8, overdue + complaint 2 × 18/(0.9·8), not synced 10/11, not paid online 6/6,
    # paper result 4/5, 3 documents not reused 3 × 6/(0.8·19) and not from the store 3 × 3/19, no population data 3/11
    d3 = 2.5 + 5 + 10 / 11 + 6 / 6 + 0.8 + 3 * 6 / (0.8 * 19) + 3 * 3 / 19 + 3 / 11
    assert top[0]["points_lost"] == pytest.approx(d3, abs=1e-5)
    assert {r["indicator"] for r in top[0]["reasons"]} >= {"on_time", "satisfaction", "portal_sync"}


@pytest.mark.parametrize(
    ("url", "params", "path"),
    [
        ("/v1/metrics/summary", {"from": "last week"}, "$.from"),
        ("/v1/metrics/summary", {"from": "2024-03-02", "to": "2024-03-01"}, "$.to"),
        ("/v1/metrics/summary", {"agency": "ubnd lowercase"}, "$.agency"),
        # A typo had read as an agency with nothing to report: full marks in the index.
        ("/v1/index", {"agency": "UBND-X-KHONGCO"}, "$.agency"),
        ("/v1/metrics/summary", {"agency": "UBND-X-KHONGCO"}, "$.agency"),
        ("/v1/index", {"period": "2199"}, "$.period"),  # nothing can have happened in it yet
        ("/v1/metrics/summary", {"field": "Đất đai"}, "$.field"),
        # Misspelt, a field or a procedure read as one with nothing to report: zeros with a 200.
        ("/v1/metrics/summary", {"field": "dat_dia"}, "$.field"),
        ("/v1/metrics/trend", {"field": "nosuch"}, "$.field"),
        ("/v1/metrics/summary", {"procedure": "9.999999"}, "$.procedure"),
        # Ignored, these answered another span's figures with a 200: all time, or this year's index.
        ("/v1/metrics/summary", {"from": ""}, "$.from"),
        ("/v1/metrics/trend", {"to": ""}, "$.to"),
        ("/v1/metrics/summary", {"period": "2024", "from": "2024-01-01"}, "$.period"),
        ("/v1/index", {"from": "2024-01-01"}, "$.from"),
        ("/v1/index/losses", {"to": "2024-03-31"}, "$.to"),
        ("/v1/index", {"period": "2024-13"}, "$.period"),
        # Dates the arithmetic cannot take had been 500s: the day after 9999-12-31, a trend before year 1.
        ("/v1/metrics/summary", {"to": "9999-12-31"}, "$.to"),
        ("/v1/metrics/trend", {"to": "0001-01-01"}, "$.to"),
        ("/v1/index", {"period": "0001"}, "$.period"),
        ("/v1/metrics/summary", {"from": "0001-01-01T00:00:00+05:00"}, "$.from"),
        ("/v1/index/losses", {"limit": "0"}, "$.limit"),
        ("/v1/metrics/trend", {"interval": "hour"}, "$.interval"),
        ("/v1/events/recent", {"type": "DossierExploded"}, "$.type"),
        ("/v1/events/stream", {"type": "Nope"}, "$.type"),
        ("/v1/events/recent", {"agency": "UBND-X-KHONGCO"}, "$.agency"),  # was an empty feed with a 200
        ("/v1/events/stream", {"agency": "UBND-X-KHONGCO"}, "$.agency"),
    ],
)
async def test_bad_input_is_a_422_naming_the_parameter(live: Live, url: str, params: dict, path: str) -> None:  # type: ignore[type-arg]
    response = await live.client.get(url, params=params)
    assert response.status_code == 422, response.text
    assert path in [d["path"] for d in response.json()["detail"]]


async def test_trend_and_recent_events(live: Live) -> None:
    trend = await get(live, "/v1/metrics/trend", **{"from": "2024-01-01", "to": "2024-04-30"})
    march = next(p for p in trend["points"] if p["bucket"] == "2024-03-01")
    assert (march["received"], march["resolved"], march["on_time_rate"]) == (11, 8, 0.75)
    # Without a start: the `limit` months up to `to` (April has nothing), not every year kept.
    two_months = await get(live, "/v1/metrics/trend", to="2024-04-30", limit="2")
    assert [p["bucket"] for p in two_months["points"]] == ["2024-03-01"]
    april = await get(live, "/v1/metrics/trend", to="2024-04-30", limit="1")
    assert april["points"] == []
    recent = await get(live, "/v1/events/recent", type="DossierOverdue")
    assert [(e["type"], e["dossier_id"], e["agency"]) for e in recent["events"]] == [
        ("DossierOverdue", "D8", "SXD-BINHAN")
    ]
    # A bundle's own events name no dossier: they are its receiving counter's (they were left out).
    commune = await get(live, "/v1/events/recent", agency="UBND-X-YENHOA", type="BundleCompleted")
    assert [(e["bundle_id"], e["agency"]) for e in commune["events"]] == [("B1", "UBND-X-YENHOA")]
    by_agency = await get(live, "/v1/events/recent", agency="STNMT-BINHAN", limit="100")
    assert {e["dossier_id"] for e in by_agency["events"]} == {"D3"}  # registry events found through the dossier


async def test_prometheus_exposes_dossiers_bundles_timings_and_lag(live: Live) -> None:
    assert (await live.client.get("/v1/metrics/summary")).status_code == 200
    response = await live.client.get("/metrics")
    assert response.status_code == 200
    body = response.text
    assert 'reporting_dossiers{channel="postal",outcome="early",status="processed"} 1.0' in body
    assert 'reporting_dossier_resolution_working_days_count{field="ho_tich"} 2.0' in body
    assert 'reporting_dossier_resolution_working_days_bucket{field="ho_tich",le="0.5"} 1.0' in body
    assert 'reporting_bundles{outcome="completed",type="birth"} 1.0' in body
    assert "reporting_portal_syncs_total 8.0" in body
    assert 'reporting_events_projected_total{producer="workflow",type="ResultIssued"} 5.0' in body
    assert "reporting_consumer_lag{consumer=" in body
    assert "reporting_projection_delay_seconds_bucket" in body
    assert 'http_requests_total{method="GET",route="/v1/metrics/summary",status="200"}' in body  # its own too
    consumers = [line for line in body.splitlines() if line.startswith("consumer_events_total")]
    assert any('outcome="processed"' in line for line in consumers), consumers  # as every service's
    assert "process_resident_memory_bytes" in body


async def test_a_month_already_reported_keeps_its_in_progress_figures(live: Live) -> None:
    """April's events about dossiers open at the end of March (D9 flagged overdue on 3 April, D11
    received on 2 April) changed March's "in progress" figures: they read today's state, not the
    state at the period's end. (Last in the module: it adds events the tests above do not expect.)"""
    march = {"from": "2024-03-01", "to": "2024-03-31"}
    before = (await get(live, "/v1/metrics/summary", **march))["in_progress"]
    assert before == {"total": 2, "overdue": 1, "awaiting_reception": 1}
    s = scenario.build()
    known = {e.event_id for e in s.all()}
    april = scenario.at(3, 17, month=4)
    s.flow(workflow.DossierOverdue, "D9", april, "CA-T-BINHAN", DossierStatus.PROCESSING, due_at=april)
    s.flow(workflow.DossierReceived, "D11", scenario.at(2, 9, month=4), "CA-X-YENHOA", DossierStatus.RECEIVED,
           official_id="cb-ca", procedure_code="1.003197", due_at=scenario.at(9, 17, month=4))  # fmt: skip
    later = [e for e in s.all() if e.event_id not in known]
    assert len(later) == 2
    await publish(live.infra.bootstrap_servers, live.settings.topics, later)

    async def projected() -> bool:
        return await projected_count(live.app) == live.events + len(later)

    await eventually(projected, timeout=30)
    assert (await get(live, "/v1/metrics/summary", **march))["in_progress"] == before
    spring = (await get(live, "/v1/metrics/summary", **{"from": "2024-03-01", "to": "2024-04-30"}))["in_progress"]
    assert spring["awaiting_reception"] == 0 and spring["overdue"] >= 2  # D8 and, from 3 April, D9
    # D11 was received on 2 April, a day after it was flagged for its acceptance: it ends overdue whatever
    # comes after, so it is overdue while in progress, before its appointment (9 April) passes. It was
    # counted only from then: a director had no warning.
    early_april = {"from": "2024-03-01", "to": "2024-04-05"}
    assert (await get(live, "/v1/metrics/summary", **early_april))["in_progress"]["overdue"] == 3  # D8 D9 D11

"""The service on a real port: the live stream delivers a published event within a second, the
operator CLI prints it, and the dashboard, loaded in headless Chromium, shows the API's numbers."""

from __future__ import annotations

import asyncio
import html.parser
import os
import secrets
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import text

from contracts.envelope import Envelope
from contracts.events import registry, workflow
from contracts.events.common import DossierStatus
from contracts.topics import Topics
from devstack.processes import free_port
from reporting.bootstrap import create_app, projection_channel
from reporting.settings import ReportingSettings
from tests.integration.reporting.browser import chromium
from tests.integration.reporting.support import projected_count, publish, serving
from tests.support.infra import Infra
from tests.support.kafka import eventually
from tests.support.services import create_topics, settings_for
from tests.unit.reporting import scenario

pytestmark = pytest.mark.integration


@dataclass
class Served:
    url: str
    topics: Topics
    infra: Infra


@pytest_asyncio.fixture(scope="module")
async def served(infra: Infra) -> AsyncIterator[Served]:
    settings = settings_for(ReportingSettings, infra, "lv" + secrets.token_hex(3), sse_keepalive_seconds=1.0)
    await create_topics(infra, settings.topics)
    app = create_app(settings)
    async with serving(app) as url:
        envelopes = scenario.build().all()
        await publish(infra.bootstrap_servers, settings.topics, envelopes)

        async def ready() -> bool:
            async with httpx.AsyncClient(base_url=url) as client:
                ok = (await client.get("/readyz")).status_code == 200
            return ok and await projected_count(app) == len(envelopes)

        await eventually(ready, timeout=30)
        yield Served(url, settings.topics, infra)


def overdue_event(dossier: str, agency: str = "UBND-X-TANLAP") -> Envelope:
    now = datetime.now(UTC)
    payload = workflow.DossierOverdue(
        dossier_id=dossier, code=f"{agency}-240304-9999", status=DossierStatus.PROCESSING,
        status_code=DossierStatus.PROCESSING.code, at=now, agency=agency, due_at=now - timedelta(hours=1),
    )  # fmt: skip
    return Envelope.wrap(payload, key=dossier, producer="workflow")


async def next_data(lines: AsyncIterator[str], timeout: float) -> dict:  # type: ignore[type-arg]
    """The next ``data:`` frame of an SSE stream."""

    async def read() -> dict:  # type: ignore[type-arg]
        async for line in lines:
            if line.startswith("data:"):
                return orjson.loads(line[5:])  # type: ignore[no-any-return]
        raise AssertionError("stream ended")

    return await asyncio.wait_for(read(), timeout)


async def test_an_event_reaches_the_stream_within_a_second_of_publication(served: Served) -> None:
    async with (
        httpx.AsyncClient(base_url=served.url, timeout=10) as client,
        client.stream("GET", "/v1/events/stream", params={"type": "DossierOverdue"}) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.aiter_lines()
        assert await asyncio.wait_for(anext(lines), 5) == "retry: 2000"  # subscribed from here on
        other = scenario.build("other-").events["intake_events"][0]  # not a DossierOverdue: filtered out
        event = overdue_event("live-1")
        await publish(served.infra.bootstrap_servers, served.topics, [other])
        published = time.monotonic()
        await publish(served.infra.bootstrap_servers, served.topics, [event])
        item = await next_data(lines, timeout=5)
        elapsed = time.monotonic() - published
        assert (item["type"], item["dossier_id"], item["event_id"]) == ("DossierOverdue", "live-1", str(event.event_id))
        assert item["agency"] == "UBND-X-TANLAP" and "due_at" in item["detail"]
        assert elapsed < 1.0, f"took {elapsed:.3f} s"


@dataclass
class Streaming:
    """A service of its own, a client, and one open stream's lines."""

    app: FastAPI
    settings: ReportingSettings
    client: httpx.AsyncClient
    lines: AsyncIterator[str]

    async def gap(self, timeout: float = 10) -> None:
        """Until the stream says it missed events."""

        async def told() -> None:
            async for line in self.lines:
                if line == "event: gap":
                    return

        await asyncio.wait_for(told(), timeout)


@asynccontextmanager
async def streaming(infra: Infra, prefix: str) -> AsyncIterator[Streaming]:
    settings = settings_for(ReportingSettings, infra, prefix + secrets.token_hex(3), sse_keepalive_seconds=1.0)
    await create_topics(infra, settings.topics)
    app = create_app(settings)
    async with (
        serving(app) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as client,
        client.stream("GET", "/v1/events/stream") as response,
    ):
        lines = response.aiter_lines()
        assert await asyncio.wait_for(anext(lines), 5) == "retry: 2000"
        yield Streaming(app, settings, client, lines)


async def test_a_stream_is_told_when_the_service_lost_its_event_source_a_while(infra: Infra) -> None:
    """The LISTEN connection broke and came back: events projected meanwhile never reached open
    streams, and nothing said so (only a client that reconnected itself resumed)."""
    async with streaming(infra, "lg") as live:
        async with live.app.state.runtime.engine.connect() as conn:  # the listener's connection, cut
            cut = await conn.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE query ILIKE :listen AND pid <> pg_backend_pid()"
                ),
                {"listen": f"LISTEN%{projection_channel(live.settings)}%"},
            )
        assert cut == 1
        await live.gap()


async def test_a_long_error_goes_without_details_and_a_rebuild_tells_streams_of_a_gap(infra: Infra) -> None:
    """A feed item of 8000 bytes or more failed its projection (PostgreSQL refuses such a NOTIFY): the
    event was dead-lettered. After a rebuild the live consumer finds the events the replay read ahead
    logged already and announces none of them: open streams missed them unawares."""
    failed = registry.RegistryCommandFailed(
        command_id="c-long", system="social_insurance", operation="issue_child_health_insurance_card",
        dossier_id="long-1", reason="409", attempts=1, failed_at=datetime.now(UTC), http_status=409,
        error="card_exists: " + "thẻ đã cấp " * 800,
    )  # fmt: skip
    async with streaming(infra, "gl") as live:
        envelope = Envelope.wrap(failed, key="long-1", producer="t")
        await publish(infra.bootstrap_servers, live.settings.topics, [envelope])
        item = await next_data(live.lines, timeout=10)
        assert (item["type"], item["dossier_id"], item["detail"]) == ("RegistryCommandFailed", "long-1", {})
        rebuilt = await live.client.post("/v1/projections/rebuild", params={"wait": "true", "timeout": "60"})
        assert rebuilt.json()["rebuild"]["state"] == "succeeded", rebuilt.text
        await live.gap()


async def test_streams_filter_by_agency_and_dossier(served: Served) -> None:
    async with (
        httpx.AsyncClient(base_url=served.url, timeout=10) as client,
        client.stream("GET", "/v1/events/stream", params={"agency": "UBND-X-ANPHU"}) as by_agency,
        client.stream("GET", "/v1/events/stream", params={"dossier": "live-3"}) as by_dossier,
    ):
        agency_lines, dossier_lines = by_agency.aiter_lines(), by_dossier.aiter_lines()
        for lines in (agency_lines, dossier_lines):
            assert await asyncio.wait_for(anext(lines), 5) == "retry: 2000"
        await publish(served.infra.bootstrap_servers, served.topics,
                      [overdue_event("live-2", "UBND-X-TANLAP"), overdue_event("live-3", "UBND-X-ANPHU")])  # fmt: skip
        assert (await next_data(agency_lines, 5))["dossier_id"] == "live-3"
        assert (await next_data(dossier_lines, 5))["dossier_id"] == "live-3"


async def test_a_reconnecting_client_resumes_after_its_last_event(served: Served) -> None:
    first, second, third = (overdue_event(f"resume-{n}", "CA-X-TANLAP") for n in range(3))
    async with httpx.AsyncClient(base_url=served.url, timeout=10) as client:

        async def projected(event: Envelope) -> bool:
            recent = await client.get("/v1/events/recent", params={"dossier": event.key})
            return bool(recent.json()["events"])

        await publish(served.infra.bootstrap_servers, served.topics, [first])
        await eventually(lambda: projected(first), timeout=10)
        await publish(served.infra.bootstrap_servers, served.topics, [second, third])
        await eventually(lambda: projected(third), timeout=10)
        headers = {"Last-Event-ID": str(first.event_id)}
        params = {"agency": "CA-X-TANLAP", "type": "DossierOverdue"}
        async with client.stream("GET", "/v1/events/stream", params=params, headers=headers) as response:
            lines = response.aiter_lines()
            replayed = [(await next_data(lines, 5))["dossier_id"] for _ in range(2)]
        assert sorted(replayed) == ["resume-1", "resume-2"]  # two partitions: projected in either order


async def test_the_tail_cli_prints_one_line_per_event(served: Served) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "reporting.tail", "--url", served.url, "--type", "DossierOverdue", "--limit", "1",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stderr is not None and process.stdout is not None
        banner = await asyncio.wait_for(process.stderr.readline(), 15)
        assert banner.startswith(b"# following"), banner
        await publish(served.infra.bootstrap_servers, served.topics, [overdue_event("live-4")])
        line = (await asyncio.wait_for(process.stdout.readline(), 10)).decode()
        assert "DossierOverdue" in line and "UBND-X-TANLAP-240304-9999" in line and "agency=UBND-X-TANLAP" in line
        assert await asyncio.wait_for(process.wait(), 10) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


class Dom(html.parser.HTMLParser):
    """Elements with a data-testid: their data-value and their text."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str | None] = {}
        self.texts: dict[str, str] = {}
        self._open: list[tuple[str, str | None]] = []
        self.body: dict[str, str | None] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "body":
            self.body = found
        testid = found.get("data-testid")
        if testid:
            self.values[testid] = found.get("data-value")
            self.texts.setdefault(testid, "")
        self._open.append((tag, testid))

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            if self._open.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        for _, testid in self._open:
            if testid:
                self.texts[testid] += data


async def test_the_dashboard_shows_the_numbers_the_api_returns_and_updates_live(served: Served, tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(base_url=served.url) as client:
        index = (await client.get("/v1/index", params={"period": "2024-03"})).json()
        period = {"from": index["period"]["from"], "to": index["period"]["to"]}
        summary = (await client.get("/v1/metrics/summary", params=period)).json()
    async with chromium(tmp_path) as browser:
        page = await browser.open(f"{served.url}/dashboard?period=2024-03")
        await page.wait_for("document.body.dataset.ready === '1'")
        await page.wait_for("document.getElementById('live').classList.contains('on')")  # the stream is open
        dom = Dom()
        dom.feed(await page.html())
        assert float(dom.values["index-total"] or "nan") == index["total"]
        assert dom.texts["index-total"] == f"{index['total']:.2f}".replace(".", ",")  # vi-VN: decimal comma
        assert dom.texts["index-rating"].endswith(f"({index['rating']})")
        for group in index["groups"]:
            assert float(dom.values[f"group-{group['key']}"] or "nan") == group["points"]
        received = summary["received"]["total"]
        assert int(dom.values["received-total"] or -1) == received
        assert float(dom.values["on-time-rate"] or "nan") == summary["resolved"]["on_time_rate"] == 0.75
        assert dom.texts["on-time-rate"] == "75,00 %"  # two decimals: one showed 99.98 % as 100,0 %
        assert int(dom.values["overdue-in-progress"] or -1) == summary["in_progress"]["overdue"]
        for channel, count in summary["received"]["by_channel"].items():
            assert int(dom.values[f"channel-{channel}"] or -1) == count
        assert float(dom.values["trend-2024-03-01"] or "nan") == 0.75
        assert int(dom.values["overdue-dat_dai"] or -1) == 1
        assert "ResultIssued" in dom.texts["feed"]  # the feed starts from the recent events

        # Live: a new dossier received in March appears in the feed, then in the figures.
        late = scenario.build("browser-")
        submitted = late.events["intake_events"][0]
        await publish(served.infra.bootstrap_servers, served.topics, [submitted])
        code = submitted.payload["code"]
        await page.wait_for(f"document.getElementById('feed').textContent.includes({code!r})", timeout=10)
        figure = "document.querySelector('[data-testid=received-total]').dataset.value"
        await page.wait_for(f"{figure} === '{received + 1}'", timeout=10)


async def test_the_dashboard_of_a_period_with_nothing_in_it_says_no_data(served: Served, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The index has no score there (null, 'no_data'): the dashboard showed 100 before, and the null
    must read as a dash, not 0,00."""
    async with chromium(tmp_path) as browser:
        page = await browser.open(f"{served.url}/dashboard?period=2019")
        await page.wait_for("document.body.dataset.ready === '1'")
        dom = Dom()
        dom.feed(await page.html())
        assert (dom.texts["index-total"], dom.values["index-total"]) == ("–", "")
        assert dom.texts["index-rating"] == "Chưa có dữ liệu (no_data)"
        assert dom.values["group-progress"] == ""


async def test_the_dashboard_s_feed_comes_back_after_the_stream_refused_it(infra: Infra, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A 503 (every subscriber slot taken) closes an EventSource for good: the feed stayed dead until
    the page was reloaded. It is opened again once a slot is free."""
    settings = settings_for(
        ReportingSettings, infra, "lr" + secrets.token_hex(3), sse_max_subscribers=1, sse_keepalive_seconds=1.0
    )
    await create_topics(infra, settings.topics)
    app = create_app(settings)
    async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        async with client.stream("GET", "/v1/events/stream") as taken:  # the only slot
            assert taken.status_code == 200
            async with chromium(tmp_path) as browser:
                page = await browser.open(f"{url}/dashboard")
                await page.wait_for("document.body.dataset.ready === '1'")
                await asyncio.sleep(1)
                assert not await page.evaluate("document.getElementById('live').classList.contains('on')")
                await taken.aclose()  # the slot is free again
                await page.wait_for("document.getElementById('live').classList.contains('on')", timeout=15)


async def test_ctrl_c_ends_open_streams_instead_of_waiting_for_them(infra: Infra) -> None:
    unique = "sg" + secrets.token_hex(3)
    settings = settings_for(ReportingSettings, infra, unique)
    await create_topics(infra, settings.topics)
    port = free_port()
    env = {
        **os.environ,
        "REPORTING_DATABASE_URL": infra.database_url,
        "REPORTING_KAFKA_BOOTSTRAP_SERVERS": infra.bootstrap_servers,
        "REPORTING_PORT": str(port),
        "REPORTING_DB_SCHEMA": settings.schema_name,
        "REPORTING_TOPICS": settings.topics.model_dump_json(),
        "REPORTING_CONSUMER_GROUP_PREFIX": f"{unique}.",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "reporting", env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:

            async def up() -> bool:
                try:
                    return (await client.get("/healthz")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(up, timeout=30)
            async with client.stream("GET", "/v1/events/stream") as response:
                lines = response.aiter_lines()
                assert await asyncio.wait_for(anext(lines), 5) == "retry: 2000"
                process.send_signal(signal.SIGINT)
                started = time.monotonic()
                async for _ in lines:  # the server ends the stream
                    pass
            assert await asyncio.wait_for(process.wait(), 8) == 0
            assert time.monotonic() - started < 5
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

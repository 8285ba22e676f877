"""Bundle steps no agency has had yet: one stopped before it started (an earlier step was refused) is
no agency's resolved dossier, and one still held for an earlier step is not overdue in progress."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from contracts.events import workflow
from contracts.events.common import DossierStatus
from reporting.bootstrap import create_app
from reporting.settings import ReportingSettings
from tests.integration.reporting.support import projected_count, publish
from tests.support.infra import Infra
from tests.support.kafka import eventually
from tests.support.services import create_topics, running, settings_for
from tests.unit.reporting import scenario

pytestmark = pytest.mark.integration


async def summary_of(infra: Infra, s: scenario.Scenario, params: dict[str, str]) -> dict[str, Any]:
    """The summary a reporting service of its own gives once it has projected the scenario's events."""
    settings = settings_for(ReportingSettings, infra, "ru" + secrets.token_hex(3))
    await create_topics(infra, settings.topics)
    app = create_app(settings)
    async with running(app) as client:
        envelopes = s.all()
        await publish(infra.bootstrap_servers, settings.topics, envelopes)

        async def projected() -> bool:
            return await projected_count(app) == len(envelopes)

        await eventually(projected, timeout=30)
        body: dict[str, Any] = (await client.get("/v1/metrics/summary", params=params)).json()
        return body


async def test_a_step_stopped_before_it_started_is_not_resolved(infra: Infra) -> None:
    s = scenario.Scenario()
    for dossier in ("S1", "S2", "S3"):
        s.submit(dossier, procedure="1.004222", channel="counter", agency="UBND-X-YENHOA", fee=0, documents=[],
                 when=scenario.at(4, 9), due=scenario.at(6, 17))  # fmt: skip
    # S1: the agency stopped it in processing (an official's rejection): judged, on time.
    s.flow(workflow.DossierStopped, "S1", scenario.at(5, 9), "UBND-X-YENHOA", DossierStatus.STOPPED,
           reason="không đủ điều kiện", on_time=True)  # fmt: skip
    # S2: stopped by its bundle before it started: no agency had it.
    s.flow(workflow.DossierStopped, "S2", scenario.at(5, 9), "UBND-X-YENHOA", DossierStatus.STOPPED,
           reason="hồ sơ liên thông dừng ở bước «Đăng ký khai sinh»", on_time=None, step_started=False)  # fmt: skip
    # S3: a stop from before workflow judged stops (no on_time): judged by its dates, as it always was.
    s.flow(workflow.DossierStopped, "S3", scenario.at(5, 9), "UBND-X-YENHOA", DossierStatus.STOPPED,
           reason="không đủ điều kiện")  # fmt: skip
    # S4: a step of an online bundle, registered and held, refused by its bundle: no agency had it either
    # (counted as a resolved, on-time refusal before the refusal said so).
    s.submit("S4", procedure="1.004222", channel="online", agency="UBND-X-YENHOA", fee=0, documents=[],
             when=scenario.at(4, 9), due=None, registered=True)  # fmt: skip
    s.flow(workflow.DossierRefused, "S4", scenario.at(5, 9), "UBND-X-YENHOA", DossierStatus.REFUSED,
           reason="hồ sơ liên thông dừng ở bước «Đăng ký khai sinh»", on_time=None, step_started=False)  # fmt: skip
    body = await summary_of(infra, s, {"from": "2024-03-01", "to": "2024-03-31"})
    resolved = body["resolved"]
    assert (resolved["total"], resolved["early"], resolved["by_end"]["stopped"]) == (2, 2, 2)
    assert resolved["by_end"]["refused"] == 0
    assert resolved["on_time_rate"] == 1.0


async def test_a_bundle_step_held_for_an_earlier_one_is_not_overdue_in_progress(infra: Infra) -> None:
    """Its clock runs once it starts, and its date moves then by the citizen's waits on the earlier
    steps: counted late while held, the police showed the citizen's week as their overdue dossier."""
    s = scenario.Scenario()
    # H1 is a later step of a bundle, still held (received, never started); P1 is being processed.
    for dossier, bundle in (("H1", "B9"), ("P1", None)):
        s.submit(dossier, procedure="1.004222", channel="counter", agency="UBND-X-YENHOA", fee=0, documents=[],
                 when=scenario.at(4, 9), due=scenario.at(6, 17), bundle=bundle)  # fmt: skip
    s.flow(workflow.DossierStepStarted, "P1", scenario.at(4, 9), "CA-X-YENHOA", DossierStatus.PROCESSING,
           step="processing", step_due_at=scenario.at(6, 17))  # fmt: skip
    body = await summary_of(infra, s, {"from": "2024-03-01", "to": "2024-03-08"})
    assert body["in_progress"] == {"total": 2, "overdue": 1, "awaiting_reception": 0}  # P1 only


async def test_an_online_bundle_s_later_steps_do_not_await_an_officials_acceptance(infra: Infra) -> None:
    """Registered at submission, they are received when their bundle releases them, by no official:
    counted, an online birth bundle put three dossiers in the acceptance queue where one could be taken."""
    s = scenario.Scenario()
    for dossier, step in (("O1", "birth_registration"), ("O2", "permanent_residence"), ("O3", "health_insurance_card")):
        s.submit(dossier, procedure="1.001193", channel="online", agency="UBND-X-YENHOA", fee=0, documents=[],
                 when=scenario.at(4, 9), due=None, registered=True, bundle="B7", step=step)  # fmt: skip
    s.submit("O4", procedure="1.004222", channel="online", agency="UBND-X-YENHOA", fee=0, documents=[],
             when=scenario.at(4, 9), due=None, registered=True)  # fmt: skip
    body = await summary_of(infra, s, {"from": "2024-03-01", "to": "2024-03-08"})
    assert body["in_progress"]["awaiting_reception"] == 2  # O1, the bundle's first step, and O4

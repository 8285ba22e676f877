"""The bundle view's status and its steps' start: from what the agencies did, not from the saga alone."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from contracts.events import workflow
from contracts.events.common import DossierStatus
from intake.adapters.memory import InMemoryIntakeUnitOfWork
from intake.service_layer.handlers import IntakeContext, submit_bundle
from intake.service_layer.projections import on_events
from intake.service_layer.queries import bundle_public
from tests.unit.intake.conftest import bundle_command
from tests.unit.intake.samples import MONDAY_9AM, birth_bundle

HOUR = timedelta(hours=1)
COMMUNE = "UBND-X-YENHOA"


def moment(shown: str | None) -> datetime | None:
    """A time as the view shows it (in Vietnam time)."""
    return datetime.fromisoformat(shown) if shown is not None else None


class Bundle:
    """A birth bundle submitted through intake, its view, and workflow's events about it."""

    def __init__(self, ctx: IntakeContext, uow: InMemoryIntakeUnitOfWork, receipt: dict[str, Any]) -> None:
        self.ctx, self.uow = ctx, uow
        self.bundle_id: str = receipt["bundle_id"]
        self.first: dict[str, Any] = receipt["dossiers"][0]

    @classmethod
    async def submit(cls, ctx: IntakeContext, uow: InMemoryIntakeUnitOfWork, channel: str) -> Bundle:
        return cls(ctx, uow, (await submit_bundle(bundle_command(birth_bundle(channel)), ctx)).body)

    def view(self) -> dict[str, Any]:
        rows = sorted((r for r in self.uow.dossiers.rows.values() if r["bundle_id"] == self.bundle_id),
                      key=lambda r: r["bundle_position"])  # fmt: skip
        return bundle_public(self.ctx.rules, self.uow.dossiers.bundles[self.bundle_id], rows)

    async def consume(self, *events: workflow.WorkflowEvent) -> dict[str, Any]:
        await on_events(events, self.uow.dossiers, self.ctx.rules.catalogue)
        return self.view()

    def first_started(self, at: datetime) -> workflow.BundleStepStarted:
        """What workflow publishes as the bundle is submitted (its saga starts the first step)."""
        return workflow.BundleStepStarted(bundle_id=self.bundle_id, bundle_type="birth", at=at,
                                          step_id="birth_registration", dossier_id=self.first["dossier_id"],
                                          inputs={})  # fmt: skip

    def first_step(self, kind: type[workflow.DossierEvent], status: DossierStatus, at: datetime,
                   **fields: Any) -> workflow.DossierEvent:  # fmt: skip
        return kind(dossier_id=self.first["dossier_id"], code=self.first["code"], agency=COMMUNE, status=status,
                    status_code=status.code, at=at, bundle_id=self.bundle_id, **fields)  # fmt: skip

    def accepted(self, at: datetime) -> list[workflow.DossierEvent]:
        """An official accepts the first step, which goes straight into processing."""
        due = at + 8 * HOUR
        return [
            self.first_step(workflow.DossierReceived, DossierStatus.RECEIVED, at, official_id="cb-tiepnhan",
                            procedure_code="1.001193", due_at=due),
            self.first_step(workflow.DossierStepStarted, DossierStatus.PROCESSING, at, step="processing",
                            step_due_at=due),
        ]  # fmt: skip


async def test_an_online_bundle_reads_submitted_until_an_official_accepts_its_first_step(
    ctx: IntakeContext, uow: InMemoryIntakeUnitOfWork
) -> None:
    """Workflow starts the first step as the bundle is submitted, and the bundle read "processing" from
    then on, its first step "started" at submission: while no official had accepted it, overdue for
    acceptance, sent back for a supplement at reception."""
    bundle = await Bundle.submit(ctx, uow, "online")
    waiting = await bundle.consume(bundle.first_started(MONDAY_9AM))
    assert waiting["status"] == "submitted"
    assert uow.dossiers.bundles[bundle.bundle_id]["status"] == "submitted"  # its row agrees with its view
    assert (waiting["steps"][0]["status"], waiting["steps"][0]["started_at"]) == ("registered", None)
    overdue = bundle.first_step(workflow.AcceptanceOverdue, DossierStatus.REGISTERED, MONDAY_9AM + 8 * HOUR,
                                deadline=MONDAY_9AM + 8 * HOUR)  # fmt: skip
    assert (await bundle.consume(overdue))["status"] == "submitted"
    sent_back = bundle.first_step(workflow.SupplementRequested, DossierStatus.SUPPLEMENT_REQUESTED,
                                  MONDAY_9AM + 9 * HOUR, official_id="cb-tiepnhan", reason="thiếu giấy chứng sinh",
                                  request_number=1)  # fmt: skip
    assert (await bundle.consume(sent_back))["status"] == "submitted"
    supplied = bundle.first_step(workflow.SupplementReceived, DossierStatus.REGISTERED, MONDAY_9AM + 24 * HOUR,
                                 paused_seconds=0, due_at=MONDAY_9AM + 32 * HOUR)  # fmt: skip
    assert (await bundle.consume(supplied))["status"] == "submitted"

    accepted_at = MONDAY_9AM + 25 * HOUR
    received = await bundle.consume(bundle.accepted(accepted_at)[0])
    assert received["status"] == "processing"  # received, and its bundle started it: its agency has it
    assert moment(received["steps"][0]["started_at"]) == accepted_at  # its acceptance, not its submission
    assert (await bundle.consume(bundle.accepted(accepted_at)[1]))["status"] == "processing"


async def test_an_online_bundle_refused_at_reception_never_reads_processing(
    ctx: IntakeContext, uow: InMemoryIntakeUnitOfWork
) -> None:
    """It read "processing" from submission until workflow's ending arrived, its refused first step
    "started"."""
    bundle = await Bundle.submit(ctx, uow, "online")
    await bundle.consume(bundle.first_started(MONDAY_9AM))
    refusal = bundle.first_step(workflow.DossierRefused, DossierStatus.REFUSED, MONDAY_9AM + 2 * HOUR,
                                official_id="cb-tiepnhan", reason="giấy chứng sinh không hợp lệ")  # fmt: skip
    refused = await bundle.consume(refusal)
    assert refused["status"] == "submitted"
    assert (refused["steps"][0]["status"], refused["steps"][0]["started_at"]) == ("refused", None)
    ending = workflow.BundlePartiallyCompleted(
        bundle_id=bundle.bundle_id, bundle_type="birth", at=MONDAY_9AM + 2 * HOUR, failed_step="birth_registration",
        reason="giấy chứng sinh không hợp lệ", completed_steps=[],
    )  # fmt: skip
    ended = await bundle.consume(ending)
    assert (ended["status"], ended["failed_step"]) == ("partially_completed", "birth_registration")


async def test_a_bundle_an_older_projection_stored_as_processing_reads_from_its_steps(
    ctx: IntakeContext, uow: InMemoryIntakeUnitOfWork
) -> None:
    """The view returned the stored status unchanged: rows written when a started step made the bundle
    "processing" went on reading so until the bundle ended, their first step never accepted."""
    bundle = await Bundle.submit(ctx, uow, "online")
    await bundle.consume(bundle.first_started(MONDAY_9AM))
    uow.dossiers.bundles[bundle.bundle_id]["status"] = "processing"
    assert bundle.view()["status"] == "submitted"
    await bundle.consume(*bundle.accepted(MONDAY_9AM + HOUR))
    assert bundle.view()["status"] == "processing"


@pytest.mark.parametrize("bundle_event_first", [True, False])
async def test_a_counter_bundle_reads_processing_once_its_first_step_starts_and_completed_at_its_end(
    ctx: IntakeContext, uow: InMemoryIntakeUnitOfWork, bundle_event_first: bool
) -> None:
    """Received at the counter with all its steps, it is taken on as workflow starts its first step,
    whichever of the bundle's event and the step's (on another partition) comes first."""
    bundle = await Bundle.submit(ctx, uow, "counter")
    assert bundle.view()["status"] == "submitted"
    assert bundle.view()["steps"][0]["started_at"] is None  # received, not yet started
    started_at = MONDAY_9AM + timedelta(minutes=5)
    processing = bundle.first_step(workflow.DossierStepStarted, DossierStatus.PROCESSING, started_at,
                                   step="processing", step_due_at=started_at + 8 * HOUR)  # fmt: skip
    bundle_event, step_event = bundle.first_started(started_at), processing
    first, then = (bundle_event, step_event) if bundle_event_first else (step_event, bundle_event)
    assert (await bundle.consume(first))["status"] == "processing"
    both = await bundle.consume(then)
    assert (both["status"], moment(both["steps"][0]["started_at"])) == ("processing", started_at)
    completion = workflow.BundleCompleted(
        bundle_id=bundle.bundle_id, bundle_type="birth", at=MONDAY_9AM + 48 * HOUR, results={}
    )
    ended = await bundle.consume(completion)
    assert ended["status"] == "completed"

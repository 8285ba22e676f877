"""A bundle workflow runs again after ending it partially (the sweep starting the step an older replica
left held during a rolling deploy): the citizen's view reads "processing" until it ends a second time."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from contracts.events import workflow
from intake.adapters.memory import InMemoryIntakeUnitOfWork
from intake.service_layer.handlers import IntakeContext, submit_bundle
from intake.service_layer.projections import on_events
from intake.service_layer.queries import bundle_public
from tests.unit.intake.conftest import bundle_command
from tests.unit.intake.samples import MONDAY_9AM, death_bundle

DAY = timedelta(days=1)
FIRST_END, REOPENED, SECOND_END = MONDAY_9AM + DAY, MONDAY_9AM + 2 * DAY, MONDAY_9AM + 3 * DAY


class DeathBundle:
    """A death bundle received at the counter, its view, and workflow's events about it: the family
    withdrew the funeral allowance while the death was registered."""

    def __init__(self, ctx: IntakeContext, uow: InMemoryIntakeUnitOfWork, receipt: dict[str, Any]) -> None:
        self.ctx, self.uow = ctx, uow
        self.bundle_id: str = receipt["bundle_id"]
        self.steps = {d["step_id"]: d["dossier_id"] for d in receipt["dossiers"]}

    @classmethod
    async def submit(cls, ctx: IntakeContext, uow: InMemoryIntakeUnitOfWork) -> DeathBundle:
        return cls(ctx, uow, (await submit_bundle(bundle_command(death_bundle()), ctx)).body)

    async def consume(self, *events: workflow.WorkflowEvent) -> dict[str, Any]:
        await on_events(events, self.uow.dossiers, self.ctx.rules.catalogue)
        rows = sorted((r for r in self.uow.dossiers.rows.values() if r["bundle_id"] == self.bundle_id),
                      key=lambda r: r["bundle_position"])  # fmt: skip
        return bundle_public(self.ctx.rules, self.uow.dossiers.bundles[self.bundle_id], rows)

    def started(self, step: str, at: datetime) -> workflow.BundleStepStarted:
        return workflow.BundleStepStarted(bundle_id=self.bundle_id, bundle_type="death", at=at, step_id=step,
                                          dossier_id=self.steps[step], inputs={})  # fmt: skip

    def ended(self, at: datetime, *completed: str) -> workflow.BundlePartiallyCompleted:
        return workflow.BundlePartiallyCompleted(bundle_id=self.bundle_id, bundle_type="death", at=at,
                                                 failed_step="funeral_allowance", reason="gia đình không nhận",
                                                 completed_steps=list(completed))  # fmt: skip

    @property
    def stored_status(self) -> str:
        return str(self.uow.dossiers.bundles[self.bundle_id]["status"])


def end_of(view: dict[str, Any]) -> tuple[str, datetime | None, str | None]:
    ended_at = datetime.fromisoformat(view["ended_at"]) if view["ended_at"] is not None else None
    return view["status"], ended_at, view["failed_step"]


async def test_a_bundle_run_again_after_its_partial_end_reads_processing_until_it_ends_again(
    ctx: IntakeContext, uow: InMemoryIntakeUnitOfWork
) -> None:
    """The view kept the first end: "partially_completed" while the police deregistered the deceased's
    residence, the step the family had not withdrawn."""
    bundle = await DeathBundle.submit(ctx, uow)
    await bundle.consume(bundle.started("death_registration", MONDAY_9AM))
    first = await bundle.consume(bundle.ended(FIRST_END, "death_registration"))
    assert end_of(first) == ("partially_completed", FIRST_END, "funeral_allowance")

    running = await bundle.consume(bundle.started("residence_deregistration", REOPENED))
    assert end_of(running) == ("processing", None, "funeral_allowance")  # the failure stands: it ends for it
    assert bundle.stored_status == "processing"  # its row agrees with its view
    second = await bundle.consume(bundle.ended(SECOND_END, "death_registration", "residence_deregistration"))
    assert end_of(second) == ("partially_completed", SECOND_END, "funeral_allowance")


async def test_a_bundle_run_again_in_one_consumer_batch_ends_at_its_second_end(
    ctx: IntakeContext, uow: InMemoryIntakeUnitOfWork
) -> None:
    """One transaction's events apply in order: the reopening between the two ends as well."""
    bundle = await DeathBundle.submit(ctx, uow)
    view = await bundle.consume(
        bundle.started("death_registration", MONDAY_9AM),
        bundle.ended(FIRST_END, "death_registration"),
        bundle.started("residence_deregistration", REOPENED),
    )
    assert end_of(view) == ("processing", None, "funeral_allowance")


async def test_a_step_start_replayed_late_from_the_dead_letters_does_not_reopen_an_ended_bundle(
    ctx: IntakeContext, uow: InMemoryIntakeUnitOfWork
) -> None:
    """The registration's start, dead-lettered and replayed after the bundle's end, is from before it:
    taken for a step the bundle ran again for, it would read "processing" for ever."""
    bundle = await DeathBundle.submit(ctx, uow)
    await bundle.consume(bundle.ended(FIRST_END, "death_registration"))
    view = await bundle.consume(bundle.started("death_registration", MONDAY_9AM))
    assert end_of(view) == ("partially_completed", FIRST_END, "funeral_allowance")
    assert bundle.stored_status == "partially_completed"

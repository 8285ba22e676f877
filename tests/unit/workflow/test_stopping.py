"""The SLA timers and the ended bundle sweep stop when cancelled, even when the cancellation surfaces as a
database error; a failed sweep's bundles are the next round's."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from sqlalchemy.exc import PendingRollbackError

from tests.support.cancellation import InterruptedCall, stopped_when_cancelled
from tests.unit.workflow.builders import Harness, submitted
from workcal import vietnam_tz
from workflow.entrypoints import poller
from workflow.service_layer import timers
from workflow.service_layer.context import WorkflowContext
from workflow.service_layer.ports import Timer, UnitOfWorkFactory, WorkflowUnitOfWork

SLOW_TO_ENTER = 30  # s to reach the interrupted call: logging the failed timer's traceback is slow


async def test_firing_timers_stops_when_a_cancelled_postpone_surfaces_as_a_database_error(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Putting back a timer that failed to fire was the one database call whose error left the round
    as it came: the driver's error, not a cancellation, and the poller waited it out and went on."""
    await harness.deliver(submitted(at=harness.now))

    async def fire_failing(timer: Timer, uow: WorkflowUnitOfWork, ctx: WorkflowContext) -> None:
        raise ValueError("this dossier's history does not load")

    monkeypatch.setattr(timers, "fire", fire_failing)
    postpone = InterruptedCall(PendingRollbackError("interrupted in the middle of the operation"))
    monkeypatch.setattr(harness.uow.timers, "postpone", postpone)
    harness.clock.set(datetime(2024, 6, 4, 17, 0, tzinfo=vietnam_tz()))  # its due-soon timer is due
    task = asyncio.create_task(harness.fire_timers())
    assert await stopped_when_cancelled(task, postpone.entered, entering=SLOW_TO_ENTER)


@pytest.mark.parametrize("job", ["timer poller", "ended bundle sweeper"])
async def test_a_background_job_stops_when_its_cancellation_surfaces_as_a_database_error(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, job: str
) -> None:
    """The poller took a stop that came out of a round as the driver's error for the database being
    away: it backed off and polled again, and the service's stop waited its 10 s for nothing."""
    round_interrupted = InterruptedCall(PendingRollbackError("interrupted in the middle of the operation"))

    async def interrupted_round(uow_factory: UnitOfWorkFactory, ctx: WorkflowContext, **_: object) -> int:
        await round_interrupted()
        return 0

    if job == "timer poller":
        monkeypatch.setattr(poller, "fire_due_timers", interrupted_round)
        run = poller.timer_poller(harness.uow, harness.ctx, interval=0.01, batch=100)
    else:
        monkeypatch.setattr(poller, "mend_ended_bundles", interrupted_round)
        run = poller.ended_bundle_sweeper(harness.uow, harness.ctx, interval=0.01)
    task = asyncio.create_task(run())
    assert await stopped_when_cancelled(task, round_interrupted.entered, entering=SLOW_TO_ENTER)


async def test_a_failed_sweep_s_bundles_are_swept_by_the_next_round(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each round looks back to an interval before the last good one began, a mark every replica
    shares; the first of all looks at every ended bundle (None); a failed round (the database away)
    does not move the mark: the bundles it missed are the next round's."""
    sweeps: list[datetime | None] = []
    rounds = asyncio.Event()

    async def sweep(uow_factory: UnitOfWorkFactory, ctx: WorkflowContext, *, since: datetime | None) -> int:
        sweeps.append(since)
        harness.advance(minutes=10)
        if len(sweeps) == 4:
            rounds.set()
        if len(sweeps) == 2:
            raise OSError("the database is away")
        return 0

    monkeypatch.setattr(poller, "mend_ended_bundles", sweep)
    began = harness.now
    task = asyncio.create_task(poller.ended_bundle_sweeper(harness.uow, harness.ctx, interval=0.01)())
    await asyncio.wait_for(rounds.wait(), 5)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    just_before = timedelta(seconds=0.01)
    assert sweeps[:4] == [
        None,  # never swept: every bundle ended partially, whenever
        began - just_before,
        began - just_before,  # the failed round's again
        began + timedelta(minutes=20) - just_before,
    ]
    async with harness.uow as uow:
        assert await uow.bundles.swept_until() is not None  # kept for the other replicas and the next start

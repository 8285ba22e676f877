"""Saving a dossier keeps its task and timers in line, and writes only the rows a change really touches:
a row that neither the loaded state nor the new one has is not deleted again."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from contracts.events.common import DossierStatus
from workflow.adapters.clock import SettableClock
from workflow.adapters.memory import InMemoryTaskBoard, InMemoryTimerTable, InMemoryWorkflowUnitOfWork
from workflow.domain.commands import TimerKind
from workflow.domain.policies import Rules
from workflow.domain.state import DossierState
from workflow.service_layer.context import WorkflowContext
from workflow.service_layer.dossiers import project


class CountingTasks(InMemoryTaskBoard):
    def __init__(self) -> None:
        super().__init__()
        self.removes = 0

    async def remove(self, dossier_id: str) -> None:
        self.removes += 1
        await super().remove(dossier_id)


class CountingTimers(InMemoryTimerTable):
    def __init__(self) -> None:
        super().__init__()
        self.disarms = 0

    async def disarm(self, dossier_id: str, kind: TimerKind | None = None) -> None:
        self.disarms += 1
        await super().disarm(dossier_id, kind)


def _uow() -> tuple[InMemoryWorkflowUnitOfWork, CountingTasks, CountingTimers]:
    uow = InMemoryWorkflowUnitOfWork()
    uow.tasks, uow.timers = CountingTasks(), CountingTimers()
    return uow, uow.tasks, uow.timers


def _state(status: DossierStatus | None, now: datetime, *, due_in_days: int | None = 10) -> DossierState:
    due = now + timedelta(days=due_in_days) if due_in_days is not None else None
    return DossierState(
        "d-1",
        status=status,
        agency="A",
        receiving_agency="R",
        code="C",
        procedure_code="P",
        due_at=due,
        received_at=now,
    )


async def test_no_row_is_deleted_again_when_neither_state_has_it(rules: Rules, clock: SettableClock) -> None:
    ctx = WorkflowContext(rules=rules, clock=clock)
    uow, tasks, timers = _uow()
    before = _state(DossierStatus.SUPPLEMENT_REQUESTED, clock.now())  # no task, the clock paused
    before.paused_since = clock.now()
    after = replace(before, version=before.version + 1)  # e.g. a fee paid meanwhile
    await project(uow, after, ctx, before=before)
    assert (tasks.removes, timers.disarms) == (0, 0)
    await project(uow, after, ctx)  # without the loaded state nothing can be assumed
    assert (tasks.removes, timers.disarms) == (1, 1)


async def test_the_task_and_timers_of_a_dossier_that_moves_on_are_removed(rules: Rules, clock: SettableClock) -> None:
    ctx = WorkflowContext(rules=rules, clock=clock)
    uow, tasks, timers = _uow()
    processing = _state(DossierStatus.PROCESSING, clock.now())
    await project(uow, processing, ctx, before=_state(None, clock.now(), due_in_days=None))
    assert list(tasks.rows) == ["d-1"] and {kind for _, kind in timers.rows} == {"due_soon", "overdue"}
    processed = _state(DossierStatus.PROCESSED, clock.now())
    await project(uow, processed, ctx, before=processing)
    [task] = tasks.rows.values()  # the result is now for the receiving counter to hand over
    assert (task.agency, task.waiting_for, task.due_at) == ("R", "result_return", processed.due_at)
    assert timers.rows == {} and timers.disarms == 1
    await project(uow, _state(DossierStatus.RETURNED, clock.now()), ctx, before=processed)
    assert tasks.rows == {} and tasks.removes == 1

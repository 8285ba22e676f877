"""Reads for the API: a dossier (now or at a past instant), an agency's tasks, a bundle's saga."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from workflow.domain.saga import BundleSaga
from workflow.domain.state import DossierState
from workflow.service_layer.dossiers import load, load_existing
from workflow.service_layer.ports import Task, TaskPosition, WorkflowUnitOfWork


async def dossier(uow: WorkflowUnitOfWork, dossier_id: str, at: datetime | None = None) -> DossierState:
    """The dossier rebuilt from its events (those that occurred by ``at``); DossierNotFound if none."""
    return await load_existing(uow, dossier_id, until=at)


async def tasks(
    uow: WorkflowUnitOfWork,
    agency: str,
    limit: int,
    waiting_for: Collection[str] = (),
    after: TaskPosition | None = None,
) -> list[Task]:
    """Dossiers waiting for an official of ``agency`` (for ``waiting_for``, if given), soonest due first,
    from just after ``after`` (the previous page's last), if given."""
    return await uow.tasks.for_agency(agency, limit, waiting_for, after)


async def bundle(uow: WorkflowUnitOfWork, bundle_id: str) -> BundleSaga | None:
    return await uow.bundles.get(bundle_id)


async def bundle_agencies(uow: WorkflowUnitOfWork, saga: BundleSaga) -> set[str]:
    """The agencies a bundle concerns: the counter that received it, and each step dossier's
    (:attr:`DossierState.agencies`; a step not opened yet has none)."""
    agencies = {saga.receiving_agency}
    for step in saga.steps:
        state = await load(uow, step.dossier_id)
        agencies |= state.agencies
    return agencies - {""}

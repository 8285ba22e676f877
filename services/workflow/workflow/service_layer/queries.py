"""Reads for the API: a dossier (now or at a past instant), an agency's tasks, a bundle's saga."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from workflow.domain.saga import BundleSaga
from workflow.domain.state import DossierState
from workflow.service_layer.dossiers import load_existing
from workflow.service_layer.ports import Task, WorkflowUnitOfWork


async def dossier(uow: WorkflowUnitOfWork, dossier_id: str, at: datetime | None = None) -> DossierState:
    """The dossier rebuilt from its events (those that occurred by ``at``); DossierNotFound if none."""
    return await load_existing(uow, dossier_id, until=at)


async def tasks(uow: WorkflowUnitOfWork, agency: str, limit: int, waiting_for: Collection[str] = ()) -> list[Task]:
    """Dossiers waiting for an official of ``agency`` (for ``waiting_for``, if given), soonest due first."""
    return await uow.tasks.for_agency(agency, limit, waiting_for)


async def bundle(uow: WorkflowUnitOfWork, bundle_id: str) -> BundleSaga | None:
    return await uow.bundles.get(bundle_id)

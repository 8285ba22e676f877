"""Consumer handlers: what workflow and registry-sync publish, applied to the citizen view."""

from __future__ import annotations

from contracts.envelope import EventPayload
from contracts.events import workflow
from eventkit.logging import get_logger
from intake.domain.tracking import registry_change, workflow_change
from intake.service_layer.ports import Dossiers

log = get_logger(__name__)


async def on_workflow_event(event: EventPayload, dossiers: Dossiers) -> None:
    """Dossier lifecycle events move status, handler, dates and timeline; bundle events the bundle."""
    if isinstance(event, workflow.DossierEvent):
        if not await dossiers.apply(workflow_change(event)):
            log.warning("workflow event about an unknown dossier", dossier_id=event.dossier_id, type=event.event_type)
    elif isinstance(event, workflow.BundleStepStarted):
        await dossiers.bundle_step_started(event.bundle_id, event.dossier_id, event.at)
    elif isinstance(event, workflow.BundleCompleted):
        await dossiers.end_bundle(event.bundle_id, "completed", event.at, None, None)
    elif isinstance(event, workflow.BundlePartiallyCompleted):
        await dossiers.end_bundle(event.bundle_id, "partially_completed", event.at, event.failed_step, event.reason)


async def on_registry_event(event: EventPayload, dossiers: Dossiers) -> None:
    """Registry outcomes go on the timeline; portal sync state is shown as a field."""
    change = registry_change(event)
    if change is not None and not await dossiers.apply(change):
        log.warning("registry event about an unknown dossier", dossier_id=change.dossier_id, type=event.event_type)

"""Consumer handlers: what workflow and registry-sync publish, applied to the citizen view."""

from __future__ import annotations

from collections.abc import Sequence

from contracts.catalogue import Catalogue
from contracts.envelope import EventPayload
from contracts.events import workflow
from eventkit.logging import get_logger
from intake.domain.submission import step_subject
from intake.domain.tracking import DossierChange, registry_change, workflow_change
from intake.service_layer.ports import Dossiers

log = get_logger(__name__)


async def on_events(events: Sequence[EventPayload], dossiers: Dossiers, catalogue: Catalogue | None = None) -> None:
    """A consumer transaction's workflow and registry events, in order.

    Dossier lifecycle events move status, handler, dates and timeline; registry outcomes go on the
    timeline and portal sync state is shown as a field; a bundle's ending moves the bundle, a step's
    start is kept on the step's dossier (the bundle reads "processing" from its steps, once an agency
    took one on: an online bundle's first step starts at submission and waits for its acceptance). A
    step started after its bundle ended partially runs the bundle again until its second end (workflow
    starting the step an older replica left held): it read "partially_completed" meanwhile. The
    dossier changes are applied together at the end, in the order of their events (one round trip). A
    bundle step whose subject was not known at submission (the child's number, from the birth
    registration) gets its subject digest as it starts, from its data: until then a standalone dossier
    for the same child went through the duplicate check."""
    changes: list[DossierChange] = []
    subjects: list[tuple[workflow.BundleStepStarted, tuple[str, str]]] = []
    reported: dict[int, str] = {}  # index in changes → the event type to name if its dossier is unknown
    for event in events:
        if isinstance(event, workflow.DossierEvent):
            reported[len(changes)] = event.event_type
            changes.append(workflow_change(event))
        elif isinstance(event, workflow.BundleStepStarted):
            changes.append(DossierChange(event.dossier_id, step_started_at=event.at))
            await dossiers.reopen_bundle(event.bundle_id, event.at)
            if catalogue is not None and (subject := step_subject(catalogue, event.bundle_type, event.step_id,
                                                                  event.inputs)):  # fmt: skip
                subjects.append((event, subject))
        elif isinstance(event, workflow.BundleCompleted):
            await dossiers.end_bundle(event.bundle_id, "completed", event.at, None, None)
        elif isinstance(event, workflow.BundlePartiallyCompleted):
            await dossiers.end_bundle(event.bundle_id, "partially_completed", event.at, event.failed_step, event.reason)
        elif (change := registry_change(event)) is not None:
            reported[len(changes)] = event.event_type
            changes.append(change)
    unknown = await dossiers.apply_many(changes)
    for index, event_type in reported.items():
        if changes[index].dossier_id in unknown:
            log.warning("event about an unknown dossier", dossier_id=changes[index].dossier_id, type=event_type)
    for step, (procedure_code, key) in subjects:
        if (other := await dossiers.key_subject(step.dossier_id, procedure_code, key)) is not None:
            # Submitted on its own while the bundle waited for this step's subject: both stay open,
            # for officials to see (workflow decides), and this step keeps no digest.
            log.warning("a bundle step has the subject of another open dossier", dossier_id=step.dossier_id,
                        bundle_id=step.bundle_id, step=step.step_id, other=other)  # fmt: skip


async def on_workflow_event(event: EventPayload, dossiers: Dossiers) -> None:
    """One workflow event (see :func:`on_events`)."""
    await on_events([event], dossiers)


async def on_registry_event(event: EventPayload, dossiers: Dossiers) -> None:
    """One registry outcome (see :func:`on_events`)."""
    await on_events([event], dossiers)

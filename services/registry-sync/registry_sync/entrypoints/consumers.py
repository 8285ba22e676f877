"""Kafka handlers: turn an envelope into a call of a service-layer handler inside the inbox's
transaction. No external call happens here; workers make those."""

from __future__ import annotations

from collections.abc import Sequence

from structlog.contextvars import bound_contextvars

from contracts.envelope import Envelope, registered_events
from contracts.events.intake import BundleSubmitted, DossierSubmitted, FeePaid, SupplementProvided
from contracts.events.registry import RegistryCommandRequested
from contracts.events.workflow import DossierEvent
from contracts.topics import Topics
from eventkit.consumer import BatchDispatcher, Dispatcher
from eventkit.runtime import ConsumerSpec
from eventkit.uow import SqlUnitOfWork
from registry_sync.adapters.operations import RegistryOperations
from registry_sync.adapters.repository import SqlRegistryUnitOfWork
from registry_sync.service_layer.commands import record_command
from registry_sync.service_layer.portal_sync import record_dossier_events
from registry_sync.service_layer.unit_of_work import Clock
from registry_sync.service_layer.workers import Wakeups

#: Intake events that carry what the portal needs about a dossier.
INTAKE_EVENTS = (DossierSubmitted, BundleSubmitted, FeePaid, SupplementProvided)


def dossier_event_types() -> list[str]:
    """Every intake event above and every workflow lifecycle event (each carries the status)."""
    lifecycle = [m.event_type for m in registered_events() if issubclass(m, DossierEvent)]
    return sorted({*(m.event_type for m in INTAKE_EVENTS), *lifecycle})


def consumer_specs(
    topics: Topics,
    operations: RegistryOperations,
    clock: Clock,
    *,
    portal_settle_seconds: float = 0.0,
    wakeups: Wakeups | None = None,
) -> list[ConsumerSpec]:
    """With ``wakeups``, the worker of each recorded command's system looks for it once committed."""

    async def on_command(envelope: Envelope, uow: SqlUnitOfWork) -> None:
        with bound_contextvars(dossier_id=envelope.key, correlation_id=envelope.correlation_id):
            system = await record_command(
                envelope, SqlRegistryUnitOfWork(uow), operations=operations, topic=topics.registry_events, now=clock()
            )
        if wakeups is not None and system is not None:
            wakeups.note(system)

    async def on_dossier_events(envelopes: Sequence[Envelope], uow: SqlUnitOfWork) -> None:
        first = envelopes[0]  # the batch is one partition's: its first event names it in the logs
        with bound_contextvars(dossier_id=first.key, correlation_id=first.correlation_id):
            await record_dossier_events(
                envelopes, SqlRegistryUnitOfWork(uow), now=clock(), settle_seconds=portal_settle_seconds
            )

    return [
        ConsumerSpec(
            "commands",
            [topics.registry_commands],
            Dispatcher({RegistryCommandRequested.event_type: on_command}),
            on_applied=wakeups,
        ),
        ConsumerSpec(
            "dossiers",
            [topics.intake_events, topics.workflow_events],
            BatchDispatcher(dossier_event_types(), on_dossier_events),
        ),
    ]

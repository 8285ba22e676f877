"""Builders of intake and registry events, and a harness that runs workflow's handlers in memory."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from contracts.envelope import Envelope, EventPayload
from contracts.events import intake, registry
from contracts.events import workflow as wf
from contracts.events.common import Applicant, Delivery, Document
from workflow.adapters.clock import SettableClock
from workflow.adapters.memory import InMemoryWorkflowUnitOfWork
from workflow.domain.commands import MakeDecision
from workflow.domain.policies import Rules
from workflow.domain.state import DossierState
from workflow.entrypoints import consumers
from workflow.service_layer import dossiers, handlers
from workflow.service_layer.context import Cause, WorkflowContext
from workflow.service_layer.timers import fire_due_timers

APPLICANT = Applicant(id_number="036190000123", full_name="Nguyễn Văn An")
BIRTH_FORM: dict[str, Any] = {
    "child": {
        "full_name": "Nguyễn Văn Bình",
        "sex": "male",
        "date_of_birth": "2024-05-20",
        "place_of_birth": "Bệnh viện",
    },
    "mother": {"id_number": "036190000456", "full_name": "Trần Thị Cúc"},
    "residence": {"address": "Số 5, phường Phúc Lợi", "household_head_id_number": "036190000123"},
}
DEATH_FORM: dict[str, Any] = {
    "deceased": {
        "id_number": "036050000789",
        "full_name": "Lê Văn Dũng",
        "date_of_death": "2024-05-30",
        "place_of_death": "Tại nhà",
    },
    "declarant_relation": "con",
    "funeral_allowance": "social_insurance",
}
LAND_FORM: dict[str, Any] = {}


def new_id() -> str:
    return str(uuid.uuid4())


def submitted(
    *,
    procedure_code: str = "2.001610",
    channel: str = "counter",
    receiving_agency: str = "TTPVHCC-BINHAN",
    competent_agency: str = "SKHDT-BINHAN",
    at: datetime,
    due_at: datetime | None = None,
    fee: int = 50_000,
    form: dict[str, Any] | None = None,
    dossier_id: str | None = None,
    bundle_id: str | None = None,
    bundle_step: str | None = None,
    documents: list[Document] | None = None,
    delivery: Delivery | None = None,
) -> intake.DossierSubmitted:
    online = channel == "online"
    return intake.DossierSubmitted(
        dossier_id=dossier_id or new_id(),
        code=f"{receiving_agency}-240603-{uuid.uuid4().int % 10000:04d}",
        procedure_code=procedure_code,
        catalogue_version="test",
        channel=channel,  # type: ignore[arg-type]
        receiving_agency=receiving_agency,
        competent_agency=competent_agency,
        applicant=APPLICANT,
        form=form or {},
        documents=documents or [],
        fee=fee,
        status="registered" if online else "received",  # type: ignore[arg-type]
        submitted_at=at,
        received_at=None if online else at,
        due_at=None if online else due_at,
        bundle_id=bundle_id,
        bundle_step=bundle_step,
        delivery=delivery or Delivery(),
    )


def bundle_submitted(
    bundle_type: str,
    form: dict[str, Any],
    steps: list[tuple[str, str]],
    *,
    at: datetime,
    channel: str = "counter",
    receiving_agency: str = "UBND-P-PHUCLOI",
    delivery: Delivery | None = None,
) -> intake.BundleSubmitted:
    return intake.BundleSubmitted(
        bundle_id=new_id(),
        bundle_type=bundle_type,
        catalogue_version="test",
        channel=channel,  # type: ignore[arg-type]
        receiving_agency=receiving_agency,
        applicant=APPLICANT,
        form=form,
        steps=[
            intake.BundleStep(
                step_id=s, procedure_code=p, dossier_id=new_id(), code=f"{receiving_agency}-240603-{i:04d}"
            )
            for i, (s, p) in enumerate(steps, start=1)
        ],
        submitted_at=at,
        delivery=delivery or Delivery(),
    )


def step_submitted(
    bundle: intake.BundleSubmitted,
    step: intake.BundleStep,
    *,
    at: datetime,
    due_at: datetime | None = None,
    channel: str = "counter",
) -> intake.DossierSubmitted:
    """What intake publishes for one step of ``bundle``: its dossier, at the bundle's counter, its
    competent agency left to workflow's routing."""
    return submitted(
        procedure_code=step.procedure_code,
        dossier_id=step.dossier_id,
        at=at,
        due_at=due_at,
        channel=channel,
        fee=0,
        receiving_agency=bundle.receiving_agency,
        competent_agency="",
        bundle_id=bundle.bundle_id,
        bundle_step=step.step_id,
    )


BIRTH_STEPS = [
    ("birth_registration", "1.001193"),
    ("permanent_residence", "1.004222"),
    ("health_insurance_card", "9.000001"),
]
DEATH_STEPS = [("death_registration", "1.000656"), ("residence_deregistration", "1.003197")]


class Harness:
    """Feeds events and decisions to the real handlers over in-memory fakes."""

    def __init__(self, rules: Rules, clock: SettableClock) -> None:
        self.clock = clock
        self.uow = InMemoryWorkflowUnitOfWork()
        self.ctx = WorkflowContext(rules=rules, clock=clock)
        self._work = {
            "DossierSubmitted": consumers.on_dossier_submitted,
            "BundleSubmitted": consumers.on_bundle_submitted,
            "SupplementProvided": consumers.on_supplement,
            "FeePaid": consumers.on_fee_paid,
            "WithdrawalRequested": consumers.on_withdrawal,
            "RegistryCommandSucceeded": consumers.on_registry_succeeded,
            "RegistryCommandFailed": consumers.on_registry_failed,
        }

    @property
    def now(self) -> datetime:
        return self.clock.now()

    def advance(self, **delta: float) -> None:
        self.clock.advance(timedelta(**delta))

    async def deliver(self, payload: EventPayload, *, key: str | None = None, envelope: Envelope | None = None) -> None:
        """What the inbox consumer does with one event (without the Kafka part)."""
        envelope = envelope or Envelope.wrap(
            payload, key=key or getattr(payload, "dossier_id", None) or payload.bundle_id, producer="tests"
        )
        async with self.uow as uow:
            await self._work[envelope.type](envelope, uow, self.ctx, Cause.of(envelope))

    async def decide(self, dossier_id: str, decision: str, official_id: str = "cb-01", **fields: Any) -> DossierState:
        command = MakeDecision(dossier_id=dossier_id, decision=decision, official_id=official_id, **fields)  # type: ignore[arg-type]
        return await handlers.make_decision(command, self.uow, self.ctx, Cause(None, "test"))

    async def state(self, dossier_id: str, *, until: datetime | None = None) -> DossierState:
        async with self.uow as uow:
            return await dossiers.load(uow, dossier_id, until=until)

    async def fire_timers(self) -> int:
        return await fire_due_timers(self.uow, self.ctx)

    def published(self, topic: str = "workflow.events") -> list[Envelope]:
        return self.uow.outbox.envelopes(topic)

    def published_types(self, key: str, topic: str = "workflow.events") -> list[str]:
        return [e.type for e in self.published(topic) if e.key == key]

    def commands(self) -> list[registry.RegistryCommandRequested]:
        out = []
        for envelope in self.published("registry.commands"):
            payload = envelope.parse_payload()
            assert isinstance(payload, registry.RegistryCommandRequested)
            out.append(payload)
        return out

    async def answer(
        self,
        command: registry.RegistryCommandRequested,
        result: dict[str, Any] | None = None,
        *,
        fail: str | None = None,
        error: str | None = None,
        attempts: int = 1,
    ) -> None:
        """Play registry-sync: reply to a command (``fail``: failed, with that reason and ``error``)."""
        if fail is not None:
            reply: EventPayload = registry.RegistryCommandFailed(
                command_id=command.command_id,
                system=command.system,
                operation=command.operation,
                dossier_id=command.dossier_id,
                reason=fail,
                attempts=attempts,
                failed_at=self.now,
                error=error,
            )
        else:
            reply = registry.RegistryCommandSucceeded(
                command_id=command.command_id,
                system=command.system,
                operation=command.operation,
                dossier_id=command.dossier_id,
                result=result or {},
                attempts=1,
                completed_at=self.now,
            )
        await self.deliver(reply)

    def bundle_events(self, bundle_id: str) -> list[wf.WorkflowEvent]:
        return [e.parse_payload() for e in self.published() if e.key == bundle_id]  # type: ignore[misc]

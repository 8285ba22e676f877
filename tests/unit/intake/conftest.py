"""Intake's handlers driven with in-memory adapters, a fixed clock and the packaged catalogue."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from contracts.catalogue import load_catalogue
from contracts.events.common import Applicant, Delivery, Document
from intake.adapters.memory import InMemoryIntakeUnitOfWork
from intake.domain.commands import SubmitBundle, SubmitDossier
from intake.domain.rules import IntakeRules
from intake.service_layer.handlers import IntakeContext
from tests.unit.intake.samples import MONDAY_9AM
from workcal import WorkCalendar


@pytest.fixture(scope="session")
def rules() -> IntakeRules:
    return IntakeRules.build(load_catalogue(), WorkCalendar())


class Clock:
    """A clock the test sets."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(MONDAY_9AM)


@pytest.fixture
def uow() -> InMemoryIntakeUnitOfWork:
    return InMemoryIntakeUnitOfWork()


@pytest.fixture
def ctx(rules: IntakeRules, clock: Clock, uow: InMemoryIntakeUnitOfWork) -> IntakeContext:
    return IntakeContext(rules=rules, topic="intake.events", clock=clock, uow=lambda: uow)


def dossier_command(body: dict[str, Any]) -> SubmitDossier:
    return SubmitDossier(
        procedure_code=body["procedure_code"],
        channel=body["channel"],
        receiving_agency=body["receiving_agency"],
        applicant=Applicant(**body["applicant"]),
        form=body["form"],
        documents=[Document(**d) for d in body.get("documents", [])],
        delivery=Delivery(**body.get("result_delivery", {})),
    )


def bundle_command(body: dict[str, Any]) -> SubmitBundle:
    return SubmitBundle(
        bundle_type=body["bundle_type"],
        channel=body["channel"],
        receiving_agency=body["receiving_agency"],
        applicant=Applicant(**body["applicant"]),
        form=body["form"],
        documents=[Document(**d) for d in body.get("documents", [])],
        delivery=Delivery(**body.get("result_delivery", {})),
    )

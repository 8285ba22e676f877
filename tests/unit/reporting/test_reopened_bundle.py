"""A bundle workflow runs again after ending it partially (the sweep starting the step an older replica
left held during a rolling deploy): in progress until it ends a second time, in any arrival order."""

from __future__ import annotations

from datetime import datetime

import pytest

from contracts.envelope import Envelope, EventPayload
from contracts.events import intake, workflow
from reporting.domain.facts import BundleFacts
from reporting.domain.outcome import Derivation
from reporting.service_layer.projector import project
from tests.unit.reporting import scenario
from tests.unit.reporting.fakes import InMemoryProjectionStore, catalogue_derivation

# Mon 4 March: submitted, the death registered; Tue 5: an older replica ends the bundle as the family
# withdrew the funeral allowance; Wed 6: the sweep starts the deregistration it left held; Thu 7: the
# bundle ends again. Mon 09:00 → Thu 11:30 is 6.5 h + 8 h + 8 h + 4 h = 26.5 office hours.
SUBMITTED, FIRST_END = scenario.at(4, 9), scenario.at(5, 11, 30)
REOPENED, SECOND_END = scenario.at(6, 9), scenario.at(7, 11, 30)
E2E_DAYS = 26.5 / 8
STEPS = [("death_registration", "1.000656"), ("residence_deregistration", "1.003197"),
         ("funeral_allowance", "9.000002")]  # fmt: skip


@pytest.fixture(scope="module")
def derive() -> Derivation:
    return catalogue_derivation()


def wrap(payload: EventPayload, when: datetime) -> Envelope:
    return Envelope.wrap(payload, key="B", producer=payload.topic_role, occurred_at=when)


def submitted() -> Envelope:
    steps = [intake.BundleStep(step_id=s, procedure_code=p, dossier_id=f"B-{s}", code=s) for s, p in STEPS]
    return wrap(intake.BundleSubmitted(bundle_id="B", bundle_type="death", catalogue_version="test",
                                       channel="counter", receiving_agency="UBND-X-YENHOA",
                                       applicant=scenario.APPLICANT, form={}, steps=steps, submitted_at=SUBMITTED),
                SUBMITTED)  # fmt: skip


def started(step: str, at: datetime) -> Envelope:
    return wrap(workflow.BundleStepStarted(bundle_id="B", bundle_type="death", at=at, step_id=step,
                                           dossier_id=f"B-{step}", inputs={}), at)  # fmt: skip


def ended(at: datetime, *completed: str) -> Envelope:
    return wrap(workflow.BundlePartiallyCompleted(bundle_id="B", bundle_type="death", at=at,
                                                  failed_step="funeral_allowance", reason="gia đình không nhận",
                                                  completed_steps=list(completed)), at)  # fmt: skip


REGISTERED = started("death_registration", SUBMITTED)
FIRST = ended(FIRST_END, "death_registration")
REOPENING = started("residence_deregistration", REOPENED)
SECOND = ended(SECOND_END, "death_registration", "residence_deregistration")


async def bundle_after(store: InMemoryProjectionStore, derive: Derivation, *envelopes: Envelope) -> BundleFacts:
    """Each envelope in its own call, as the live consumer (and a replay of the dead letters) applies them."""
    for envelope in envelopes:
        await project([(envelope, envelope.parse_payload())], store, derive)
    return store.bundles["B"]


def end_of(facts: BundleFacts) -> tuple[datetime | None, str | None, str | None, float | None]:
    return facts.ended_at, facts.outcome, facts.failed_step, facts.e2e_days


async def test_a_bundle_run_again_after_its_partial_end_is_in_progress_until_it_ends_again(derive: Derivation) -> None:
    """The first end was kept for good: the bundle never counted in progress while the deregistration
    ran, and its end-to-end time stopped on Tuesday, the day the older replica ended it."""
    store = InMemoryProjectionStore()
    running = await bundle_after(store, derive, submitted(), REGISTERED, FIRST, REOPENING)
    assert end_of(running) == (None, None, None, None)
    assert running.steps_started == 2
    again = await bundle_after(store, derive, SECOND)
    assert end_of(again) == (SECOND_END, "partial", "funeral_allowance", E2E_DAYS)


async def test_a_rebuild_ends_a_bundle_run_again_at_its_second_end(derive: Derivation) -> None:
    """A rebuild reads one bundle's events in the order workflow published them, in batches: it kept
    the first end as the live projection did."""
    store = InMemoryProjectionStore()
    events = [submitted(), REGISTERED, FIRST, REOPENING, SECOND]
    await project([(e, e.parse_payload()) for e in events], store, derive)
    assert end_of(store.bundles["B"]) == (SECOND_END, "partial", "funeral_allowance", E2E_DAYS)


async def test_a_step_start_replayed_late_from_the_dead_letters_does_not_reopen_an_ended_bundle(
    derive: Derivation,
) -> None:
    """The registration's start, dead-lettered and replayed after the bundle's end, is from before it:
    taken for a step the bundle ran again for, it would leave the bundle in progress for ever."""
    store = InMemoryProjectionStore()
    facts = await bundle_after(store, derive, submitted(), FIRST, REGISTERED)
    assert end_of(facts)[:3] == (FIRST_END, "partial", "funeral_allowance")


@pytest.mark.parametrize(
    "order",
    [[REGISTERED, FIRST, SECOND, REOPENING], [REGISTERED, REOPENING, SECOND, FIRST]],
    ids=["the reopening start replayed late", "the first end replayed late"],
)
async def test_a_bundle_run_again_ends_at_its_second_end_whichever_event_the_dead_letters_held_back(
    derive: Derivation, order: list[Envelope]
) -> None:
    """The step start that reopened the bundle, dead-lettered and replayed after the second end: the
    first end was kept over the second, and the late start then reopened the bundle for good, no end
    coming after it."""
    store = InMemoryProjectionStore()
    facts = await bundle_after(store, derive, submitted(), *order)
    assert end_of(facts) == (SECOND_END, "partial", "funeral_allowance", E2E_DAYS)

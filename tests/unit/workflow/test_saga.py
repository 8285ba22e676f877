"""Linked-procedure sagas over in-memory fakes: steps start in order with the data earlier steps produced,
registry steps go out as commands, duplicates and reorderings never start a step twice."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from contracts import citizen_id
from contracts.envelope import Envelope
from contracts.events import intake
from contracts.events import workflow as wf
from contracts.events.common import Delivery, Document, DossierStatus
from tests.unit.workflow.builders import (
    BIRTH_FORM,
    BIRTH_STEPS,
    DEATH_FORM,
    DEATH_STEPS,
    Harness,
    bundle_submitted,
    step_submitted,
)
from workcal import vietnam_tz
from workflow.domain import deadlines
from workflow.domain.errors import IllegalTransition
from workflow.domain.lifecycle import ENDED_WITHOUT_RESULT
from workflow.entrypoints.schemas import DossierPublic
from workflow.service_layer import sagas
from workflow.service_layer.context import Cause
from workflow.service_layer.ports import Timer


def started_steps(harness: Harness, bundle_id: str) -> list[str]:
    return [e.step_id for e in harness.bundle_events(bundle_id) if isinstance(e, wf.BundleStepStarted)]


def death_bundle_with_the_allowance(harness: Harness) -> intake.BundleSubmitted:
    """A death bundle whose family chose the funeral allowance (social insurance), submitted now."""
    steps = [*DEATH_STEPS, ("funeral_allowance", "9.000002")]
    return bundle_submitted("death", {**DEATH_FORM, "funeral_allowance": "social_insurance"}, steps, at=harness.now)


async def death_bundle_at_the_counter_with_the_allowance(harness: Harness) -> intake.BundleSubmitted:
    """That bundle at the counter, every step's dossier delivered before it."""
    bundle = death_bundle_with_the_allowance(harness)
    for step in bundle.steps:
        await harness.deliver(step_submitted(bundle, step, at=harness.now))
    await harness.deliver(bundle)
    return bundle


async def test_birth_bundle_runs_every_step_with_the_data_it_needs(harness: Harness) -> None:
    bundle = bundle_submitted("birth", BIRTH_FORM, BIRTH_STEPS, at=harness.now)
    certificate = Document(kind="giay_chung_sinh", digitized=True, reused=False)
    steps = [bundle.steps[0].model_copy(update={"documents": [certificate]}), *bundle.steps[1:]]
    bundle = bundle.model_copy(update={"steps": steps})
    birth, residence, insurance = bundle.steps
    await harness.deliver(bundle)
    assert started_steps(harness, bundle.bundle_id) == ["birth_registration"]
    first = await harness.state(birth.dossier_id)
    assert first.status is DossierStatus.PROCESSING and first.agency == "UBND-P-PHUCLOI"
    assert first.documents == [certificate]  # the saga opened it: its documents come with the bundle

    approved = await harness.decide(birth.dossier_id, "approve")
    number = approved.results[0].data["personal_id_number"]
    assert citizen_id.is_valid(number)
    assert started_steps(harness, bundle.bundle_id) == ["birth_registration", "permanent_residence"]
    [command] = harness.commands()
    assert (command.system, command.operation) == ("population_db", "register_permanent_residence")
    assert command.data["person"]["id_number"] == number
    assert command.bundle_id == bundle.bundle_id and command.step_id == "permanent_residence"
    state = await harness.state(residence.dossier_id)
    assert state.status is DossierStatus.PROCESSING and state.waiting_for_registry
    assert await harness.uow.tasks.for_agency(state.agency, 10) == []  # registries, not officials, do it

    await harness.answer(command, {"residence_address": "Số 5, phường Phúc Lợi", "household_id": "HK-1"})
    await harness.answer(command, {"residence_address": "ignored duplicate", "household_id": "HK-2"})
    _, card = harness.commands()
    assert (card.system, card.operation) == ("social_insurance", "issue_child_health_insurance_card")
    assert card.data["address"] == "Số 5, phường Phúc Lợi"
    assert card.data["child"]["personal_id_number"] == number

    await harness.answer(card, {"card_number": "TE1234567890", "valid_until": "2030-05-19"})
    events = harness.bundle_events(bundle.bundle_id)
    assert isinstance(events[-1], wf.BundleCompleted)
    assert events[-1].results["health_insurance_card"]["card_number"] == "TE1234567890"
    assert events[-1].results["permanent_residence"]["household_id"] == "HK-1"
    assert len(harness.commands()) == 2
    done = await harness.state(insurance.dossier_id)
    assert done.status is DossierStatus.PROCESSED
    # A registry's result is a paper too: its QR code names the bundle's applicant (the saga opened the step).
    [card_result] = done.results
    assert card_result.qr_code is not None
    assert json.loads(card_result.qr_code)["so_dinh_danh"] == bundle.applicant.id_number


async def test_step_dossiers_submitted_before_or_after_the_bundle_start_once(harness: Harness) -> None:
    bundle = bundle_submitted("birth", BIRTH_FORM, BIRTH_STEPS, at=harness.now)
    birth, residence, _ = bundle.steps

    def step_dossier(step: intake.BundleStep) -> intake.DossierSubmitted:
        return step_submitted(bundle, step, at=harness.now)

    await harness.deliver(step_dossier(residence))  # before its bundle: held, not on anyone's task list
    held = await harness.state(residence.dossier_id)
    assert held.status is DossierStatus.RECEIVED and held.held
    assert await harness.uow.tasks.for_agency(held.competent_agency, 10) == []
    await harness.deliver(bundle)
    await harness.deliver(bundle)
    await harness.deliver(step_dossier(birth))  # after: already opened from the bundle
    assert started_steps(harness, bundle.bundle_id) == ["birth_registration"]
    await harness.decide(birth.dossier_id, "approve")
    await harness.decide(birth.dossier_id, "return_result")
    assert started_steps(harness, bundle.bundle_id) == ["birth_registration", "permanent_residence"]
    assert len(harness.commands()) == 1


async def test_every_step_of_a_bundle_delivered_online_is_returned_as_its_result_is_issued(harness: Harness) -> None:
    bundle = bundle_submitted("birth", BIRTH_FORM, BIRTH_STEPS, at=harness.now, delivery=Delivery(method="online"))
    birth, residence, _ = bundle.steps
    await harness.deliver(bundle)
    assert (await harness.decide(birth.dossier_id, "approve")).status is DossierStatus.RETURNED
    [command] = harness.commands()
    await harness.answer(command, {"residence_address": "Số 5, phường Phúc Lợi", "household_id": "HK-1"})
    assert (await harness.state(residence.dossier_id)).status is DossierStatus.RETURNED
    assert started_steps(harness, bundle.bundle_id)[-1] == "health_insurance_card"  # the saga went on


async def test_a_failed_registry_step_ends_the_bundle_partially_with_its_cause_in_vietnamese(harness: Harness) -> None:
    """The stop reason (form 05) and the bundle's reason were registry-sync's text for operators, '422
    validation_failed: address.ward: Field required': an HTTP status and the system's English words."""
    bundle = bundle_submitted("birth", BIRTH_FORM, BIRTH_STEPS, at=harness.now)
    birth, residence, insurance = bundle.steps
    await harness.deliver(bundle)
    await harness.decide(birth.dossier_id, "approve")
    [command] = harness.commands()
    await harness.answer(command, fail="422 validation_failed: address.ward: Field required", error="validation_failed")
    await harness.answer(command, {"residence_address": "too late"})

    cause = "hệ thống không chấp nhận dữ liệu của hồ sơ"
    ended = harness.bundle_events(bundle.bundle_id)[-1]
    assert isinstance(ended, wf.BundlePartiallyCompleted)
    assert ended.failed_step == "permanent_residence" and cause in ended.reason and "422" not in ended.reason
    assert ended.completed_steps == ["birth_registration"]
    assert (await harness.state(residence.dossier_id)).status is DossierStatus.STOPPED
    [stopped] = [e for e in harness.published() if e.type == "DossierStopped"]
    assert stopped.payload["reason"] == f"hệ thống quốc gia không thực hiện được: {cause}"
    assert not (await harness.state(insurance.dossier_id)).exists
    assert len(harness.commands()) == 1


@pytest.mark.parametrize("channel", ["counter", "online"])
async def test_a_step_whose_inputs_an_earlier_step_did_not_give_is_stopped_with_the_bundle(
    harness: Harness, channel: str
) -> None:
    """The registry answered the residence step without the address the card step needs: the bundle
    ended, and the card step's own dossier stayed received (or registered) for ever."""
    bundle = bundle_submitted("birth", BIRTH_FORM, BIRTH_STEPS, at=harness.now, channel=channel)
    for step in bundle.steps:
        await harness.deliver(step_submitted(bundle, step, at=harness.now, channel=channel))
    await harness.deliver(bundle)
    birth, _, insurance = bundle.steps
    if channel == "online":
        await harness.decide(birth.dossier_id, "accept")
    await harness.decide(birth.dossier_id, "approve")
    [command] = harness.commands()
    await harness.answer(command, {"household_id": "HK-1"})  # no residence_address
    ended = harness.bundle_events(bundle.bundle_id)[-1]
    assert isinstance(ended, wf.BundlePartiallyCompleted) and ended.failed_step == "health_insurance_card"
    state = await harness.state(insurance.dossier_id)
    assert state.status in ENDED_WITHOUT_RESULT and state.ended_at is not None
    [ending] = [e.payload for e in harness.published() if e.key == insurance.dossier_id and "reason" in e.payload]
    assert ending["reason"].startswith("hồ sơ liên thông dừng ở bước «") and ending["on_time"] is None


async def test_what_an_official_s_decision_makes_the_bundle_do_stays_in_the_bundle_s_chain(harness: Harness) -> None:
    """The decision comes with no correlation id: the bundle's events and the next step's dossier, which
    the saga opened itself, each started a chain of their own."""
    bundle = bundle_submitted("birth", BIRTH_FORM, BIRTH_STEPS, at=harness.now)
    submitted = Envelope.wrap(bundle, key=bundle.bundle_id, producer="intake", correlation_id="BUNDLE-CORR")
    await harness.deliver(bundle, envelope=submitted)
    birth, residence, _ = bundle.steps
    await harness.decide(birth.dossier_id, "approve")
    keys = {bundle.bundle_id, residence.dossier_id}
    later = [e for e in harness.published() if e.key in keys]
    assert {e.type for e in later} >= {"BundleStepStarted", "DossierReceived"}
    assert {e.correlation_id for e in later} == {"BUNDLE-CORR"}


async def test_citizens_read_why_a_bundle_stopped_in_vietnamese_on_every_stopped_step(harness: Harness) -> None:
    """The registry did not answer: the residence step's timeline read 'gave up after 6 attempts: timeout:
    ReadTimeout', and a step dossier arriving after the bundle ended 'bundle ended at step …'."""
    bundle = bundle_submitted("birth", BIRTH_FORM, BIRTH_STEPS, at=harness.now)
    birth, residence, insurance = bundle.steps
    await harness.deliver(bundle)
    await harness.decide(birth.dossier_id, "approve")
    [command] = harness.commands()
    await harness.answer(command, fail="gave up after 6 attempts: timeout: ReadTimeout", error="gave_up", attempts=6)
    await harness.deliver(step_submitted(bundle, insurance, at=harness.now))  # late: the bundle has ended

    stopped = {e.key: e.payload["reason"] for e in harness.published() if e.type == "DossierStopped"}
    no_answer = "hệ thống quốc gia không thực hiện được: hệ thống không phản hồi sau 6 lần gửi yêu cầu"
    assert stopped[residence.dossier_id] == no_answer
    assert stopped[insurance.dossier_id].startswith("hồ sơ liên thông dừng ở bước «")
    assert not any("gave up" in reason or "bundle ended" in reason for reason in stopped.values())


async def test_a_rejected_official_step_ends_the_bundle_and_stops_the_later_steps(harness: Harness) -> None:
    bundle = bundle_submitted("birth", BIRTH_FORM, BIRTH_STEPS, at=harness.now)
    birth, residence, _ = bundle.steps
    later = step_submitted(bundle, residence, at=harness.now)
    await harness.deliver(later)
    await harness.deliver(bundle)
    await harness.decide(birth.dossier_id, "reject", reason="giấy chứng sinh không hợp lệ")
    ended = harness.bundle_events(bundle.bundle_id)[-1]
    assert isinstance(ended, wf.BundlePartiallyCompleted) and ended.completed_steps == []
    assert (await harness.state(residence.dossier_id)).status is DossierStatus.STOPPED
    # The citizen reads on the later step's timeline where the bundle stopped, by the procedure's name.
    [stopped] = [e for e in harness.published() if e.type == "DossierStopped" and e.key == residence.dossier_id]
    assert stopped.payload["reason"] == "hồ sơ liên thông dừng ở bước «Đăng ký khai sinh»: giấy chứng sinh không hợp lệ"
    assert stopped.payload["on_time"] is None and stopped.payload["step_started"] is False  # no agency had it
    assert harness.commands() == []


async def test_a_step_stopped_while_held_waits_for_nothing(harness: Harness) -> None:
    """Held for the birth registration and stopped with the bundle, the residence step's view said it
    waited for an earlier step of its bundle, and a decision on it was refused for that reason."""
    bundle = bundle_submitted("birth", BIRTH_FORM, BIRTH_STEPS, at=harness.now)
    birth, residence, _ = bundle.steps
    for step in bundle.steps:
        await harness.deliver(step_submitted(bundle, step, at=harness.now))
    await harness.deliver(bundle)
    await harness.decide(birth.dossier_id, "reject", reason="giấy chứng sinh không hợp lệ")
    state = await harness.state(residence.dossier_id)
    assert state.status is DossierStatus.STOPPED
    assert DossierPublic.of(state, harness.ctx.rules.procedure(state.procedure_code)).waiting_for is None
    with pytest.raises(IllegalTransition) as refused:
        await harness.decide(residence.dossier_id, "return_result")
    assert "earlier step" not in str(refused.value)


async def test_a_later_step_withdrawn_leaves_the_step_at_work_to_finish(harness: Harness) -> None:
    """The family withdraws the funeral allowance while the police deregister the residence: the
    deregistration (which the registry may already have done) is not stopped, its result is kept,
    and the bundle ends partially once it arrives."""
    bundle = death_bundle_with_the_allowance(harness)
    registration, deregistration, allowance = bundle.steps
    await harness.deliver(step_submitted(bundle, allowance, at=harness.now))
    await harness.deliver(bundle)
    await harness.decide(registration.dossier_id, "approve")
    [command] = harness.commands()
    assert command.step_id == "residence_deregistration"

    withdrawal = intake.WithdrawalRequested(
        dossier_id=allowance.dossier_id, reason="gia đình không nhận", requested_at=harness.now
    )
    await harness.deliver(withdrawal)
    assert (await harness.state(allowance.dossier_id)).status is DossierStatus.WITHDRAWAL_REQUESTED
    assert (await harness.state(deregistration.dossier_id)).status is DossierStatus.PROCESSING
    assert not isinstance(harness.bundle_events(bundle.bundle_id)[-1], wf.BundlePartiallyCompleted)

    await harness.answer(command, {"deregistered_on": "2024-06-03"})
    assert (await harness.state(deregistration.dossier_id)).status is DossierStatus.PROCESSED
    ended = harness.bundle_events(bundle.bundle_id)[-1]
    assert isinstance(ended, wf.BundlePartiallyCompleted)
    assert (ended.failed_step, ended.reason) == ("funeral_allowance", "gia đình không nhận")
    assert ended.completed_steps == ["death_registration", "residence_deregistration"]
    assert len(harness.commands()) == 1  # the withdrawn allowance never went to social insurance


async def allowance_withdrawn_while_the_death_is_registered(harness: Harness) -> intake.BundleSubmitted:
    """A death bundle at the counter with the funeral allowance, every step's dossier delivered; the
    family withdraws the allowance while the commune registers the death."""
    bundle = await death_bundle_at_the_counter_with_the_allowance(harness)
    allowance = bundle.steps[2]
    withdrawal = intake.WithdrawalRequested(
        dossier_id=allowance.dossier_id, reason="gia đình không nhận", requested_at=harness.now
    )
    await harness.deliver(withdrawal)
    return bundle


async def test_a_later_step_withdrawn_before_its_turn_leaves_the_steps_before_it_to_run(harness: Harness) -> None:
    """The family withdraws only the funeral allowance while the commune registers the death: the
    residence deregistration, which does not depend on it, was stopped with it ("the applicant picks
    which steps apply"), and the deceased was never deregistered."""
    bundle = await allowance_withdrawn_while_the_death_is_registered(harness)
    registration, deregistration, _ = bundle.steps
    assert (await harness.state(deregistration.dossier_id)).status is DossierStatus.RECEIVED  # held, not stopped

    await harness.decide(registration.dossier_id, "approve")
    [command] = harness.commands()
    assert command.step_id == "residence_deregistration"
    await harness.answer(command, {"deregistered_on": "2024-06-03"})
    ended = harness.bundle_events(bundle.bundle_id)[-1]
    assert isinstance(ended, wf.BundlePartiallyCompleted)
    assert (ended.failed_step, ended.reason) == ("funeral_allowance", "gia đình không nhận")
    assert ended.completed_steps == ["death_registration", "residence_deregistration"]
    assert "funeral_allowance" not in started_steps(harness, bundle.bundle_id)


async def test_a_bundle_whose_earlier_step_the_previous_release_stopped_ends_at_the_withdrawn_step(
    harness: Harness,
) -> None:
    """Saga rows from before this release: the allowance withdrawn while the death was being registered
    stopped the deregistration too. When the registration ends, the bundle ends at the allowance, with
    the family's reason: it was blamed on the deregistration, "ended before its turn"."""
    bundle = await allowance_withdrawn_while_the_death_is_registered(harness)
    registration, deregistration, _ = bundle.steps
    async with harness.uow as uow:  # what the previous release did at the withdrawal
        await sagas._stop(deregistration, "hồ sơ liên thông dừng", uow, harness.ctx, Cause(None, "test"))

    await harness.decide(registration.dossier_id, "approve")
    ended = harness.bundle_events(bundle.bundle_id)[-1]
    assert isinstance(ended, wf.BundlePartiallyCompleted)
    assert (ended.failed_step, ended.reason) == ("funeral_allowance", "gia đình không nhận")
    assert ended.completed_steps == ["death_registration"]
    assert harness.commands() == []


async def older_replica_ended_it_at_the_registration(harness: Harness) -> intake.BundleSubmitted:
    """A rolling deploy: this build leaves the deregistration to run after the allowance's withdrawal;
    an older replica handles the registration's result and ends the bundle there, never starting the
    deregistration, which stays held, "received", for ever."""
    bundle = await allowance_withdrawn_while_the_death_is_registered(harness)
    registration = bundle.steps[0]
    async with harness.uow as uow:  # what the older replica did at the registration's result: end it
        saga = await uow.bundles.lock(bundle.bundle_id)
        assert saga is not None
        saga.status = "partially_completed"
        await uow.bundles.save(saga)
    state = await harness.decide(registration.dossier_id, "approve")  # (the saga, ended, does nothing)
    async with harness.uow as uow:  # and keep its result
        saga = await uow.bundles.lock(bundle.bundle_id)
        assert saga is not None
        saga.results[registration.step_id] = dict(state.results[-1].data)
        await uow.bundles.save(saga)
    assert (await harness.state(bundle.steps[1].dossier_id)).status is DossierStatus.RECEIVED  # held
    harness.uow.outbox.messages.clear()
    return bundle


async def test_a_step_an_older_replica_left_held_when_it_ended_the_bundle_is_started_by_the_sweep(
    harness: Harness,
) -> None:
    """The family withdrew the funeral allowance, not the residence deregistration: the sweep starts
    it (the police's registry is asked), and the bundle ends again once it has its result, with the
    family's reason and every step done."""
    bundle = await older_replica_ended_it_at_the_registration(harness)
    _, deregistration, allowance = bundle.steps

    assert await sagas.mend_ended_bundles(harness.uow, harness.ctx, since=None) == 1
    [command] = harness.commands()
    assert command.step_id == "residence_deregistration"
    assert started_steps(harness, bundle.bundle_id) == ["residence_deregistration"]
    assert (await harness.state(allowance.dossier_id)).status is DossierStatus.WITHDRAWAL_REQUESTED  # not its business
    assert await sagas.mend_ended_bundles(harness.uow, harness.ctx, since=None) == 0  # once

    await harness.answer(command, {"deregistered_on": "2024-06-03"})
    assert (await harness.state(deregistration.dossier_id)).status is DossierStatus.PROCESSED
    ended = harness.bundle_events(bundle.bundle_id)[-1]
    assert isinstance(ended, wf.BundlePartiallyCompleted)
    assert (ended.failed_step, ended.reason) == ("funeral_allowance", "gia đình không nhận")
    assert ended.completed_steps == ["death_registration", "residence_deregistration"]


async def test_a_bundle_the_sweep_cannot_mend_is_left_and_the_others_are_mended(harness: Harness) -> None:
    """One bundle's own trouble (its type gone from this catalogue edition) failed the whole round, and
    every round after it, at the same bundle: no other bundle was mended again."""
    broken = await older_replica_ended_it_at_the_registration(harness)
    stranded = await older_replica_ended_it_at_the_registration(harness)
    async with harness.uow as uow:
        saga = await uow.bundles.lock(broken.bundle_id)
        assert saga is not None
        saga.bundle_type = "a_bundle_this_edition_lacks"
        await uow.bundles.save(saga)

    assert await sagas.mend_ended_bundles(harness.uow, harness.ctx, since=None) == 1
    assert [c.bundle_id for c in harness.commands()] == [stranded.bundle_id]


async def test_a_step_after_the_failure_an_ended_bundle_left_open_is_stopped_by_the_sweep(harness: Harness) -> None:
    """Only the steps before the failure run: one after it, left open, is stopped with the bundle's
    reason, as no agency's to be judged on; and a round looks only at the bundles ended since the last."""
    bundle = await death_bundle_at_the_counter_with_the_allowance(harness)
    registration, deregistration, allowance = bundle.steps
    async with harness.uow as uow:  # an older release ended it at the registration, stopping nothing
        saga = await uow.bundles.lock(bundle.bundle_id)
        assert saga is not None
        saga.failed_step, saga.reason, saga.status = registration.step_id, "không đủ điều kiện", "partially_completed"
        await uow.bundles.save(saga)
    swept_from = datetime.now(vietnam_tz()) - timedelta(minutes=1)

    assert await sagas.mend_ended_bundles(harness.uow, harness.ctx, since=swept_from) == 2
    for later in (deregistration, allowance):
        assert (await harness.state(later.dossier_id)).status is DossierStatus.STOPPED
        [stopped] = [e for e in harness.published() if e.key == later.dossier_id and e.type == "DossierStopped"]
        assert stopped.payload["step_started"] is False and stopped.payload["on_time"] is None
        assert stopped.payload["reason"].endswith(": không đủ điều kiện")
    assert (await harness.state(registration.dossier_id)).status is DossierStatus.PROCESSING  # the failed step's own
    later = datetime.now(vietnam_tz()) + timedelta(minutes=1)
    async with harness.uow as uow:
        assert await uow.bundles.ended_since(later) == []


async def test_a_step_after_an_earlier_step_an_older_replica_refused_is_stopped_not_started(
    harness: Harness,
) -> None:
    """The allowance withdrawn, then the registration refused by an older replica, which kept the
    withdrawal as the bundle's failure, put the refusal among the steps ended, and stopped nothing:
    the sweep started the deregistration, which failed for want of the registration's data, and the
    bundle ended a second time blaming the deregistration for missing data."""
    bundle = await allowance_withdrawn_while_the_death_is_registered(harness)
    registration, deregistration, allowance = bundle.steps
    async with harness.uow as uow:
        saga = await uow.bundles.lock(bundle.bundle_id)
        assert saga is not None
        saga.status = "partially_completed"
        await uow.bundles.save(saga)
    await harness.decide(registration.dossier_id, "reject", reason="giấy báo tử không hợp lệ")
    async with harness.uow as uow:
        saga = await uow.bundles.lock(bundle.bundle_id)
        assert saga is not None
        saga.ended.append(registration.step_id)
        await uow.bundles.save(saga)
    harness.uow.outbox.messages.clear()

    assert await sagas.mend_ended_bundles(harness.uow, harness.ctx, since=None) == 1
    assert harness.commands() == [] and harness.bundle_events(bundle.bundle_id) == []
    [stopped] = [e for e in harness.published() if e.key == deregistration.dossier_id and e.type == "DossierStopped"]
    assert "«" in stopped.payload["reason"] and "không có kết quả" in stopped.payload["reason"]
    assert (await harness.state(allowance.dossier_id)).status is DossierStatus.WITHDRAWAL_REQUESTED  # its own course


async def test_a_step_an_older_release_stopped_with_its_bundle_is_left_stopped(harness: Harness) -> None:
    """Such a release stopped every step not started at the failure: the bundle is not run again for
    one, and nothing is published (every old bundle would have ended a second time)."""
    bundle = await older_replica_ended_it_at_the_registration(harness)
    async with harness.uow as uow:
        await sagas._stop(bundle.steps[1], "hồ sơ liên thông dừng", uow, harness.ctx, Cause(None, "test"))
    harness.uow.outbox.messages.clear()
    assert await sagas.mend_ended_bundles(harness.uow, harness.ctx, since=None) == 0
    assert harness.published() == []


async def test_the_bundle_stops_at_the_earliest_step_that_failed_with_its_reason(harness: Harness) -> None:
    """The card withdrawn, then the birth registration refused: the bundle said it stopped at the card
    because the family did not need it, and the citizen's bundle view told them so."""
    bundle = bundle_submitted("birth", BIRTH_FORM, BIRTH_STEPS, at=harness.now)
    birth, residence, card = bundle.steps
    for step in bundle.steps:
        await harness.deliver(step_submitted(bundle, step, at=harness.now))
    await harness.deliver(bundle)
    await harness.deliver(
        intake.WithdrawalRequested(dossier_id=card.dossier_id, reason="không cần thẻ BHYT", requested_at=harness.now)
    )
    await harness.decide(birth.dossier_id, "reject", reason="giấy chứng sinh không hợp lệ")
    ended = harness.bundle_events(bundle.bundle_id)[-1]
    assert isinstance(ended, wf.BundlePartiallyCompleted)
    assert (ended.failed_step, ended.reason) == ("birth_registration", "giấy chứng sinh không hợp lệ")
    assert ended.completed_steps == []
    assert (await harness.state(residence.dossier_id)).status is DossierStatus.STOPPED
    assert harness.commands() == []


async def test_death_bundle_with_each_funeral_choice(harness: Harness) -> None:
    for choice, last in (
        ("social_insurance", ("funeral_allowance", "9.000002")),
        ("social_welfare", ("burial_support", "1.001731")),
        ("none", None),
    ):
        form = {**DEATH_FORM, "funeral_allowance": choice}
        steps = [("death_registration", "1.000656"), ("residence_deregistration", "1.003197")]
        bundle = bundle_submitted("death", form, steps + ([last] if last else []), at=harness.now)
        await harness.deliver(bundle)
        approved = await harness.decide(bundle.steps[0].dossier_id, "approve")
        extract = approved.results[0].data["death_extract_number"]
        deregistration = [c for c in harness.commands() if c.bundle_id == bundle.bundle_id][-1]
        assert deregistration.operation == "deregister_permanent_residence"
        assert deregistration.data["death_extract_number"] == extract and deregistration.data["reason"] == "deceased"
        await harness.answer(deregistration, {"deregistered_on": "2024-06-03"})
        if last:
            allowance = [c for c in harness.commands() if c.bundle_id == bundle.bundle_id][-1]
            assert allowance.step_id == last[0]
            await harness.answer(allowance, {"decision_number": "QD-1", "amount_vnd": 36_000_000})
        ended = harness.bundle_events(bundle.bundle_id)[-1]
        assert isinstance(ended, wf.BundleCompleted), choice
        assert set(ended.results) == {s.step_id for s in bundle.steps}


async def test_an_online_bundle_waits_for_acceptance_of_its_first_step(harness: Harness) -> None:
    bundle = bundle_submitted("birth", BIRTH_FORM, BIRTH_STEPS, at=harness.now, channel="online")
    birth, residence, _ = bundle.steps
    await harness.deliver(bundle)
    assert (await harness.state(birth.dossier_id)).status is DossierStatus.REGISTERED
    [task] = await harness.uow.tasks.for_agency("UBND-P-PHUCLOI", 10)
    assert task.dossier_id == birth.dossier_id and task.waiting_for == "acceptance"
    await harness.decide(birth.dossier_id, "accept")
    await harness.decide(birth.dossier_id, "approve")
    state = await harness.state(residence.dossier_id)
    assert state.status is DossierStatus.PROCESSING and state.waiting_for_registry
    assert_promised_the_bundles_date(harness, (await harness.state(birth.dossier_id)).received_at, state.due_at)


async def test_a_later_online_step_is_received_when_released_whichever_event_opened_it(harness: Harness) -> None:
    """Opened from the bundle's data (its own submission not yet delivered), a later step of an online
    bundle took the bundle's submission time as its reception: before any official had accepted the
    bundle, where the same step opened from its submission is received as it is released."""
    bundle = bundle_submitted("birth", BIRTH_FORM, BIRTH_STEPS, at=harness.now, channel="online")
    birth, residence, _ = bundle.steps
    await harness.deliver(bundle)
    harness.advance(days=3)
    await harness.decide(birth.dossier_id, "accept")
    harness.advance(hours=1)
    await harness.decide(birth.dossier_id, "approve")
    state = await harness.state(residence.dossier_id)
    assert state.received_at == harness.now
    [received] = [e for e in harness.published() if e.type == "DossierReceived" and e.key == residence.dossier_id]
    assert received.payload["at"] == harness.now.isoformat()


@pytest.mark.parametrize("announced", [False, True], ids=["opened by the saga", "announced by intake"])
@pytest.mark.parametrize(
    "approved", [datetime(2024, 6, 6, 9, 0), datetime(2024, 6, 5, 16, 50)], ids=["after the date", "just before it"]
)
async def test_a_later_step_released_after_an_earlier_agency_was_late_gets_its_own_time(
    harness: Harness, announced: bool, approved: datetime
) -> None:
    """The commune approved a day after the bundle's date: the police step was born overdue (its
    warnings fired at once) and ended late however fast the registry answered, counting the commune's
    delay against the police. Approved ten minutes before the date, the police had those ten minutes:
    the later the commune, the surer the police were late. It is due in its own step's time instead."""
    rules = harness.ctx.rules
    bundle = bundle_submitted("birth", BIRTH_FORM, BIRTH_STEPS, at=harness.now)  # Monday 3 June, 09:00
    birth, residence, _ = bundle.steps
    bundle_date = rules.calendar.due_at(harness.now, rules.catalogue.bundle("birth").statutory_limit)
    if announced:
        await harness.deliver(step_submitted(bundle, residence, at=harness.now, due_at=bundle_date))
    await harness.deliver(bundle)
    harness.clock.set(approved.replace(tzinfo=vietnam_tz()))
    await harness.fire_timers()
    await harness.decide(birth.dossier_id, "approve")
    assert (await harness.state(birth.dossier_id)).on_time is False  # the commune's lateness is its own

    state = await harness.state(residence.dossier_id)
    step_time = rules.catalogue.step_processing_time("birth", residence.step_id)
    own = deadlines.appointment(rules.calendar, harness.now, step_time)
    assert bundle_date < own
    assert (state.due_at, state.step_due_at) == (own, own) and not state.overdue
    assert await harness.fire_timers() == 0
    harness.advance(minutes=30)
    [command] = harness.commands()
    await harness.answer(command, {"residence_address": "Số 5, phường Phúc Lợi"})
    done = await harness.state(residence.dossier_id)
    assert done.status is DossierStatus.PROCESSED and done.on_time is True


async def test_a_step_after_one_that_overran_its_own_time_gets_its_own_time_though_the_bundle_is_not_late(
    harness: Harness,
) -> None:
    """The police answered a day past their own step's end but ten minutes before the bundle's date: on
    time by the bundle's date, so social insurance was left those ten minutes and counted late for it."""
    bundle = bundle_submitted("birth", BIRTH_FORM, BIRTH_STEPS, at=harness.now)  # Monday 3 June, 09:00
    birth, residence, insurance = bundle.steps
    await harness.deliver(bundle)
    harness.advance(hours=1)
    await harness.decide(birth.dossier_id, "approve")  # the commune on time
    police = await harness.state(residence.dossier_id)
    assert police.step_due_at is not None and police.due_at is not None and police.step_due_at < police.due_at
    harness.clock.set(police.due_at - timedelta(minutes=10))  # past its own step, before the bundle's date
    [command] = harness.commands()
    await harness.answer(command, {"residence_address": "Số 5, phường Phúc Lợi"})
    assert (await harness.state(residence.dossier_id)).ended_late

    card = await harness.state(insurance.dossier_id)
    rules = harness.ctx.rules
    own = deadlines.appointment(
        rules.calendar, harness.now, rules.catalogue.step_processing_time("birth", insurance.step_id)
    )
    assert (card.due_at, card.step_due_at) == (own, own)


async def test_the_citizens_wait_on_an_earlier_step_moves_the_bundles_date(harness: Harness) -> None:
    """The first step waited a week for the citizen's supplement: the later step's date moves by that
    week, or it started already overdue, the citizen's wait counted against the police."""
    bundle = bundle_submitted("birth", BIRTH_FORM, BIRTH_STEPS, at=harness.now, channel="online")
    birth, residence, _ = bundle.steps
    await harness.deliver(bundle)
    await harness.decide(birth.dossier_id, "accept")
    await harness.decide(birth.dossier_id, "request_supplement", reason="thiếu giấy chứng sinh")
    harness.advance(days=7)
    await harness.deliver(intake.SupplementProvided(dossier_id=birth.dossier_id, documents=[], provided_at=harness.now))
    first = await harness.state(birth.dossier_id)
    await harness.decide(birth.dossier_id, "approve")
    state = await harness.state(residence.dossier_id)
    rules = harness.ctx.rules
    promised = deadlines.appointment(rules.calendar, first.received_at, rules.catalogue.bundle("birth").statutory_limit)
    assert first.paused_seconds > 0
    assert state.due_at == rules.calendar.add_working_seconds(promised, first.paused_seconds)
    assert state.due_at is not None and state.due_at > harness.now and not state.overdue


def assert_promised_the_bundles_date(harness: Harness, accepted: datetime | None, due: datetime | None) -> None:
    """A later step of an online bundle is due when the bundle is (three working days from the first
    step's acceptance), not when its own procedure alone would be (seven for permanent residence)."""
    assert accepted is not None
    rules = harness.ctx.rules
    bundle_date = deadlines.appointment(rules.calendar, accepted, rules.catalogue.bundle("birth").statutory_limit)
    alone = deadlines.appointment(rules.calendar, accepted, rules.processing_time("1.004222"))
    assert due == bundle_date < alone


async def test_intakes_online_bundle_registered_step_dossiers_then_the_bundle(harness: Harness) -> None:
    """What intake publishes for an online bundle: every step dossier registered, then the bundle."""
    bundle = bundle_submitted("birth", BIRTH_FORM, BIRTH_STEPS, at=harness.now, channel="online")
    for step in bundle.steps:
        await harness.deliver(step_submitted(bundle, step, at=harness.now, channel="online"))
    assert await harness.uow.tasks.for_agency("UBND-P-PHUCLOI", 10) == []  # held until their bundle arrives
    await harness.deliver(bundle)
    birth, residence, insurance = bundle.steps
    [task] = await harness.uow.tasks.for_agency("UBND-P-PHUCLOI", 10)
    assert task.dossier_id == birth.dossier_id and task.waiting_for == "acceptance"
    await harness.decide(birth.dossier_id, "accept")
    await harness.decide(birth.dossier_id, "approve")
    state = await harness.state(residence.dossier_id)
    assert state.status is DossierStatus.PROCESSING and state.waiting_for_registry
    assert [line.step for line in state.control_sheet] == ["reception", "processing"]
    assert_promised_the_bundles_date(harness, (await harness.state(birth.dossier_id)).received_at, state.due_at)
    assert (await harness.state(insurance.dossier_id)).status is DossierStatus.REGISTERED


async def test_a_step_a_registry_is_performing_cannot_be_withdrawn_until_it_answers(harness: Harness) -> None:
    """The police may already have registered the child's residence: accepted, the withdrawal threw
    the registry's answer away, and the dossier, the portal and the citizen said "withdrawn". The
    refusal asked the citizen to try again later, which could never succeed: once the registry has
    answered, the step has its result or is stopped."""
    bundle = bundle_submitted("birth", BIRTH_FORM, BIRTH_STEPS, at=harness.now)
    birth, residence, _ = bundle.steps
    await harness.deliver(bundle)
    await harness.decide(birth.dossier_id, "approve")
    [command] = harness.commands()
    request = intake.WithdrawalRequested(dossier_id=residence.dossier_id, reason="đổi ý", requested_at=harness.now)
    await harness.deliver(request)

    [refused] = [e for e in harness.published() if e.type == "WithdrawalRefused"]
    assert refused.key == residence.dossier_id and "không thể rút" in refused.payload["reason"]
    assert "thử lại" not in refused.payload["reason"]
    assert (await harness.state(residence.dossier_id)).status is DossierStatus.PROCESSING
    await harness.answer(command, {"residence_address": "Số 5, phường Phúc Lợi"})
    assert (await harness.state(residence.dossier_id)).status is DossierStatus.PROCESSED
    assert not isinstance(harness.bundle_events(bundle.bundle_id)[-1], wf.BundlePartiallyCompleted)


async def test_a_counter_bundles_later_steps_wait_untimed_and_their_date_moves_with_the_citizens_wait(
    harness: Harness,
) -> None:
    """Intake receives every step of a counter bundle at once, each later one promised the bundle's
    date. Held until the step before ends, their due-soon and overdue timers fired all the same, and
    the week the citizen took over the first step's supplement was counted against the police."""
    calendar = harness.ctx.rules.calendar
    bundle = bundle_submitted("birth", BIRTH_FORM, BIRTH_STEPS, at=harness.now)  # Monday 3 June, 09:00
    birth, residence, insurance = bundle.steps
    bundle_date = calendar.due_at(harness.now, harness.ctx.rules.catalogue.bundle("birth").statutory_limit)
    for position, step in enumerate(bundle.steps):
        await harness.deliver(
            step_submitted(bundle, step, at=harness.now, due_at=None if position == 0 else bundle_date)
        )
    await harness.deliver(bundle)
    held = await harness.state(residence.dossier_id)
    assert held.held and held.due_at == bundle_date
    assert harness.uow.timers.pending(residence.dossier_id) == {}  # its agency cannot act on it yet

    harness.advance(hours=1)
    await harness.decide(birth.dossier_id, "request_supplement", reason="thiếu giấy chứng sinh")
    harness.clock.set(datetime(2024, 6, 10, 10, 0, tzinfo=vietnam_tz()))  # the citizen comes back a week later
    assert await harness.fire_timers() == 0
    await harness.deliver(intake.SupplementProvided(dossier_id=birth.dossier_id, documents=[], provided_at=harness.now))
    waited = (await harness.state(birth.dossier_id)).paused_seconds
    await harness.decide(birth.dossier_id, "approve")

    state = await harness.state(residence.dossier_id)
    moved = calendar.add_working_seconds(bundle_date, waited)
    assert waited > 0 and state.due_at == moved > harness.now and not state.overdue
    [started] = [e for e in harness.published() if e.key == residence.dossier_id and e.type == "DossierStepStarted"]
    assert started.payload["due_at"] == moved.isoformat()  # intake, reporting and the portal move it too
    assert set(harness.uow.timers.pending(residence.dossier_id)) == {"due_soon", "overdue"}
    assert not (await harness.state(insurance.dossier_id)).overdue


async def test_a_held_step_neither_warns_nor_goes_overdue_even_with_timers_armed_before_the_fix(
    harness: Harness,
) -> None:
    """Timers armed for held steps by the earlier code are not disarmed: firing checks the hold too,
    and drops them, so that the step's release arms them afresh (marked fired at the same instant,
    they would not have fired again, and the released step been neither warned nor flagged)."""
    bundle = bundle_submitted("birth", BIRTH_FORM, BIRTH_STEPS, at=harness.now)
    birth, residence, _ = bundle.steps
    due = harness.ctx.rules.calendar.due_at(harness.now, harness.ctx.rules.catalogue.bundle("birth").statutory_limit)
    for position, step in enumerate(bundle.steps[:2]):
        await harness.deliver(step_submitted(bundle, step, at=harness.now, due_at=None if position == 0 else due))
    await harness.deliver(bundle)
    held = await harness.state(residence.dossier_id)
    assert held.held and held.due_at is not None
    warn_at = deadlines.due_soon_at(harness.ctx.rules.calendar, held.due_at, harness.ctx.rules.due_soon_lead_seconds)
    await harness.uow.timers.arm(
        Timer(residence.dossier_id, "due_soon", warn_at), Timer(residence.dossier_id, "overdue", held.due_at)
    )
    harness.clock.set(warn_at + timedelta(minutes=1))
    await harness.fire_timers()
    state = await harness.state(residence.dossier_id)
    assert state.held and not state.due_soon_notified

    # Released within the bundle's last working day, the commune late: the police step gets its own
    # time (the commune's lateness is the commune's), and its timers are armed afresh for that date.
    await harness.decide(birth.dossier_id, "approve")
    released = await harness.state(residence.dossier_id)
    assert released.due_at is not None and released.due_at > held.due_at
    harness.clock.set(
        deadlines.due_soon_at(harness.ctx.rules.calendar, released.due_at, harness.ctx.rules.due_soon_lead_seconds)
        + timedelta(minutes=1)
    )
    await harness.fire_timers()
    assert harness.published_types(residence.dossier_id).count("DossierDueSoon") == 1
    harness.clock.set(released.due_at + timedelta(minutes=1))
    await harness.fire_timers()
    assert (await harness.state(residence.dossier_id)).overdue


async def test_a_step_withdrawn_while_held_is_no_agency_s_to_be_judged_on(harness: Harness) -> None:
    bundle = death_bundle_with_the_allowance(harness)
    allowance = bundle.steps[2]
    await harness.deliver(step_submitted(bundle, allowance, at=harness.now, due_at=harness.now + timedelta(days=3)))
    await harness.deliver(bundle)
    await harness.deliver(
        intake.WithdrawalRequested(
            dossier_id=allowance.dossier_id, reason="gia đình không nhận", requested_at=harness.now
        )
    )
    [accepted] = [e for e in harness.published() if e.type == "WithdrawalAccepted"]
    assert accepted.payload["step_started"] is False and accepted.payload["on_time"] is None


@pytest.mark.parametrize("withdrawn", [0, 1], ids=["first step", "later step"])
async def test_a_step_withdrawn_before_its_bundle_arrived_ends_the_bundle_when_its_turn_comes(
    harness: Harness, withdrawn: int
) -> None:
    """Bundle and step dossiers are keyed apart, so a step's withdrawal can be handled before the
    bundle's own event: there is no saga yet to tell. When the bundle reaches that step it must end
    there (and stop the steps after it), not start it and wait for a result that will never come."""
    bundle = bundle_submitted("birth", BIRTH_FORM, BIRTH_STEPS, at=harness.now)
    for step in bundle.steps:
        await harness.deliver(step_submitted(bundle, step, at=harness.now))
    gone = bundle.steps[withdrawn]
    await harness.deliver(
        intake.WithdrawalRequested(dossier_id=gone.dossier_id, reason="gia đình rút", requested_at=harness.now)
    )
    await harness.deliver(bundle)
    if withdrawn:
        await harness.decide(bundle.steps[0].dossier_id, "approve")

    ended = harness.bundle_events(bundle.bundle_id)[-1]
    assert isinstance(ended, wf.BundlePartiallyCompleted)
    assert ended.failed_step == gone.step_id
    assert ended.completed_steps == [s.step_id for s in bundle.steps[:withdrawn]]
    assert gone.step_id not in started_steps(harness, bundle.bundle_id)
    assert (await harness.state(bundle.steps[2].dossier_id)).status is DossierStatus.STOPPED


async def test_an_online_bundle_s_steps_it_never_started_are_refused_as_no_agency_s_to_be_judged_on(
    harness: Harness,
) -> None:
    """Held and registered, they are refused (there is no stopping a dossier never received): the refusal
    said nothing of the step never starting, so reporting counted each as a resolved, on-time dossier."""
    bundle = bundle_submitted("birth", BIRTH_FORM, BIRTH_STEPS, at=harness.now, channel="online")
    for step in bundle.steps:
        await harness.deliver(step_submitted(bundle, step, at=harness.now, channel="online"))
    await harness.deliver(bundle)
    await harness.decide(bundle.steps[0].dossier_id, "reject", reason="giấy chứng sinh không hợp lệ")
    later = {s.dossier_id for s in bundle.steps[1:]}
    refused = [e.payload for e in harness.published() if e.type == "DossierRefused" and e.key in later]
    assert len(refused) == 2
    assert all(p["step_started"] is False and p["on_time"] is None for p in refused)
    first = bundle.steps[0].dossier_id
    [own] = [e.payload for e in harness.published() if e.type == "DossierRefused" and e.key == first]
    assert own["step_started"] is True  # the first step's refusal is its agency's


async def test_officials_cannot_decide_a_step_held_for_an_earlier_one_or_one_a_registry_performs(
    harness: Harness,
) -> None:
    """Refused, the held card step would end the whole bundle before the birth was registered;
    approved while the population database works, the residence step had a result, and the card step
    started, before the registry answered."""
    bundle = bundle_submitted("birth", BIRTH_FORM, BIRTH_STEPS, at=harness.now)
    birth, residence, insurance = bundle.steps
    for step in bundle.steps:
        await harness.deliver(step_submitted(bundle, step, at=harness.now, due_at=None))
    await harness.deliver(bundle)
    with pytest.raises(IllegalTransition, match="waits for an earlier step of its bundle"):
        await harness.decide(insurance.dossier_id, "reject", reason="sai đối tượng")
    await harness.decide(birth.dossier_id, "approve")
    with pytest.raises(IllegalTransition, match="an external registry is performing it"):
        await harness.decide(residence.dossier_id, "approve")
    assert started_steps(harness, bundle.bundle_id) == ["birth_registration", "permanent_residence"]
    assert (await harness.state(insurance.dossier_id)).status is DossierStatus.RECEIVED

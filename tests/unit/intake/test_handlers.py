"""Submissions and citizen actions through the handlers, with in-memory adapters."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from contracts.events import intake, workflow
from contracts.events.common import Document, DossierStatus
from intake.adapters.memory import InMemoryIntakeUnitOfWork
from intake.domain.commands import PayFee, ProvideSupplement, RateSatisfaction, RequestWithdrawal
from intake.domain.errors import ActionNotAllowed, DossierNotFound, DuplicateDossier, IdempotencyKeyReused
from intake.domain.problems import InvalidInput
from intake.service_layer.handlers import IdempotencyKey, IntakeContext, act, submit_bundle, submit_dossier
from intake.service_layer.projections import on_workflow_event
from intake.service_layer.queries import dossier_public
from tests.unit.intake.conftest import Clock, bundle_command, dossier_command
from tests.unit.intake.contract import assert_matches_contract
from tests.unit.intake.samples import (
    FATHER_ID,
    MONDAY_9AM,
    STRANGER_ID,
    applicant,
    birth_bundle,
    birth_dossier,
    criminal_record_dossier,
    death_bundle,
)


def published(uow: InMemoryIntakeUnitOfWork) -> list[intake.IntakeEvent]:
    assert {m.topic for m in uow.outbox.messages} <= {"intake.events"}
    return [assert_matches_contract(m.value).parse_payload() for m in uow.outbox.messages]  # type: ignore[misc]


async def test_a_counter_submission_is_one_event_on_intake_events(
    ctx: IntakeContext, uow: InMemoryIntakeUnitOfWork
) -> None:
    reply = await submit_dossier(dossier_command(birth_dossier("counter")), ctx, correlation_id="req-1")
    assert reply.status_code == 201
    body = reply.body
    assert body["code"] == "UBND-X-YENHOA-240617-0001"
    assert (body["status"], body["status_code"]) == ("received", 2)
    assert body["due_at"] == "2024-06-17T17:00:00+07:00"
    [message] = uow.outbox.messages
    assert message.key == body["dossier_id"]
    [event] = published(uow)
    assert isinstance(event, intake.DossierSubmitted)
    assert (event.code, event.status, event.competent_agency) == (body["code"], DossierStatus.RECEIVED, "UBND-X-YENHOA")
    assert event.catalogue_version == ctx.rules.catalogue.version
    assert (await uow.events.load(body["dossier_id"])).version == 1
    assert uow.outbox.envelopes()[0].correlation_id == "req-1"


async def test_an_online_submission_waits_for_acceptance(ctx: IntakeContext, uow: InMemoryIntakeUnitOfWork) -> None:
    body = (await submit_dossier(dossier_command(birth_dossier("online")), ctx)).body
    assert (body["status"], body["status_code"], body["received_at"], body["due_at"]) == ("registered", 1, None, None)


async def test_codes_run_per_agency_and_day_without_gaps(ctx: IntakeContext, clock: Clock) -> None:
    codes = [(await submit_dossier(dossier_command(birth_dossier(child_name=n)), ctx)).body["code"] for n in "ABC"]
    assert codes == [f"UBND-X-YENHOA-240617-000{i}" for i in (1, 2, 3)]
    with pytest.raises(DuplicateDossier):  # a refused submission gives its number back
        await submit_dossier(dossier_command(birth_dossier(child_name="A")), ctx)
    other = (await submit_dossier(dossier_command(criminal_record_dossier()), ctx)).body["code"]
    assert other == "STP-BINHAN-240617-0001"
    assert (await submit_dossier(dossier_command(birth_dossier(child_name="D")), ctx)).body["code"].endswith("-0004")
    clock.now = MONDAY_9AM + timedelta(days=1)
    assert (await submit_dossier(dossier_command(birth_dossier(child_name="E")), ctx)).body["code"] == (
        "UBND-X-YENHOA-240618-0001"
    )


async def test_an_open_dossier_for_the_same_subject_is_a_duplicate_until_it_ends(
    ctx: IntakeContext, uow: InMemoryIntakeUnitOfWork
) -> None:
    first = (await submit_dossier(dossier_command(birth_dossier("counter")), ctx)).body
    with pytest.raises(DuplicateDossier) as caught:
        await submit_dossier(dossier_command(birth_dossier("online")), ctx)
    assert caught.value.existing_code == first["code"]
    assert len(uow.outbox.messages) == 1
    await on_workflow_event(result_issued(first["dossier_id"], first["code"]), uow.dossiers)
    again = (await submit_dossier(dossier_command(birth_dossier("online")), ctx)).body
    assert again["code"] != first["code"]


async def test_a_duplicate_names_the_open_dossier_only_to_its_own_applicant(
    ctx: IntakeContext, uow: InMemoryIntakeUnitOfWork
) -> None:
    """Anyone who knew the deceased's ID number was told the code of the family's open death
    registration, and so where and when it was filed: its view and its actions open with that code."""
    family = (await submit_bundle(bundle_command(death_bundle()), ctx)).body
    registration = family["dossiers"][0]["code"]
    with pytest.raises(DuplicateDossier) as stranger:
        await submit_bundle(bundle_command({**death_bundle(), "applicant": applicant(STRANGER_ID)}), ctx)
    assert stranger.value.existing_code is None
    assert str(stranger.value) == "an open dossier of this procedure already exists for this subject"
    impostor = {**applicant(FATHER_ID), "phone": "0987654321"}  # the family's ID number, another phone
    with pytest.raises(DuplicateDossier) as someone:
        await submit_bundle(bundle_command({**death_bundle(), "applicant": impostor}), ctx)
    assert someone.value.existing_code is None
    with pytest.raises(DuplicateDossier) as again:  # the family itself, submitting once more
        await submit_bundle(bundle_command(death_bundle()), ctx)
    assert again.value.existing_code == registration and registration in str(again.value)


async def test_a_withdrawn_dossier_no_longer_blocks_its_subject(
    ctx: IntakeContext, uow: InMemoryIntakeUnitOfWork
) -> None:
    """Withdrawn is one of the ways a dossier ends (766 rules): the citizen may apply again. The view
    kept the subject taken, so a citizen who withdrew could never submit for it again."""
    first = (await submit_dossier(dossier_command(birth_dossier("counter")), ctx)).body
    withdrawn = workflow.WithdrawalAccepted(
        dossier_id=first["dossier_id"], code=first["code"], status=DossierStatus.WITHDRAWAL_REQUESTED,
        status_code=7, at=MONDAY_9AM, agency="UBND-X-YENHOA", reason="đổi ý", on_time=True,
    )  # fmt: skip
    await on_workflow_event(withdrawn, uow.dossiers)
    again = (await submit_dossier(dossier_command(birth_dossier("online")), ctx)).body
    assert again["code"] != first["code"]


async def test_a_procedure_that_allows_repeats_takes_the_same_subject_twice(ctx: IntakeContext) -> None:
    first = await submit_dossier(dossier_command(criminal_record_dossier()), ctx)
    second = await submit_dossier(dossier_command(criminal_record_dossier()), ctx)
    assert first.body["code"] != second.body["code"]


async def test_a_retried_idempotency_key_gets_the_first_answer_and_creates_nothing(
    ctx: IntakeContext, uow: InMemoryIntakeUnitOfWork
) -> None:
    key = IdempotencyKey("retry-me", "hash-of-body")
    first = await submit_dossier(dossier_command(birth_dossier()), ctx, key)
    again = await submit_dossier(dossier_command(birth_dossier()), ctx, key)
    assert again.body == first.body and again.status_code == 201 and again.replayed
    assert len(uow.outbox.messages) == 1
    with pytest.raises(IdempotencyKeyReused):
        await submit_dossier(dossier_command(birth_dossier(child_name="X")), ctx, IdempotencyKey("retry-me", "other"))
    assert len(uow.outbox.messages) == 1


async def test_a_retry_the_rules_would_now_refuse_gets_the_receipt_of_what_was_created(
    ctx: IntakeContext, uow: InMemoryIntakeUnitOfWork, clock: Clock
) -> None:
    """Input was checked before the key was looked up: a bundle accepted at 23:59, retried at 00:01
    when the child had turned six (too old for the health-card step), got a 422, and the portal never
    learnt the codes of the three dossiers it had created."""
    clock.now = datetime(2024, 6, 17, 16, 59, tzinfo=UTC)  # 23:59 in Vietnam, the eve of the sixth birthday
    key = IdempotencyKey("portal-1", "hash-of-body")
    command = bundle_command(birth_bundle(born="2018-06-18"))
    first = await submit_bundle(command, ctx, key)
    clock.now += timedelta(minutes=2)
    with pytest.raises(InvalidInput):  # the rules have changed their mind: without a key, refused
        await submit_bundle(command, ctx)
    again = await submit_bundle(command, ctx, key)
    assert again.replayed and (again.status_code, again.body) == (201, first.body)
    with pytest.raises(InvalidInput):  # an unused key does not replay anything, and is not taken
        await submit_bundle(command, ctx, IdempotencyKey("portal-2", "hash-of-body"))
    assert "portal-2" not in uow.dossiers.keys
    assert len(uow.outbox.messages) == 4


async def test_a_birth_bundle_is_three_dossiers_and_a_bundle_event(
    ctx: IntakeContext, uow: InMemoryIntakeUnitOfWork
) -> None:
    body = (await submit_bundle(bundle_command(birth_bundle()), ctx)).body
    assert [d["code"] for d in body["dossiers"]] == [f"UBND-X-YENHOA-240617-000{i}" for i in (1, 2, 3)]
    events = published(uow)
    submitted = [e for e in events if isinstance(e, intake.DossierSubmitted)]
    [bundle] = [e for e in events if isinstance(e, intake.BundleSubmitted)]
    assert [e.bundle_step for e in submitted] == ["birth_registration", "permanent_residence", "health_insurance_card"]
    assert {e.bundle_id for e in submitted} == {body["bundle_id"]} == {bundle.bundle_id}
    assert [s.dossier_id for s in bundle.steps] == [d["dossier_id"] for d in body["dossiers"]]
    assert body["due_at"] == "2024-06-19T17:00:00+07:00"  # the whole bundle: 3 working days, Monday counts
    keys = {m.key for m in uow.outbox.messages}
    assert keys == {body["bundle_id"], *(d["dossier_id"] for d in body["dossiers"])}


async def test_a_death_bundle_without_funeral_allowance_has_two_steps(
    ctx: IntakeContext, uow: InMemoryIntakeUnitOfWork
) -> None:
    body = (await submit_bundle(bundle_command(death_bundle("none")), ctx)).body
    assert [d["procedure_code"] for d in body["dossiers"]] == ["1.000656", "1.003197"]


async def test_a_bundle_step_that_duplicates_an_open_dossier_refuses_the_whole_bundle(
    ctx: IntakeContext, uow: InMemoryIntakeUnitOfWork
) -> None:
    await submit_dossier(dossier_command(birth_dossier()), ctx)
    with pytest.raises(DuplicateDossier):
        await submit_bundle(bundle_command(birth_bundle()), ctx)
    assert len(uow.outbox.messages) == 1 and not uow.dossiers.bundles


def result_issued(dossier_id: str, code: str) -> workflow.ResultIssued:
    return workflow.ResultIssued(
        dossier_id=dossier_id, code=code, status=DossierStatus.PROCESSED, status_code=9, at=MONDAY_9AM,
        agency="UBND-X-YENHOA", official_id="cb-01", result_code=f"{code}-KQ1", document_name="Giấy khai sinh",
        data={}, on_time=True,
    )


async def test_citizen_actions_follow_the_dossiers_state(ctx: IntakeContext, uow: InMemoryIntakeUnitOfWork) -> None:
    receipt = (await submit_dossier(dossier_command(birth_dossier("counter")), ctx)).body
    code, dossier_id = receipt["code"], receipt["dossier_id"]
    documents = [Document(kind="giay_chung_sinh", digitized=True, reused=False)]

    await on_workflow_event(_supplement_requested(dossier_id, code, "giay_chung_sinh"), uow.dossiers)
    assert uow.dossiers.rows[dossier_id]["awaiting_supplement"] is True
    with pytest.raises(InvalidInput) as listed:
        await act(ProvideSupplement(code, [*documents, *documents], "hai lần"), ctx)
    assert [(p.path, p.type) for p in listed.value.problems] == [("$.documents[1].kind", "repeated_document")]
    # Not what the request names: taken as the answer, the clock resumed without it, and the official's
    # second request made the dossier overdue (766).
    other = [Document(kind="to_khai_khai_sinh", digitized=True, reused=False)]
    with pytest.raises(InvalidInput) as lacking:
        await act(ProvideSupplement(code, other, "tờ khai"), ctx)
    assert [(p.path, p.type) for p in lacking.value.problems] == [("$.documents", "requested_document_missing")]
    assert "giay_chung_sinh" in lacking.value.problems[0].msg
    view = dossier_public(ctx.rules.catalogue, uow.dossiers.rows[dossier_id])
    assert view["requested_documents"] == ["giay_chung_sinh"]  # what the portal shows the citizen
    supplied = await act(ProvideSupplement(code, documents, "bản chụp"), ctx)
    assert supplied.status_code == 202 and supplied.body["event_type"] == "SupplementProvided"
    assert uow.dossiers.rows[dossier_id]["awaiting_supplement"] is False

    with pytest.raises(ActionNotAllowed, match="nothing is owed"):  # a birth registration is free
        await act(PayFee(code, 20_000, "qr", online=True), ctx)
    await on_workflow_event(_payment_requested(dossier_id, code, 20_000), uow.dossiers)
    with pytest.raises(InvalidInput) as beyond:
        await act(PayFee(code, 25_000, "qr", online=True), ctx)
    assert [(p.path, p.type) for p in beyond.value.problems] == [("$.amount", "more_than_owed")]
    paid = await act(PayFee(code, 20_000, "qr", online=True), ctx)
    assert paid.status_code == 201
    with pytest.raises(ActionNotAllowed, match="nothing is owed"):  # paid in full: not twice
        await act(PayFee(code, 20_000, "qr", online=True), ctx)
    assert (await act(RateSatisfaction(code, 2, "Chờ lâu"), ctx)).status_code == 201
    with pytest.raises(ActionNotAllowed, match="already been rated"):
        await act(RateSatisfaction(code, 5), ctx)
    assert (await act(RequestWithdrawal(code, "Nộp nhầm"), ctx)).status_code == 202
    with pytest.raises(ActionNotAllowed, match="already requested"):
        await act(RequestWithdrawal(code, "Nộp nhầm"), ctx)
    # Before workflow has answered the withdrawal: documents would come too late whatever it answers.
    with pytest.raises(ActionNotAllowed, match=r"withdrawal of dossier .* was requested"):
        await act(ProvideSupplement(code, documents, "bổ sung muộn"), ctx)
    with pytest.raises(ActionNotAllowed, match=r"withdrawal of dossier .* was requested: nothing to pay"):
        await act(PayFee(code, 1_000, "cash", online=False), ctx)  # it had been taken, then owed back
    with pytest.raises(DossierNotFound):
        await act(PayFee("UBND-X-YENHOA-240617-9999", 1, "cash", online=False), ctx)

    events = published(uow)
    assert [e.event_type for e in events] == [
        "DossierSubmitted", "SupplementProvided", "FeePaid", "SatisfactionRated", "WithdrawalRequested",
    ]
    assert (await uow.events.load(dossier_id)).version == 5
    row = uow.dossiers.rows[dossier_id]
    assert (row["paid_amount"], row["rating"], row["awaiting_supplement"]) == (20_000, 2, False)
    assert [e["event"] for e in row["timeline"]][-5:] == [
        "SupplementProvided", "PaymentRequested", "FeePaid", "SatisfactionRated", "WithdrawalRequested",
    ]
    assert row["timeline"][-3]["note"] == "Công dân nộp phí, lệ phí: 20.000 đồng, mã QR, trực tuyến"


async def test_a_requested_kind_the_procedure_no_longer_lists_is_not_demanded(
    ctx: IntakeContext, uow: InMemoryIntakeUnitOfWork
) -> None:
    """Asked by a workflow on another catalogue edition: no supplement could bring it (intake refuses a
    kind its procedure does not list), and the dossier waited for ever."""
    receipt = (await submit_dossier(dossier_command(birth_dossier("counter")), ctx)).body
    code, dossier_id = receipt["code"], receipt["dossier_id"]
    await on_workflow_event(_supplement_requested(dossier_id, code, "giay_da_bo", "giay_chung_sinh"), uow.dossiers)
    documents = [Document(kind="giay_chung_sinh", digitized=True, reused=False)]
    assert (await act(ProvideSupplement(code, documents, "bản chụp"), ctx)).status_code == 202


def _payment_requested(dossier_id: str, code: str, amount: int) -> workflow.DossierEvent:
    return workflow.PaymentRequested(
        dossier_id=dossier_id, code=code, status=DossierStatus.PAYMENT_REQUESTED, status_code=6, at=MONDAY_9AM,
        agency="UBND-X-YENHOA", amount=amount,
    )  # fmt: skip


def _supplement_requested(dossier_id: str, code: str, *kinds: str) -> workflow.DossierEvent:
    documents = [workflow.RequestedDocument(kind=kind, name=kind) for kind in kinds]
    return workflow.SupplementRequested(
        dossier_id=dossier_id, code=code, status=DossierStatus.SUPPLEMENT_REQUESTED, status_code=5, at=MONDAY_9AM,
        agency="UBND-X-YENHOA", reason="Thiếu giấy chứng sinh", request_number=1, documents=documents,
    )  # fmt: skip


def _refused(dossier_id: str, code: str) -> workflow.DossierEvent:
    return workflow.DossierRefused(
        dossier_id=dossier_id, code=code, status=DossierStatus.REFUSED, status_code=3, at=MONDAY_9AM,
        agency="UBND-X-YENHOA", reason="Sai thẩm quyền",
    )  # fmt: skip


def _stopped(dossier_id: str, code: str) -> workflow.DossierEvent:
    return workflow.DossierStopped(
        dossier_id=dossier_id, code=code, status=DossierStatus.STOPPED, status_code=8, at=MONDAY_9AM,
        agency="UBND-X-YENHOA", reason="Không đủ điều kiện",
    )  # fmt: skip


def _withdrawn(dossier_id: str, code: str) -> workflow.DossierEvent:
    # A payment for a withdrawn dossier had no effect in workflow (found by the load generator's mix).
    return workflow.WithdrawalAccepted(
        dossier_id=dossier_id, code=code, status=DossierStatus.WITHDRAWAL_REQUESTED, status_code=7, at=MONDAY_9AM,
        agency="UBND-X-YENHOA", reason="đổi ý",
    )  # fmt: skip


@pytest.mark.parametrize("ending", [_refused, _stopped, _withdrawn])
async def test_nothing_to_pay_or_withdraw_once_the_dossier_ended_without_a_result(
    ctx: IntakeContext, uow: InMemoryIntakeUnitOfWork, ending: Callable[[str, str], workflow.DossierEvent]
) -> None:
    receipt = (await submit_dossier(dossier_command(birth_dossier("online")), ctx)).body
    await on_workflow_event(ending(receipt["dossier_id"], receipt["code"]), uow.dossiers)
    with pytest.raises(ActionNotAllowed):
        await act(PayFee(receipt["code"], 1000, "card", online=True), ctx)
    with pytest.raises(ActionNotAllowed):
        await act(ProvideSupplement(receipt["dossier_id"], []), ctx)
    with pytest.raises(ActionNotAllowed):
        await act(RequestWithdrawal(receipt["code"], "x"), ctx)


async def test_a_dossier_nobody_has_received_yet_is_not_rated(ctx: IntakeContext) -> None:
    """An online dossier still awaiting acceptance: its rating (a complaint, say) would count in the
    index's satisfaction for a dossier nobody had handled."""
    receipt = (await submit_dossier(dossier_command(birth_dossier("online")), ctx)).body
    with pytest.raises(ActionNotAllowed, match="not been received yet"):
        await act(RateSatisfaction(receipt["code"], 1, "Chậm"), ctx)


async def test_a_dossier_withdrawn_before_anyone_received_it_is_not_rated(
    ctx: IntakeContext, uow: InMemoryIntakeUnitOfWork
) -> None:
    """Withdrawn while it awaited acceptance: no agency ever held it, and it awaits no supplement."""
    receipt = (await submit_dossier(dossier_command(birth_dossier("online")), ctx)).body
    dossier_id, code = receipt["dossier_id"], receipt["code"]
    await on_workflow_event(_supplement_requested(dossier_id, code), uow.dossiers)
    await on_workflow_event(_withdrawn(dossier_id, code), uow.dossiers)
    with pytest.raises(ActionNotAllowed, match="not been received yet"):
        await act(RateSatisfaction(code, 1, "tệ"), ctx)
    assert uow.dossiers.rows[dossier_id]["awaiting_supplement"] is False


async def test_a_dossier_an_official_refused_at_reception_is_rated(
    ctx: IntakeContext, uow: InMemoryIntakeUnitOfWork
) -> None:
    """Never received, but an official decided it: a complaint about the refusal counts. Not one
    workflow refused with nobody deciding (a failed bundle's steps still awaiting acceptance)."""
    by_official = (await submit_dossier(dossier_command(birth_dossier("online", child_name="An")), ctx)).body
    by_workflow = (await submit_dossier(dossier_command(birth_dossier("online", child_name="Bình")), ctx)).body
    refused = _refused(by_official["dossier_id"], by_official["code"]).model_copy(update={"official_id": "cb-hotich"})
    await on_workflow_event(refused, uow.dossiers)
    await on_workflow_event(_refused(by_workflow["dossier_id"], by_workflow["code"]), uow.dossiers)
    assert (await act(RateSatisfaction(by_official["code"], 1, "Từ chối vô lý"), ctx)).status_code == 201
    with pytest.raises(ActionNotAllowed, match="not been received yet"):
        await act(RateSatisfaction(by_workflow["code"], 1, "tệ"), ctx)


async def test_a_bundle_step_stopped_before_its_turn_is_not_rated_one_its_bundle_started_is(
    ctx: IntakeContext, uow: InMemoryIntakeUnitOfWork
) -> None:
    """Received at the counter with its bundle, a later step stopped when an earlier one failed was
    taken as handled: its rating was accepted (the one rating the dossier has, used up) and then
    dropped by reporting, the complaint never counted."""
    receipt = (await submit_bundle(bundle_command(birth_bundle("counter")), ctx)).body
    first, later = receipt["dossiers"][0], receipt["dossiers"][1]
    await on_workflow_event(
        workflow.BundleStepStarted(bundle_id=receipt["bundle_id"], bundle_type="birth", at=MONDAY_9AM,
                                   step_id="birth_registration", dossier_id=first["dossier_id"], inputs={}),
        uow.dossiers,
    )  # fmt: skip
    rejected = _stopped(first["dossier_id"], first["code"]).model_copy(update={"official_id": "cb-hotich"})
    await on_workflow_event(rejected, uow.dossiers)
    await on_workflow_event(
        _stopped(later["dossier_id"], later["code"]).model_copy(update={"step_started": False}), uow.dossiers
    )
    with pytest.raises(ActionNotAllowed, match="not been received yet"):
        await act(RateSatisfaction(later["code"], 1, "tệ"), ctx)
    assert (await act(RateSatisfaction(first["code"], 1, "Từ chối vô lý"), ctx)).status_code == 201


async def test_after_a_refused_withdrawal_the_citizen_may_pay_supplement_and_ask_again(
    ctx: IntakeContext, uow: InMemoryIntakeUnitOfWork
) -> None:
    """Workflow refuses a withdrawal while a registry works on the step, or once the result exists;
    the dossier goes on, and what the request held back is open again."""
    receipt = (await submit_dossier(dossier_command(birth_dossier("counter")), ctx)).body
    dossier_id, code = receipt["dossier_id"], receipt["code"]
    await on_workflow_event(_payment_requested(dossier_id, code, 20_000), uow.dossiers)
    assert (await act(RequestWithdrawal(code, "Nộp nhầm"), ctx)).status_code == 202

    def pending() -> bool:  # the portal shows it, and why a payment is refused meanwhile
        return bool(dossier_public(ctx.rules.catalogue, uow.dossiers.rows[dossier_id])["withdrawal_requested"])

    assert pending()
    await on_workflow_event(
        workflow.WithdrawalRefused(
            dossier_id=dossier_id, code=code, status=DossierStatus.PAYMENT_REQUESTED, status_code=6,
            at=MONDAY_9AM, agency="UBND-X-YENHOA", reason="chưa thể rút; vui lòng thử lại sau",
        ),
        uow.dossiers,
    )  # fmt: skip
    documents = [Document(kind="giay_chung_sinh", digitized=True, reused=False)]
    assert not pending()
    assert (await act(PayFee(code, 20_000, "qr", online=True), ctx)).status_code == 201
    assert (await act(ProvideSupplement(code, documents, "bản chụp"), ctx)).status_code == 202
    assert (await act(RequestWithdrawal(code, "Vẫn muốn rút"), ctx)).status_code == 202

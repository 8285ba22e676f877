"""The citizen's view follows the dossier through workflow's and registry-sync's events."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from contracts.events import intake, registry, workflow
from contracts.events.common import DossierStatus
from intake.adapters.memory import InMemoryIntakeUnitOfWork
from intake.domain.errors import DuplicateDossier
from intake.domain.tracking import DossierChange, own_change, public_result_data, registry_change, workflow_change
from intake.service_layer.handlers import IntakeContext, submit_bundle, submit_dossier
from intake.service_layer.projections import on_events, on_registry_event, on_workflow_event
from intake.service_layer.queries import bundle_public, dossier_public
from registry_sync.adapters.http_client import ExternalHttpClient
from registry_sync.domain.outcomes import Rejected
from tests.unit.intake.conftest import bundle_command, dossier_command
from tests.unit.intake.samples import MONDAY_9AM, birth_bundle, birth_dossier

HOUR = timedelta(hours=1)


def lifecycle(dossier_id: str, code: str) -> list[workflow.WorkflowEvent]:
    common: dict[str, Any] = {"dossier_id": dossier_id, "code": code, "agency": "UBND-X-YENHOA"}
    due = MONDAY_9AM + 8 * HOUR
    return [
        workflow.DossierReceived(**common, status=DossierStatus.RECEIVED, status_code=2, at=MONDAY_9AM + HOUR,
                                 official_id="cb-tiepnhan", procedure_code="1.001193", due_at=due),
        workflow.DossierStepStarted(**common, status=DossierStatus.PROCESSING, status_code=4,
                                    at=MONDAY_9AM + 3 * HOUR, official_id="cb-hotich", step="processing",
                                    step_due_at=due),
        workflow.ResultIssued(**common, status=DossierStatus.PROCESSED, status_code=9, at=MONDAY_9AM + 4 * HOUR,
                              official_id="cb-hotich", result_code=f"{code}-KQ1", document_name="Giấy khai sinh",
                              data={"personal_id_number": "036224000001"}, on_time=True),
        workflow.DossierDueSoon(**common, status=DossierStatus.PROCESSED, status_code=9, at=MONDAY_9AM + 5 * HOUR,
                                due_at=due),  # a timer: no official acted
    ]


async def test_the_view_follows_workflow_and_registry_events(
    ctx: IntakeContext, uow: InMemoryIntakeUnitOfWork
) -> None:
    receipt = (await submit_dossier(dossier_command(birth_dossier("online")), ctx)).body
    dossier_id, code = receipt["dossier_id"], receipt["code"]
    for event in lifecycle(dossier_id, code):
        await on_workflow_event(event, uow.dossiers)
    await on_registry_event(
        registry.PortalSyncSucceeded(dossier_id=dossier_id, code=code, status_code=9, operation="update",
                                     lag_seconds=1.5, synced_at=MONDAY_9AM + 5 * HOUR),
        uow.dossiers,
    )
    await on_registry_event(
        registry.RegistryCommandSucceeded(command_id="c1", system="civil_status", operation="register_birth",
                                          dossier_id=dossier_id, result={}, attempts=1,
                                          completed_at=MONDAY_9AM + 3.5 * HOUR),
        uow.dossiers,
    )
    view = dossier_public(ctx.rules.catalogue, uow.dossiers.rows[dossier_id])
    assert (view["status"], view["status_code"]) == ("processed", 9)
    assert view["procedure"] == {"code": "1.001193", "name_vi": "Đăng ký khai sinh"}
    assert view["current_handler"] == {
        "agency": {"code": "UBND-X-YENHOA", "name_vi": "Ủy ban nhân dân xã Yên Hòa"},
        "official_id": "cb-hotich",
    }
    assert view["received_at"] == "2024-06-17T10:00:00+07:00"
    assert view["due_at"] == "2024-06-17T17:00:00+07:00"
    assert view["result"]["result_code"] == f"{code}-KQ1"
    # Anyone with the code reads this view: the child's new number only masked, nothing else of the data.
    assert view["result"]["data"] == {"personal_id_number": "03********01"}
    assert "036224000001" not in str(view)
    assert [e["event"] for e in view["timeline"]] == [
        "DossierSubmitted", "DossierReceived", "DossierStepStarted", "RegistryCommandSucceeded", "ResultIssued",
    ]  # in time order; the due-soon reminder is for officials
    # Read by citizens: names, not the codes the events carry; times in Vietnam time, as the rest of the view.
    assert [e["note"] for e in view["timeline"][2:4]] == [
        "Bắt đầu bước xử lý: giải quyết hồ sơ", "Hệ thống quốc gia đã xử lý: Cơ sở dữ liệu hộ tịch điện tử",
    ]
    assert view["timeline"][1]["at"] == view["received_at"] == "2024-06-17T10:00:00+07:00"
    assert view["result"]["issued_at"] == "2024-06-17T13:00:00+07:00"
    assert view["portal_sync"]["synced"] is True and view["portal_sync"]["at"] == "2024-06-17T14:00:00+07:00"


async def test_an_event_about_an_unknown_dossier_changes_nothing(uow: InMemoryIntakeUnitOfWork) -> None:
    for event in lifecycle("00000000-0000-0000-0000-000000000000", "X-240617-0001"):
        await on_workflow_event(event, uow.dossiers)
    assert uow.dossiers.rows == {}


async def test_the_bundle_view_shows_each_step_and_the_bundles_status(
    ctx: IntakeContext, uow: InMemoryIntakeUnitOfWork
) -> None:
    receipt = (await submit_bundle(bundle_command(birth_bundle()), ctx)).body
    bundle_id, first = receipt["bundle_id"], receipt["dossiers"][0]

    def view() -> dict[str, Any]:
        rows = sorted((r for r in uow.dossiers.rows.values() if r["bundle_id"] == bundle_id),
                      key=lambda r: r["bundle_position"])
        return bundle_public(ctx.rules, uow.dossiers.bundles[bundle_id], rows)

    assert view()["status"] == "submitted"
    assert [s["step_id"] for s in view()["steps"]] == ["birth_registration", "permanent_residence",
                                                       "health_insurance_card"]
    common = {"bundle_id": bundle_id, "bundle_type": "birth"}
    await on_workflow_event(
        workflow.BundleStepStarted(**common, at=MONDAY_9AM, step_id="birth_registration",
                                   dossier_id=first["dossier_id"], inputs={}),
        uow.dossiers,
    )
    assert view()["status"] == "processing"
    assert view()["steps"][0]["started_at"] == "2024-06-17T09:00:00+07:00"
    for event in lifecycle(first["dossier_id"], first["code"]):
        await on_workflow_event(event, uow.dossiers)
    assert view()["steps"][0]["result_code"] == f"{first['code']}-KQ1"
    assert view()["steps"][0]["result"]["data"] == {"personal_id_number": "03********01"}
    assert view()["steps"][1]["result"] is None
    await on_workflow_event(
        workflow.BundlePartiallyCompleted(**common, at=MONDAY_9AM + HOUR, failed_step="permanent_residence",
                                          reason="Địa chỉ không tồn tại", completed_steps=["birth_registration"]),
        uow.dossiers,
    )
    final = view()
    assert (final["status"], final["failed_step"]) == ("partially_completed", "permanent_residence")


def test_a_payment_owed_back_says_so_on_the_citizens_timeline() -> None:
    owed = workflow.PaymentConfirmed(
        dossier_id="d-1", code="X-240617-0001", status=DossierStatus.STOPPED, status_code=8, at=MONDAY_9AM,
        agency="UBND-X-YENHOA", amount=50_000, online=True, refund_due=True,
    )  # fmt: skip
    entry = workflow_change(owed).timeline
    assert entry is not None
    assert entry.as_dict()["note"] == (
        "Đã hoàn thành nghĩa vụ tài chính: hồ sơ đã kết thúc, 50.000 đồng được hoàn trả cho công dân"
    )


@pytest.mark.parametrize(
    ("status", "outstanding", "note"),
    [
        (DossierStatus.PAYMENT_REQUESTED, 30_000, "Đã nộp một phần nghĩa vụ tài chính: 20.000 đồng"),
        (DossierStatus.PROCESSING, 30_000, "Đã nộp một phần nghĩa vụ tài chính: 20.000 đồng"),  # of the fee
        (DossierStatus.PROCESSING, 0, "Đã hoàn thành nghĩa vụ tài chính: 20.000 đồng"),
        (DossierStatus.PAYMENT_REQUESTED, None, "Đã nộp một phần nghĩa vụ tài chính: 20.000 đồng"),  # older event
        (DossierStatus.PROCESSING, None, "Đã hoàn thành nghĩa vụ tài chính: 20.000 đồng"),
    ],
)
def test_a_part_payment_is_not_told_as_the_obligation_met(
    status: DossierStatus, outstanding: int | None, note: str
) -> None:
    """50,000 asked (or the fee), 20,000 paid: the timeline said 'financial obligation completed' beside
    30,000 owed."""
    paid = workflow.PaymentConfirmed(
        dossier_id="d-1", code="X-240617-0001", status=status, status_code=status.code, at=MONDAY_9AM,
        agency="UBND-X-YENHOA", amount=20_000, online=True, outstanding=outstanding,
    )  # fmt: skip
    entry = workflow_change(paid).timeline
    assert entry is not None and entry.as_dict()["note"] == note


async def test_the_view_shows_an_appointment_only_once_received(
    ctx: IntakeContext, uow: InMemoryIntakeUnitOfWork
) -> None:
    receipt = (await submit_dossier(dossier_command(birth_dossier("online")), ctx)).body
    common: dict[str, Any] = {"dossier_id": receipt["dossier_id"], "code": receipt["code"], "agency": "UBND-X-YENHOA"}
    window_end = MONDAY_9AM + 9 * HOUR  # sent back before acceptance: a fresh acceptance window, no appointment
    await on_workflow_event(
        workflow.SupplementReceived(**common, status=DossierStatus.REGISTERED, status_code=1, at=MONDAY_9AM + HOUR,
                                    paused_seconds=0, due_at=window_end), uow.dossiers)  # fmt: skip
    assert dossier_public(ctx.rules.catalogue, uow.dossiers.rows[receipt["dossier_id"]])["due_at"] is None
    for event in lifecycle(receipt["dossier_id"], receipt["code"])[:1]:
        await on_workflow_event(event, uow.dossiers)
    assert dossier_public(ctx.rules.catalogue, uow.dossiers.rows[receipt["dossier_id"]])["due_at"] is not None


def test_a_later_bundle_step_started_with_a_moved_date_moves_the_citizen_s_appointment() -> None:
    def started(due_at: object) -> workflow.DossierStepStarted:
        return workflow.DossierStepStarted(
            dossier_id="d-2", code="X-240617-0002", status=DossierStatus.PROCESSING, status_code=4,
            at=MONDAY_9AM, agency="CA-X-YENHOA", step="processing", step_due_at=MONDAY_9AM + 8 * HOUR,
            due_at=due_at,
        )  # fmt: skip

    assert workflow_change(started(MONDAY_9AM + 50 * HOUR)).due_at == MONDAY_9AM + 50 * HOUR
    assert workflow_change(started(None)).due_at is None  # unmoved: the view keeps its date


def test_a_registry_that_gave_up_or_refused_is_told_to_the_citizen_in_vietnamese() -> None:
    """The timeline read 'Hệ thống quốc gia không xử lý được: …: gave up after 6 attempts: timeout: ReadTimeout',
    and a refusal whose code we do not know as the system put it."""
    common = {"command_id": "c1", "system": "population_db", "operation": "register_residence",
              "dossier_id": "d1", "failed_at": MONDAY_9AM}  # fmt: skip
    gave_up = registry.RegistryCommandFailed(
        **common, reason="gave up after 6 attempts: timeout: ReadTimeout", attempts=6, error="gave_up"
    )
    refused = registry.RegistryCommandFailed(
        **common, reason="địa chỉ không tồn tại", attempts=1, error="address_unknown", http_status=422
    )
    missing = registry.RegistryCommandFailed(
        **common, reason="data.deceased.social_insurance_number: required", attempts=0, error="missing_data"
    )
    incomplete = registry.RegistryCommandFailed(  # it told the English reason to the citizen
        **common, reason="201 with no residence_id: the system's answer does not say what it did", attempts=1,
        error="incomplete_result", http_status=201,
    )
    failures = (gave_up, refused, missing, incomplete)
    notes = [registry_change(e).timeline.as_dict()["note"] for e in failures]  # type: ignore[union-attr]
    assert notes == [
        "Hệ thống quốc gia không xử lý được: Cơ sở dữ liệu quốc gia về dân cư: "
        "hệ thống không phản hồi sau 6 lần gửi yêu cầu",
        "Hệ thống quốc gia không xử lý được: Cơ sở dữ liệu quốc gia về dân cư: hệ thống từ chối thực hiện yêu cầu",
        "Hệ thống quốc gia không xử lý được: Cơ sở dữ liệu quốc gia về dân cư: "
        "thiếu dữ liệu cần thiết để hệ thống thực hiện (deceased.social_insurance_number)",
        "Hệ thống quốc gia không xử lý được: Cơ sở dữ liệu quốc gia về dân cư: kết quả hệ thống trả về không đầy đủ",
    ]


def test_a_registry_s_refusal_shows_its_cause_on_the_timeline_not_its_http_answer_or_the_card_number() -> None:
    """The timeline read 'Hệ thống quốc gia không xử lý được: Bảo hiểm xã hội Việt Nam: 409 card_exists: the
    child already holds card TE1791234567890': anyone with the dossier code read the card number."""
    answer = httpx.Response(409, json={"error": "card_exists", "field": "id_number",
                                       "message": "the child already holds card TE1791234567890"})  # fmt: skip
    outcome = ExternalHttpClient.outcome(answer)
    assert isinstance(outcome, Rejected)
    refused = registry.RegistryCommandFailed(
        command_id="c1", system="social_insurance", operation="issue_child_health_insurance_card",
        dossier_id="d1", reason=outcome.reason, attempts=1, failed_at=MONDAY_9AM, http_status=outcome.status,
        error=outcome.error,
    )  # fmt: skip
    note = registry_change(refused).timeline.as_dict()["note"]  # type: ignore[union-attr]
    assert note == "Hệ thống quốc gia không xử lý được: Bảo hiểm xã hội Việt Nam: trẻ đã được cấp thẻ bảo hiểm y tế"


@pytest.mark.parametrize("channel", ["online", "counter"])
async def test_the_bundle_s_date_is_its_limit_from_the_first_step_s_reception_and_moves_with_its_steps(
    ctx: IntakeContext, uow: InMemoryIntakeUnitOfWork, channel: str
) -> None:
    """An online bundle showed no date at all (it announces none at submission), and a counter bundle's
    never moved when a step's did (a verification, an apology letter, a step released late)."""
    receipt = (await submit_bundle(bundle_command(birth_bundle(channel)), ctx)).body
    bundle_id, first, later = receipt["bundle_id"], receipt["dossiers"][0], receipt["dossiers"][1]

    def due() -> str | None:
        rows = sorted((r for r in uow.dossiers.rows.values() if r["bundle_id"] == bundle_id),
                      key=lambda r: r["bundle_position"])  # fmt: skip
        return bundle_public(ctx.rules, uow.dossiers.bundles[bundle_id], rows)["due_at"]  # type: ignore[no-any-return]

    accepted = MONDAY_9AM + HOUR
    promised = ctx.rules.due_at(accepted if channel == "online" else MONDAY_9AM,
                                ctx.rules.catalogue.bundle("birth").statutory_limit)  # fmt: skip
    if channel == "online":
        assert due() is None  # nobody has accepted it yet
        await on_workflow_event(
            workflow.DossierReceived(dossier_id=first["dossier_id"], code=first["code"], agency="UBND-X-YENHOA",
                                     status=DossierStatus.RECEIVED, status_code=2, at=accepted,
                                     procedure_code="1.001193", due_at=accepted + 6 * HOUR),
            uow.dossiers,
        )  # fmt: skip
    assert due() == promised.isoformat()
    moved = promised + 48 * HOUR
    await on_workflow_event(
        workflow.DossierReceived(dossier_id=later["dossier_id"], code=later["code"], agency="CA-X-YENHOA",
                                 status=DossierStatus.RECEIVED, status_code=2, at=accepted,
                                 procedure_code="1.004222", due_at=moved),  # released after the date passed
        uow.dossiers,
    )  # fmt: skip
    assert due() == moved.isoformat()


def test_after_a_forward_the_view_names_no_official_of_the_agency_it_went_to() -> None:
    """It named the official who forwarded it, as if they held it at the other agency."""
    forwarded = workflow.DossierForwarded(
        dossier_id="d-1", code="X-240617-0001", status=DossierStatus.PROCESSING, status_code=4, at=MONDAY_9AM,
        agency="UBND-X-YENHOA", official_id="cb-stp-1", from_agency="STP-BINHAN", reason="thuộc thẩm quyền xã",
    )  # fmt: skip
    change = workflow_change(forwarded)
    assert change.handler == ("UBND-X-YENHOA", None)
    assert change.timeline is not None and change.timeline.official_id == "cb-stp-1"  # who sent it, on the line


async def test_a_step_started_with_no_official_holds_no_official_a_timer_keeps_the_one_it_had(
    ctx: IntakeContext, uow: InMemoryIntakeUnitOfWork
) -> None:
    """The reception clerk who accepted it went on being named as its holder through processing."""
    receipt = (await submit_dossier(dossier_command(birth_dossier("online")), ctx)).body
    dossier_id, code = receipt["dossier_id"], receipt["code"]
    received, started, *_ = lifecycle(dossier_id, code)
    due_soon = lifecycle(dossier_id, code)[-1]
    await on_workflow_event(received, uow.dossiers)
    await on_workflow_event(started.model_copy(update={"official_id": None}), uow.dossiers)
    assert dossier_public(ctx.rules.catalogue, uow.dossiers.rows[dossier_id])["current_handler"]["official_id"] is None
    await on_workflow_event(started, uow.dossiers)  # an official takes it up
    await on_workflow_event(due_soon, uow.dossiers)  # a timer names none: it keeps them
    assert dossier_public(ctx.rules.catalogue, uow.dossiers.rows[dossier_id])["current_handler"]["official_id"] == (
        "cb-hotich"
    )


async def test_the_view_says_what_the_citizen_still_owes(ctx: IntakeContext, uow: InMemoryIntakeUnitOfWork) -> None:
    """The fee was there, the officials' request only inside a timeline note: the portal could not show
    'còn phải nộp 30.000 đồng', and a citizen paying the whole request got a 422 for paying too much."""
    receipt = (await submit_dossier(dossier_command(birth_dossier("online")), ctx)).body  # no fee
    dossier_id, code = receipt["dossier_id"], receipt["code"]
    common: dict[str, Any] = {"dossier_id": dossier_id, "code": code, "agency": "UBND-X-YENHOA"}
    await on_workflow_event(
        workflow.PaymentRequested(**common, status=DossierStatus.PAYMENT_REQUESTED, status_code=6,
                                  at=MONDAY_9AM + HOUR, amount=50_000),
        uow.dossiers,
    )  # fmt: skip
    change = own_change(intake.FeePaid(dossier_id=dossier_id, amount=20_000, method="qr", online=True,
                                       paid_at=MONDAY_9AM + 2 * HOUR))  # fmt: skip
    assert change is not None
    await uow.dossiers.apply(change)
    view = dossier_public(ctx.rules.catalogue, uow.dossiers.rows[dossier_id])
    assert (view["fee"], view["requested_amount"], view["paid_amount"], view["owed"]) == (0, 50_000, 20_000, 30_000)
    await uow.dossiers.apply(DossierChange(dossier_id, withdrawal_requested=True))  # the pay action refuses now
    assert dossier_public(ctx.rules.catalogue, uow.dossiers.rows[dossier_id])["owed"] == 0
    await uow.dossiers.apply(DossierChange(dossier_id, withdrawal_requested=False))  # refused: owed again
    await on_workflow_event(
        workflow.DossierStopped(**common, status=DossierStatus.STOPPED, status_code=8, at=MONDAY_9AM + 3 * HOUR,
                                reason="không đủ điều kiện"),
        uow.dossiers,
    )  # fmt: skip
    assert dossier_public(ctx.rules.catalogue, uow.dossiers.rows[dossier_id])["owed"] == 0  # nothing once ended


CHILD_ID = "036224000009"


def card_for_the_child() -> dict[str, Any]:
    """The child's health-insurance card asked for on its own, by the child's new number."""
    return {
        "procedure_code": "9.000001", "channel": "online", "receiving_agency": "UBND-X-YENHOA",
        "applicant": birth_bundle()["applicant"],
        "form": {"child": {"personal_id_number": CHILD_ID, "full_name": "Nguyễn Văn An", "date_of_birth": "2024-06-10",
                           "sex": "male"}, "address": "Thôn 1, xã Yên Hòa"},
        "documents": [{"kind": "to_khai_tham_gia_bhyt", "digitized": True, "reused": False}],
    }  # fmt: skip


def card_step_started(ctx: IntakeContext, bundle: dict[str, Any]) -> workflow.BundleStepStarted:
    definition = ctx.rules.catalogue.bundle("birth")
    results = {
        "birth_registration": {"personal_id_number": CHILD_ID},
        "permanent_residence": {"residence_address": "Thôn 1, xã Yên Hòa"},
    }
    inputs = definition.step("health_insurance_card").resolve_inputs(birth_bundle()["form"], results)
    return workflow.BundleStepStarted(
        bundle_id=bundle["bundle_id"], bundle_type="birth", at=MONDAY_9AM + timedelta(days=2),
        step_id="health_insurance_card", dossier_id=bundle["dossiers"][2]["dossier_id"], inputs=inputs,
    )  # fmt: skip


async def test_a_bundle_step_keeps_its_subject_from_others_once_it_starts(
    ctx: IntakeContext, uow: InMemoryIntakeUnitOfWork
) -> None:
    """The card step's subject, the child's number, does not exist at submission: it had no digest
    ever, and the same child's card asked for on its own went through while the step was open."""
    bundle = (await submit_bundle(bundle_command(birth_bundle()), ctx)).body
    await on_events([card_step_started(ctx, bundle)], uow.dossiers, ctx.rules.catalogue)
    with pytest.raises(DuplicateDossier) as caught:
        await submit_dossier(dossier_command(card_for_the_child()), ctx)
    assert caught.value.existing_code == bundle["dossiers"][2]["code"]


async def test_a_step_whose_subject_was_taken_meanwhile_stays_open_without_it(
    ctx: IntakeContext, uow: InMemoryIntakeUnitOfWork
) -> None:
    bundle = (await submit_bundle(bundle_command(birth_bundle()), ctx)).body
    alone = (await submit_dossier(dossier_command(card_for_the_child()), ctx)).body  # before the step started
    await on_events([card_step_started(ctx, bundle)], uow.dossiers, ctx.rules.catalogue)
    step = uow.dossiers.rows[bundle["dossiers"][2]["dossier_id"]]
    assert step["subject_key"] is None and step["step_started_at"] is not None
    assert uow.dossiers.rows[alone["dossier_id"]]["subject_key"] is not None


def test_the_public_view_shows_identification_numbers_by_their_field_not_their_look() -> None:
    """A licence's 12 digits that happen to parse as an identification number were shown (masked)."""
    data = {"personal_id_number": "036224000001", "licence_number": "036224000002", "card_number": "TE1360000001"}
    assert public_result_data(data) == {"personal_id_number": "03********01"}


async def test_an_event_replayed_after_its_successors_adds_its_line_but_sets_nothing_back(
    ctx: IntakeContext, uow: InMemoryIntakeUnitOfWork
) -> None:
    """A dead letter is replayed after the events that followed it. Applied as the newest, a payment
    request replayed after the result was returned showed the dossier waiting for payment (a withdrawal
    was then accepted: 202), and a reminder replayed after an apology letter put the missed appointment
    back."""
    receipt = (await submit_dossier(dossier_command(birth_dossier("online")), ctx)).body
    dossier_id, code = receipt["dossier_id"], receipt["code"]
    common: dict[str, Any] = {"dossier_id": dossier_id, "code": code, "agency": "UBND-X-YENHOA"}
    due = MONDAY_9AM + 8 * HOUR
    later = due + 48 * HOUR
    S = DossierStatus
    received = workflow.DossierReceived(**common, status=S.RECEIVED, status_code=2, at=MONDAY_9AM + HOUR,
                                        official_id="cb-01", procedure_code="1.001193", due_at=due)
    # Workflow's pair: the start stamped with the reception's time (its clock behind intake's).
    started = workflow.DossierStepStarted(**common, status=S.PROCESSING, status_code=4, at=MONDAY_9AM + HOUR,
                                          step="processing", step_due_at=due)
    reminder = workflow.DossierDueSoon(**common, status=S.PROCESSING, status_code=4, at=MONDAY_9AM + 2 * HOUR,
                                       due_at=due)
    requested = workflow.PaymentRequested(**common, status=S.PAYMENT_REQUESTED, status_code=6,
                                          at=MONDAY_9AM + 3 * HOUR, official_id="cb-02", amount=8_000)
    apology = workflow.ApologyLetterIssued(**common, status=S.PROCESSING, status_code=4, at=MONDAY_9AM + 4 * HOUR,
                                           official_id="cb-02", reason="cần xác minh thêm", previous_due_at=due,
                                           new_due_at=later)
    returned = workflow.ResultReturned(**common, status=S.RETURNED, status_code=10, at=MONDAY_9AM + 6 * HOUR,
                                       delivery="counter")  # fmt: skip
    await on_events([started, received, apology, returned], uow.dossiers)  # the pair's earlier half late
    view = dossier_public(ctx.rules.catalogue, uow.dossiers.rows[dossier_id])
    assert view["status"] == "returned" and datetime.fromisoformat(view["received_at"]) == received.at
    assert datetime.fromisoformat(view["due_at"]) == later
    await on_events([requested, reminder], uow.dossiers)  # replayed from the dead-letter topic
    view = dossier_public(ctx.rules.catalogue, uow.dossiers.rows[dossier_id])
    assert (view["status"], datetime.fromisoformat(view["due_at"]), view["requested_amount"]) == (
        "returned", later, 8_000
    )
    assert "PaymentRequested" in [e["event"] for e in view["timeline"]]  # its line is still told


async def test_an_event_replayed_late_still_sets_what_no_newer_event_set(
    ctx: IntakeContext, uow: InMemoryIntakeUnitOfWork
) -> None:
    """Dropped with everything else a late event carries: a withdrawal's refusal left the request
    pending for good (no payment, supplement or new request taken), an apology letter replayed after a
    payment request lost its new date, and a late overdue flag was lost; a counter dossier's reception
    replayed after an apology put its first appointment back."""
    S = DossierStatus

    async def dossier(channel: str, child: str) -> dict[str, Any]:
        receipt = (await submit_dossier(dossier_command(birth_dossier(channel, child_name=child)), ctx)).body
        return {"dossier_id": receipt["dossier_id"], "code": receipt["code"], "agency": "UBND-X-YENHOA"}

    def view(common: dict[str, Any]) -> dict[str, Any]:
        return dossier_public(ctx.rules.catalogue, uow.dossiers.rows[common["dossier_id"]])

    due = MONDAY_9AM + 8 * HOUR
    later = due + 48 * HOUR
    online = await dossier("online", "Nguyễn Văn An")
    received = workflow.DossierReceived(**online, status=S.RECEIVED, status_code=2, at=MONDAY_9AM + HOUR,
                                        official_id="cb-01", procedure_code="1.001193", due_at=due)
    apology = workflow.ApologyLetterIssued(**online, status=S.PROCESSING, status_code=4, at=MONDAY_9AM + 2 * HOUR,
                                           official_id="cb-02", reason="cần xác minh thêm", previous_due_at=due,
                                           new_due_at=later)
    overdue = workflow.DossierOverdue(**online, status=S.PROCESSING, status_code=4, at=MONDAY_9AM + 2 * HOUR,
                                      due_at=due)
    refused = workflow.WithdrawalRefused(**online, status=S.PROCESSING, status_code=4, at=MONDAY_9AM + 2 * HOUR,
                                         reason="đã có kết quả")
    requested = workflow.PaymentRequested(**online, status=S.PAYMENT_REQUESTED, status_code=6,
                                          at=MONDAY_9AM + 3 * HOUR, official_id="cb-02", amount=8_000)  # fmt: skip
    await on_events([received], uow.dossiers)
    await uow.dossiers.apply(DossierChange(online["dossier_id"], withdrawal_requested=True))  # the citizen asks
    await on_events([requested, apology, overdue, refused], uow.dossiers)  # the last three replayed late
    shown = view(online)
    assert (shown["status"], datetime.fromisoformat(shown["due_at"])) == ("payment_requested", later)
    assert shown["overdue"] is True and shown["withdrawal_requested"] is False

    counter = await dossier("counter", "Nguyễn Thị Mai")  # received, with its appointment, at the counter
    counter_received = workflow.DossierReceived(**counter, status=S.RECEIVED, status_code=2, at=MONDAY_9AM,
                                                official_id="cb-01", procedure_code="1.001193", due_at=due)
    counter_apology = apology.model_copy(update={"dossier_id": counter["dossier_id"], "code": counter["code"]})
    await on_events([counter_apology, counter_received], uow.dossiers)  # the reception replayed late
    assert datetime.fromisoformat(view(counter)["due_at"]) == later


@pytest.mark.parametrize(
    ("reason", "note"),
    [
        ("deadline_passed", "Hồ sơ quá hạn: đã quá ngày hẹn trả kết quả"),
        ("second_supplement_request", "Hồ sơ quá hạn: yêu cầu bổ sung hồ sơ lần thứ hai"),
    ],
    ids=["deadline passed", "second supplement request"],
)
def test_an_overdue_dossier_s_timeline_line_gives_the_reason_in_the_citizen_s_words(reason: str, note: str) -> None:
    """The line read 'Hồ sơ quá hạn: deadline_passed', the code workflow's timer puts on the event."""
    overdue = workflow.DossierOverdue(
        dossier_id="d-1", code="X-240617-0001", status=DossierStatus.PROCESSING, status_code=4, at=MONDAY_9AM,
        agency="UBND-X-YENHOA", due_at=MONDAY_9AM, reason=reason,
    )  # fmt: skip
    entry = workflow_change(overdue).timeline
    assert entry is not None and entry.as_dict()["note"] == note


async def test_a_reception_applied_after_the_start_of_the_same_instant_leaves_the_view_as_the_start_left_it(
    ctx: IntakeContext, uow: InMemoryIntakeUnitOfWork
) -> None:
    """Workflow writes a counter dossier's reception and start with one time; the reception replayed
    after the start put the view back to 'received', held by the reception clerk, all through its
    processing."""
    receipt = (await submit_dossier(dossier_command(birth_dossier("counter")), ctx)).body
    common: dict[str, Any] = {"dossier_id": receipt["dossier_id"], "code": receipt["code"], "agency": "UBND-X-YENHOA"}
    due = MONDAY_9AM + 8 * HOUR
    received = workflow.DossierReceived(**common, status=DossierStatus.RECEIVED, status_code=2, at=MONDAY_9AM,
                                        official_id="cb-tiepnhan", procedure_code="1.001193", due_at=due)  # fmt: skip
    started = workflow.DossierStepStarted(**common, status=DossierStatus.PROCESSING, status_code=4, at=MONDAY_9AM,
                                          official_id="cb-hotich", step="processing", step_due_at=due)  # fmt: skip
    await on_events([started, received], uow.dossiers)
    view = dossier_public(ctx.rules.catalogue, uow.dossiers.rows[receipt["dossier_id"]])
    assert (view["status"], view["current_handler"]["official_id"]) == ("processing", "cb-hotich")

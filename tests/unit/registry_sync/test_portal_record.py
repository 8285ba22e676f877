"""Our copy of a dossier, folded from intake's and workflow's events, and the portal dossier made
from it — checked against the portal's own request model and cross-field rules."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from contracts.envelope import Envelope
from contracts.events.common import Applicant, Document, DossierStatus
from contracts.events.intake import BundleStep, BundleSubmitted, DossierSubmitted, FeePaid, SupplementProvided
from contracts.events.workflow import (
    ApologyLetterIssued,
    DossierEvent,
    DossierForwarded,
    DossierOverdue,
    DossierRefused,
    DossierStepStarted,
    DossierStopped,
    PaymentConfirmed,
    PaymentRequested,
    ResultIssued,
    ResultReturned,
    SupplementReceived,
    SupplementRequested,
    WithdrawalAccepted,
)
from contracts.obligation import amount_owed
from registry_sim.errors import SimError
from registry_sim.portal_models import PortalDossier, check_rules
from registry_sync.adapters.portal import portal_body, portal_time
from registry_sync.domain.portal_record import (
    FeeLine,
    PortalRecord,
    apply_bundle_step,
    apply_dossier_event,
    apply_fee_paid,
    apply_submitted,
    apply_supplement_provided,
)
from tests.unit.registry_sync.events import T0, lifecycle, received, result_issued, returned, submitted, wrap

CODE = "CAXANPHU-240710-0001"


def names(procedure: str, kind: str) -> str:
    return f"Tài liệu {kind}"


def fold(record: PortalRecord | None, envelope: Envelope) -> PortalRecord:
    event = envelope.parse_payload()
    assert isinstance(event, DossierEvent)
    return apply_dossier_event(record, event)


def accepted_by_portal(record: PortalRecord) -> dict:  # type: ignore[type-arg]
    body = portal_body(record, names)
    check_rules(PortalDossier.model_validate(body))  # raises SimError naming the field
    return body


def test_dates_travel_as_vietnam_time_in_yyyymmddhhmmss() -> None:
    assert portal_time(T0) == "20240710083000"
    assert portal_time(T0.replace(tzinfo=None)) == "20240710083000"  # naive means UTC


def test_submission_then_lifecycle_gives_the_portal_a_complete_dossier() -> None:
    declaration, residence = "to_khai_thay_doi_thong_tin_cu_tru", "giay_to_cho_o_hop_phap"
    sub = submitted("d1", CODE).parse_payload()
    assert isinstance(sub, DossierSubmitted)
    sub = sub.model_copy(update={"documents": [
        Document(kind=declaration, digitized=False, reused=False),  # handed in on paper
        Document(kind=residence, digitized=True, reused=True, from_national_store=True),
    ]})  # fmt: skip
    record = apply_submitted(None, sub)
    assert record.missing() == []
    body = accepted_by_portal(record)
    assert (body["state"], body["channel"], body["procedure_code"]) == (1, 2, "1.004222")
    # The portal computes its digitisation and reuse rates from these flags: each is the document's own.
    assert body["documents"] == [
        {"code": declaration, "name": f"Tài liệu {declaration}", "digitised": False, "reused": False,
         "from_national_store": False},
        {"code": residence, "name": f"Tài liệu {residence}", "digitised": True, "reused": True,
         "from_national_store": True},
    ]  # fmt: skip

    step_due = T0 + timedelta(days=1, hours=2)
    started = DossierStepStarted(
        **{**lifecycle("d1", CODE, T0 + timedelta(hours=2), status=DossierStatus.PROCESSING), "agency": "CA-H-BINHAN"},
        step="processing", step_due_at=step_due,
    )  # fmt: skip
    for envelope in (received("d1", CODE), wrap(started, "d1", "workflow"), result_issued("d1", CODE),
                     returned("d1", CODE)):  # fmt: skip
        record = fold(record, envelope)
        body = accepted_by_portal(record)
    assert body["state"] == 10
    assert body["received_at"] == "20240710093000"
    assert body["appointment_at"] == "20240712093000"
    assert body["finished_at"] == "20240711083000" and body["returned_at"] == "20240712083000"
    # Not "signed": nothing here e-signs results, so the portal is not told they are.
    assert body["results"] == [{"code": f"{CODE}-KQ1", "name": "Thông báo kết quả đăng ký thường trú"}]
    assert [h["state"] for h in body["history"]] == [1, 2, 4, 9, 10]
    assert body["history"][1]["official"] == "Nguyễn Thị Lan"
    # Each line names the department that acted; a step's line carries the statutory end of that step.
    assert [h["department"] for h in body["history"]] == ["CA-X-ANPHU", "CA-X-ANPHU", "CA-H-BINHAN", "CA-X-ANPHU",
                                                          "CA-X-ANPHU"]  # fmt: skip
    assert [h.get("step_deadline") for h in body["history"]] == [None, None, portal_time(step_due), None, None]


def test_workflow_arriving_first_waits_for_the_submission_and_is_never_rolled_back() -> None:
    record = fold(None, received("d1", CODE))
    assert record.missing() == ["channel"]
    record = fold(record, result_issued("d1", CODE))
    record = apply_submitted(record, submitted("d1", CODE).parse_payload())  # type: ignore[arg-type]
    assert record.missing() == [] and record.state == 9  # the late submission does not move it back to 1
    assert [h.state for h in record.history] == [1, 2, 9]  # in time order whatever the arrival order
    accepted_by_portal(record)


def test_an_online_dossier_s_reception_read_before_its_submission_keeps_its_dates() -> None:
    """Intake's submission of an online dossier has neither date (nobody had accepted it yet): read
    after workflow's reception, it blanked the reception and the appointment workflow had given."""
    record = fold(None, received("d1", CODE))
    record = apply_submitted(record, submitted("d1", CODE, channel="online").parse_payload())  # type: ignore[arg-type]
    assert (record.received_at, record.appointment_at) == (T0 + timedelta(hours=1), T0 + timedelta(days=2, hours=1))
    body = accepted_by_portal(record)
    assert (body["received_at"], body["appointment_at"]) == ("20240710093000", "20240712093000")


def test_an_event_replayed_after_its_successors_fills_in_but_never_rolls_back() -> None:
    """A dead letter replayed once the dossier moved on (here its reception, after the result was
    returned): the portal keeps state 10 and its dates, and gains the reception's history line."""
    record = apply_submitted(None, submitted("d1", CODE).parse_payload())  # type: ignore[arg-type]
    for envelope in (result_issued("d1", CODE), returned("d1", CODE)):
        record = fold(record, envelope)
    assert (record.state, record.received_at) == (10, None)
    record = fold(record, received("d1", CODE))
    body = accepted_by_portal(record)
    assert body["state"] == 10 and body["returned_at"] == "20240712083000"
    assert body["received_at"] == "20240710093000"  # it lacked one: the late event tells it
    assert [h["state"] for h in body["history"]] == [1, 2, 9, 10]


def test_an_apology_letter_moves_the_portal_s_appointment_and_a_late_reception_does_not_move_it_back() -> None:
    """The reception, dead-lettered and replayed after an apology letter, carried the date the letter
    replaced: applied as it came, the portal showed the citizen the broken appointment again."""
    record = apply_submitted(None, submitted("d1", CODE).parse_payload())  # type: ignore[arg-type]
    reception = received("d1", CODE)
    first_date = reception.parse_payload().due_at  # type: ignore[attr-defined]
    record = fold(record, reception)
    new_date = first_date + timedelta(days=7)
    letter = ApologyLetterIssued(
        **lifecycle("d1", CODE, T0 + timedelta(days=1), status=DossierStatus.PROCESSING),
        reason="Cần xác minh thêm", previous_due_at=first_date, new_due_at=new_date,
    )  # fmt: skip
    record = apply_dossier_event(record, letter)
    assert accepted_by_portal(record)["appointment_at"] == portal_time(new_date)
    record = fold(record, reception)  # replayed from the dead letters
    assert accepted_by_portal(record)["appointment_at"] == portal_time(new_date)


def _moving_the_date(kind: str, at: datetime, new_date: datetime) -> DossierEvent:
    common = lifecycle("d1", CODE, at, status=DossierStatus.PROCESSING)
    if kind == "a supplement's arrival":
        return SupplementReceived(**common, paused_seconds=3600, due_at=new_date)
    if kind == "an apology letter":
        return ApologyLetterIssued(**common, reason="Cần xác minh thêm", previous_due_at=T0, new_due_at=new_date)
    return DossierStepStarted(**common, step="verification", step_due_at=new_date, due_at=new_date)


@pytest.mark.parametrize("kind", ["a supplement's arrival", "an apology letter", "a step's start"])
def test_a_date_moving_event_replayed_late_moves_the_appointment_no_newer_event_set(kind: str) -> None:
    """The event that moved the appointment, dead-lettered and replayed after a later request for
    payment (which sets no date): intake and reporting moved the appointment, the portal kept the
    reception's, as it dropped every date of a late event once it held one. An event older than the
    one that set the date still gives way."""
    record = fold(apply_submitted(None, submitted("d1", CODE).parse_payload()), received("d1", CODE))  # type: ignore[arg-type]
    first_date = record.appointment_at
    new_date = T0 + timedelta(days=8)
    moving = _moving_the_date(kind, T0 + timedelta(days=1), new_date)
    record = apply_dossier_event(record, _request(300_000, at_hours=48))
    record = apply_dossier_event(record, moving)  # replayed from the dead letters
    assert record.state == DossierStatus.PAYMENT_REQUESTED.code  # the state is the later event's
    assert accepted_by_portal(record)["appointment_at"] == portal_time(new_date)
    record = fold(record, received("d1", CODE))  # older than the date: replayed, it gives way
    assert accepted_by_portal(record)["appointment_at"] == portal_time(new_date) != portal_time(first_date)


@pytest.mark.parametrize(
    "history",
    ["an apology letter after it", "the same, in the old wording", "only a reception before it", "nothing"],
)
def test_a_record_saved_before_it_was_kept_reads_when_its_appointment_was_set_from_its_history(history: str) -> None:
    """A record saved without the time its appointment was set (before this build, or rewritten by
    one without it) takes it from its history, as intake's migration 0011 read its rows' timelines:
    a supplement's arrival replayed late moves the date a reception before it set, and gives way to
    an apology letter after it. When nothing tells (a counter dossier's date from its submission), the
    date held stays, as before."""
    counter = history == "nothing"
    submission = submitted("d1", CODE, channel="counter" if counter else "online").parse_payload()
    assert isinstance(submission, DossierSubmitted)
    first_date = T0 + timedelta(days=2)
    if counter:
        submission = submission.model_copy(update={"received_at": T0, "due_at": first_date})
    record = apply_submitted(None, submission)
    if not counter:
        record = fold(record, received("d1", CODE))
    letter_date = T0 + timedelta(days=10)
    if history.startswith("an apology") or history.startswith("the same"):
        record = apply_dossier_event(record, _moving_the_date("an apology letter", T0 + timedelta(days=2), letter_date))
    else:
        forward = DossierForwarded(**lifecycle("d1", CODE, T0 + timedelta(days=2), status=DossierStatus.PROCESSING),
                                   from_agency="CA-X-ANPHU")  # fmt: skip
        record = apply_dossier_event(record, forward)
    if history == "the same, in the old wording":
        lines = [h.model_copy(update={"content": h.content.replace("Văn bản xin lỗi và", "Văn bản xin lỗi,")})
                 for h in record.history]  # fmt: skip
        record = record.model_copy(update={"history": tuple(lines)})
    saved = record.model_dump(mode="json")
    saved.pop("appointment_set_at", None)  # absent: as a build without it saved it
    record = PortalRecord.model_validate(saved)
    moved = T0 + timedelta(days=8)
    record = apply_dossier_event(record, _moving_the_date("a supplement's arrival", T0 + timedelta(days=1), moved))
    expected = {"only a reception before it": moved, "nothing": first_date}.get(history, letter_date)
    assert accepted_by_portal(record)["appointment_at"] == portal_time(expected)


def test_the_history_names_steps_and_keeps_the_reasons_and_the_new_date_citizens_read() -> None:
    """It read 'Bắt đầu bước xử lý: processing', and dropped a verification's or a forward's reason
    and the apology letter's new date."""
    record = fold(apply_submitted(None, submitted("d1", CODE).parse_payload()), received("d1", CODE))  # type: ignore[arg-type]
    at = T0 + timedelta(hours=2)
    verify = DossierStepStarted(
        **lifecycle("d1", CODE, at, status=DossierStatus.PROCESSING), step="verification",
        step_due_at=at + timedelta(days=5), reason="cần xác minh nơi cư trú",
    )  # fmt: skip
    forward = DossierForwarded(
        **lifecycle("d1", CODE, at, status=DossierStatus.PROCESSING), from_agency="CA-X-ANPHU",
        reason="thuộc thẩm quyền cấp huyện",
    )  # fmt: skip
    letter = ApologyLetterIssued(
        **lifecycle("d1", CODE, at, status=DossierStatus.PROCESSING), reason="chờ kết quả xác minh",
        previous_due_at=at + timedelta(days=5), new_due_at=datetime(2024, 7, 19, 10, 0, tzinfo=UTC),
    )  # fmt: skip
    for event in (verify, forward, letter):
        record = apply_dossier_event(record, event)
    assert [line.content for line in record.history][-3:] == [
        "Bắt đầu bước xử lý: xác minh hồ sơ (cần xác minh nơi cư trú)",
        f"Chuyển hồ sơ từ CA-X-ANPHU đến {forward.agency}: thuộc thẩm quyền cấp huyện",
        "Văn bản xin lỗi và hẹn lại ngày trả kết quả 19/07/2024: chờ kết quả xác minh",
    ]


@pytest.mark.parametrize("pair", ["received and started", "issued and returned"])
def test_the_first_of_a_pair_written_at_one_time_replayed_after_the_second_does_not_roll_the_state_back(
    pair: str,
) -> None:
    """Workflow writes some events in pairs with one time. Replayed from the dead letters after its
    partner, the first was taken as current: the portal went back to "received" (2) from "in
    processing" (4), or to "processed" (9) from "returned" (10)."""
    record = apply_submitted(None, submitted("d1", CODE).parse_payload())  # type: ignore[arg-type]
    at = T0 + timedelta(hours=1)
    if pair == "received and started":
        first = received("d1", CODE).parse_payload().model_copy(update={"at": at})  # type: ignore[union-attr]
        second = DossierStepStarted(**lifecycle("d1", CODE, at, status=DossierStatus.PROCESSING), step="processing",
                                    step_due_at=at + timedelta(days=2))  # fmt: skip
    else:
        record = fold(record, received("d1", CODE))
        first = ResultIssued(**lifecycle("d1", CODE, at, status=DossierStatus.PROCESSED), result_code=f"{CODE}-KQ1",
                             document_name="Giấy xác nhận", data={}, on_time=True)  # fmt: skip
        second = ResultReturned(**lifecycle("d1", CODE, at, status=DossierStatus.RETURNED), delivery="online")
    record = apply_dossier_event(apply_dossier_event(record, second), first)  # type: ignore[arg-type]
    assert record.state == second.status_code


def test_a_dossier_ended_without_a_result_tells_the_portal_when() -> None:
    record = apply_submitted(None, submitted("d1", CODE).parse_payload())  # type: ignore[arg-type]
    refused = DossierRefused(**lifecycle("d1", CODE, T0 + timedelta(hours=1), status=DossierStatus.REFUSED),
                             reason="Không đủ điều kiện")  # fmt: skip
    body = accepted_by_portal(apply_dossier_event(record, refused))
    assert (body["state"], body["finished_at"]) == (3, "20240710093000")


def _ended(status: DossierStatus, hours: int = 6) -> DossierEvent:
    common = lifecycle("d1", CODE, T0 + timedelta(hours=hours), status=status)
    if status is DossierStatus.REFUSED:
        return DossierRefused(**common, reason="Không đủ điều kiện")
    if status is DossierStatus.STOPPED:
        return DossierStopped(**common, reason="Hồ sơ giả mạo")
    return WithdrawalAccepted(**common, reason="Công dân không còn nhu cầu")


@pytest.mark.parametrize(
    ("ending", "paid", "fees"),
    [
        ("refused at reception", [], []),
        ("refused before the submission was read", [], []),
        ("withdrawn, the request unpaid", [], []),
        ("withdrawn, the request paid in part", [100_000], [("Nghĩa vụ tài chính", 100_000, "qr", True)]),
        ("stopped, the request paid in full", [300_000], [("Nghĩa vụ tài chính", 300_000, "qr", True)]),
        ("stopped, then a request replayed late", [], []),
    ],
)
def test_a_dossier_ended_without_a_result_sends_the_portal_only_what_was_paid(
    ending: str, paid: list[int], fees: list[tuple[str, int, str, bool]]
) -> None:
    """A fee of 200,000 VND, and for a dossier taken into processing a request for 300,000. Refused,
    withdrawn or stopped, the dossier owes nothing more (intake shows nothing owed and takes no
    payment, reporting counts no obligation for it unpaid), but the portal was still sent the fee or
    the request as unpaid lines, for good: a refused online dossier showed its 200,000 fee unpaid, a
    withdrawn one the 300,000 it had not paid. Only what was paid goes now, a part paid as a line of
    that part."""
    submission = submitted("d1", CODE, fee=200_000).parse_payload()
    assert isinstance(submission, DossierSubmitted)
    ask = _request(300_000)
    if ending.startswith("refused"):
        refused = _ended(DossierStatus.REFUSED, hours=1)
        if ending == "refused at reception":
            record = apply_dossier_event(apply_submitted(None, submission), refused)
        else:  # workflow's topic read first: the fee comes after the end
            record = apply_submitted(apply_dossier_event(None, refused), submission)
    else:
        record = apply_dossier_event(fold(apply_submitted(None, submission), received("d1", CODE)), ask)
        for amount in paid:
            fee = FeePaid(dossier_id="d1", amount=amount, method="qr", online=True, paid_at=T0 + timedelta(hours=4))
            record = apply_fee_paid(record, fee)
        end = DossierStatus.WITHDRAWAL_REQUESTED if ending.startswith("withdrawn") else DossierStatus.STOPPED
        if ending == "stopped, then a request replayed late":
            record = apply_dossier_event(apply_dossier_event(record, _ended(end)), _request(80_000, at_hours=5))
        else:
            record = apply_dossier_event(record, _ended(end))
    body = accepted_by_portal(record)
    assert body["state"] in (3, 7, 8)
    assert [(f["name"], f["amount_vnd"], f.get("payment_method"), f["paid_online"]) for f in body["fees"]] == fees
    assert all("paid_at" in f for f in body["fees"])  # nothing shown owed, as intake shows


def test_supplements_fees_and_timers() -> None:
    record = apply_submitted(None, submitted("d1", CODE, fee=20000).parse_payload())  # type: ignore[arg-type]
    record = fold(record, received("d1", CODE))
    at = T0 + timedelta(hours=3)
    ask = SupplementRequested(
        **lifecycle("d1", CODE, at, status=DossierStatus.SUPPLEMENT_REQUESTED),
        reason="Thiếu giấy tờ chỗ ở",
        request_number=1,
    )
    record = apply_dossier_event(record, ask)
    back = SupplementReceived(
        **lifecycle("d1", CODE, at + timedelta(hours=2), status=DossierStatus.PROCESSING),
        paused_seconds=7200,
        due_at=at + timedelta(days=3),
    )
    record = apply_dossier_event(record, back)
    record = apply_fee_paid(record, FeePaid(dossier_id="d1", amount=20000, method="qr", online=True, paid_at=at))
    pay = PaymentRequested(**lifecycle("d1", CODE, at, status=DossierStatus.PAYMENT_REQUESTED), amount=50000)
    record = apply_dossier_event(record, pay)
    # The request is the whole obligation, the fee already paid included (as workflow and intake count
    # it): the citizen pays the rest. The payment comes twice: the citizen's (intake) and workflow's
    # acknowledgement, in either order.
    paid = PaymentConfirmed(**lifecycle("d1", CODE, at, status=DossierStatus.PROCESSING), amount=30000, online=False)
    record = apply_dossier_event(record, paid)
    record = apply_fee_paid(record, FeePaid(dossier_id="d1", amount=30000, method="cash", online=False, paid_at=at))
    body = accepted_by_portal(record)
    assert body["supplements"] == [
        {"requested_at": "20240710113000", "supplied_at": "20240710133000", "reason": "Thiếu giấy tờ chỗ ở"}
    ]
    assert body["appointment_at"] == "20240713113000"
    # Each payment once, towards the one obligation; paid online, by QR, as a part of it was.
    assert [(f["amount_vnd"], f["paid_online"], f.get("payment_method"), "paid_at" in f) for f in body["fees"]] == [
        (50000, True, "qr", True)
    ]
    # Timers change nothing the portal carries; they fire after the last change.
    later = at + timedelta(days=1)
    overdue = DossierOverdue(**lifecycle("d1", CODE, later, status=DossierStatus.PROCESSING), due_at=at)
    assert apply_dossier_event(record, overdue) == record


def test_a_later_bundle_step_started_with_a_moved_date_moves_the_portal_s_appointment() -> None:
    record = apply_submitted(None, submitted("d1", CODE).parse_payload())  # type: ignore[arg-type]
    record = fold(record, received("d1", CODE))
    moved = T0 + timedelta(days=9)
    started = DossierStepStarted(
        **lifecycle("d1", CODE, T0 + timedelta(days=7), status=DossierStatus.PROCESSING),
        step="processing",
        step_due_at=moved,
        due_at=moved,
    )
    body = accepted_by_portal(apply_dossier_event(record, started))
    assert body["appointment_at"] == portal_time(moved)


def test_an_online_dossier_sent_back_before_acceptance_has_no_reception_nor_appointment() -> None:
    """Returned for a supplement while still registered (state 5 without reception): the portal is
    told neither a reception that never happened nor the acceptance window as an appointment."""
    record = apply_submitted(None, submitted("d1", CODE).parse_payload())  # type: ignore[arg-type]
    at = T0 + timedelta(hours=2)
    ask = SupplementRequested(
        **lifecycle("d1", CODE, at, status=DossierStatus.SUPPLEMENT_REQUESTED), reason="Thiếu tờ khai", request_number=1
    )
    record = apply_dossier_event(record, ask)
    body = accepted_by_portal(record)
    assert (body["state"], body.get("received_at"), body.get("appointment_at")) == (5, None, None)
    back = SupplementReceived(
        **lifecycle("d1", CODE, at + timedelta(hours=1), status=DossierStatus.REGISTERED),
        paused_seconds=0,
        due_at=at + timedelta(days=1),  # the end of a fresh acceptance window
    )
    body = accepted_by_portal(apply_dossier_event(record, back))
    assert (body["state"], body.get("received_at"), body.get("appointment_at")) == (1, None, None)
    assert body["supplements"][0]["supplied_at"] == "20240710113000"


@pytest.mark.parametrize("acknowledged", ["workflow first", "citizen first"])
def test_a_request_paid_in_parts_is_paid_once_they_add_up(acknowledged: str) -> None:
    """500,000 VND asked, paid 1,000 then 499,000 (workflow keeps the request open in between): the
    line was marked paid by the first 1,000, and the rest added a second paid line."""
    record = apply_submitted(None, submitted("d1", CODE).parse_payload())  # type: ignore[arg-type]
    record = fold(record, received("d1", CODE))
    at = T0 + timedelta(hours=3)
    ask = PaymentRequested(**lifecycle("d1", CODE, at, status=DossierStatus.PAYMENT_REQUESTED), amount=500_000)
    record = apply_dossier_event(record, ask)
    for amount, status in ((1_000, DossierStatus.PAYMENT_REQUESTED), (499_000, DossierStatus.PROCESSING)):
        fee = FeePaid(dossier_id="d1", amount=amount, method="qr", online=True, paid_at=at)
        owed_after = {1_000: 499_000, 499_000: 0}[amount]
        ack = PaymentConfirmed(**lifecycle("d1", CODE, at, status=status), amount=amount, online=True,
                               outstanding=owed_after)  # fmt: skip
        if acknowledged == "workflow first":
            record = apply_fee_paid(apply_dossier_event(record, ack), fee)
        else:
            record = apply_dossier_event(apply_fee_paid(record, fee), ack)
        line = [(f.amount_vnd, f.paid_at is not None) for f in record.fees]
        assert line == [(500_000, amount == 499_000)], (amount, line)
        # The history says a part was paid, not that the obligation was met (the portal showed both).
        head = "Đã nộp một phần" if amount == 1_000 else "Đã hoàn thành"
        written = {1_000: "1.000", 499_000: "499.000"}[amount]  # as the citizen's timeline writes amounts
        assert record.history[-1].content == f"{head} nghĩa vụ tài chính: {written} đồng"
    assert accepted_by_portal(record)["fees"][0]["paid_online"] is True


def test_a_part_of_the_fee_paid_is_told_as_a_part_though_the_dossier_goes_on() -> None:
    """No request, 150,000 of a 200,000 fee: the status stays processing, and the history said the
    obligation was met."""
    at = T0 + timedelta(hours=3)
    record = fold(apply_submitted(None, submitted("d1", CODE, fee=200_000).parse_payload()), received("d1", CODE))  # type: ignore[arg-type]
    paid = PaymentConfirmed(**lifecycle("d1", CODE, at, status=DossierStatus.PROCESSING), amount=150_000,
                            online=False, outstanding=50_000)  # fmt: skip
    record = apply_dossier_event(record, paid)
    assert record.history[-1].content == "Đã nộp một phần nghĩa vụ tài chính: 150.000 đồng"


@pytest.mark.parametrize("order", ["citizen first", "workflow first", "workflow only"])
def test_a_payment_reported_by_intake_and_workflow_is_one_paid_line(order: str) -> None:
    """FeePaid (intake) and PaymentConfirmed (workflow, caused by it) come on different topics in
    either order; a FeePaid for a bundle step may even come before registry-sync knows the dossier
    and be skipped. Each way the fee is paid once, with the method when intake's event was seen."""
    at = T0 + timedelta(hours=1)
    fee = 20_000
    record = fold(apply_submitted(None, submitted("d1", CODE, fee=fee).parse_payload()), received("d1", CODE))  # type: ignore[arg-type]
    citizen = FeePaid(dossier_id="d1", amount=fee, method="qr", online=True, paid_at=at)
    workflow = PaymentConfirmed(**lifecycle("d1", CODE, at, status=DossierStatus.PROCESSING), amount=fee, online=True)
    steps = {
        "citizen first": [lambda r: apply_fee_paid(r, citizen), lambda r: apply_dossier_event(r, workflow)],
        "workflow first": [lambda r: apply_dossier_event(r, workflow), lambda r: apply_fee_paid(r, citizen)],
        "workflow only": [lambda r: apply_dossier_event(r, workflow)],
    }[order]
    for step in steps:
        record = step(record)
    method = None if order == "workflow only" else "qr"
    assert [(f.amount_vnd, f.paid_online, f.payment_method, f.paid_at is not None) for f in record.fees] == [
        (fee, True, method, True)
    ]


@pytest.mark.parametrize(
    ("parts", "paid_as"),
    [
        ([("qr", True), ("cash", False)], ("qr", True)),
        ([("cash", False), ("qr", True)], ("qr", True)),
        ([("cash", False), ("cash", False)], ("cash", False)),
        ([("cash", False), ("workflow's", True)], (None, True)),
    ],
    ids=["by QR, then in cash", "in cash, then by QR", "in cash twice", "in cash, then online as workflow tells"],
)
def test_a_fee_paid_in_parts_is_paid_online_if_any_part_was_whichever_came_first(
    parts: list[tuple[str, bool]], paid_as: tuple[str | None, bool]
) -> None:
    """A 200,000 VND fee paid 100,000 by QR, then 100,000 in cash: the line took the method and the
    online flag of the payment that completed it, and read paid in cash, not online, where reporting
    counts the dossier paid online (a part was); paid in the other order, it read paid online by QR.
    Now the line is paid online if any part was, by the method of that part."""
    record = fold(apply_submitted(None, submitted("d1", CODE, fee=200_000).parse_payload()), received("d1", CODE))  # type: ignore[arg-type]
    for hour, (method, online) in enumerate(parts, start=2):
        at = T0 + timedelta(hours=hour)
        common = lifecycle("d1", CODE, at, status=DossierStatus.PROCESSING)
        ack = PaymentConfirmed(**common, amount=100_000, online=online, outstanding=100_000 * (3 - hour))
        if method != "workflow's":  # else intake's FeePaid, which brings the method, is not read yet
            record = apply_fee_paid(
                record, FeePaid(dossier_id="d1", amount=100_000, method=method, online=online, paid_at=at)
            )
        record = apply_dossier_event(record, ack)
    (line,) = accepted_by_portal(record)["fees"]
    assert (line.get("payment_method"), line["paid_online"], line["paid_at"]) == (*paid_as, "20240710113000")


@pytest.mark.parametrize("fee_paid_first", [True, False], ids=["fee paid at submission", "fee never paid"])
def test_a_request_for_payment_takes_over_the_fee_as_workflow_counts_it(fee_paid_first: bool) -> None:
    """The request is the whole obligation, the fee included: beside it, the fee's line stayed unpaid
    (or the request, paid in full less the fee, never closed) on dossiers workflow had as paid, and the
    portal's online-payment rate counted them as obligations not met."""
    at = T0 + timedelta(hours=1)
    record = fold(apply_submitted(None, submitted("d1", CODE, fee=20_000).parse_payload()), received("d1", CODE))  # type: ignore[arg-type]
    if fee_paid_first:
        record = apply_fee_paid(record, FeePaid(dossier_id="d1", amount=20_000, method="qr", online=True, paid_at=at))
    ask = PaymentRequested(**lifecycle("d1", CODE, at, status=DossierStatus.PAYMENT_REQUESTED), amount=70_000)
    record = apply_dossier_event(record, ask)
    rest = 50_000 if fee_paid_first else 70_000
    record = apply_fee_paid(record, FeePaid(dossier_id="d1", amount=rest, method="qr", online=True, paid_at=at))
    assert [(f.name, f.amount_vnd, f.paid_vnd, f.paid_at is not None) for f in record.fees] == [
        ("Nghĩa vụ tài chính", 70_000, 70_000, True)
    ]
    assert accepted_by_portal(record)["fees"][0]["paid_online"] is True


def test_a_record_the_portal_would_refuse_is_caught_by_the_contract_check() -> None:
    record = fold(apply_submitted(None, submitted("d1", CODE).parse_payload()), received("d1", CODE))  # type: ignore[arg-type]
    broken = record.model_copy(update={"appointment_at": T0 - timedelta(days=1)})
    with pytest.raises(SimError) as refused:
        accepted_by_portal(broken)
    assert refused.value.field == "appointment_at"


def test_a_bundle_step_dossier_is_complete_once_workflow_gives_its_state() -> None:
    bundle = BundleSubmitted(
        bundle_id="b1",
        bundle_type="birth",
        catalogue_version="test",
        channel="counter",
        receiving_agency="UBNDXANPHU",
        applicant=Applicant(id_number="036190001234", full_name="Trần Thị Bình"),
        form={},
        steps=[BundleStep(step_id="permanent_residence", procedure_code="1.004222", dossier_id="d2", code=CODE)],
        submitted_at=T0,
    )
    record = apply_bundle_step(None, bundle, "d2", CODE, "1.004222")
    assert record.missing() == ["state"]
    record = fold(record, received("d2", CODE))
    body = accepted_by_portal(record)
    assert (body["channel"], body["state"]) == (1, 2)
    assert record.applicant_full_name == "Trần Thị Bình"  # for the registry commands; the portal is not told


def test_the_portal_is_not_told_the_applicant() -> None:
    """The applicant's full name and identification number went to the portal, though DOMAIN.md lists
    no applicant among what a synced dossier carries: personal data copied out for nothing."""
    record = apply_submitted(None, submitted("d1", CODE).parse_payload())  # type: ignore[arg-type]
    body = accepted_by_portal(fold(record, received("d1", CODE)))
    assert "applicant" not in body
    assert "036190001234" not in str(body) and "Trần Thị Bình" not in str(body)
    assert record.applicant_id_number == "036190001234"  # still ours, for the registry commands


def test_a_supplement_s_scan_of_a_paper_component_replaces_it_on_the_portal() -> None:
    """The scan a supplement sent for a paper declaration was added beside it: two documents of one
    kind, one digitised, and the portal (which computes the rate) had the dossier half digitised."""
    declaration, residence = "to_khai_thay_doi_thong_tin_cu_tru", "giay_to_cho_o_hop_phap"
    sub = submitted("d1", CODE, channel="counter").parse_payload()
    assert isinstance(sub, DossierSubmitted)
    sub = sub.model_copy(update={"documents": [
        Document(kind=declaration, digitized=False, reused=False),
        Document(kind=residence, digitized=True, reused=True),
    ]})  # fmt: skip
    record = fold(apply_submitted(None, sub), received("d1", CODE))
    supplement = SupplementProvided(
        dossier_id="d1",
        documents=[
            Document(kind=declaration, digitized=True, reused=False),
            Document(kind="so_ho_khau", digitized=True, reused=False),
        ],
        provided_at=T0 + timedelta(hours=3),
    )
    record = apply_supplement_provided(record, supplement)
    sent = [(d["code"], d["digitised"], d["reused"]) for d in accepted_by_portal(record)["documents"]]
    expected = [(declaration, True, False), (residence, True, True), ("so_ho_khau", True, False)]
    assert sent == expected
    # The submission delivered again does not bring the paper declaration back, nor a second of any.
    assert [(d.kind, d.digitised, d.reused) for d in apply_submitted(record, sub).documents] == expected


def _request(amount: int, at_hours: int = 3) -> PaymentRequested:
    at = T0 + timedelta(hours=at_hours)
    return PaymentRequested(**lifecycle("d1", CODE, at, status=DossierStatus.PAYMENT_REQUESTED), amount=amount)


def _acknowledged(amount: int, outstanding: int) -> PaymentConfirmed:
    at = T0 + timedelta(hours=4)
    return PaymentConfirmed(**lifecycle("d1", CODE, at, status=DossierStatus.PROCESSING), amount=amount, online=True,
                            outstanding=outstanding)  # fmt: skip


@pytest.mark.parametrize(
    ("workflow", "paid", "fees"),
    [
        ([_request(30_000)], [], [("Nghĩa vụ tài chính", 50_000, 0, False)]),
        ([_request(30_000), _acknowledged(30_000, 20_000)], [30_000], [("Nghĩa vụ tài chính", 50_000, 30_000, False)]),
        ([_request(70_000), _acknowledged(70_000, 0)], [70_000], [("Nghĩa vụ tài chính", 70_000, 70_000, True)]),
        ([_request(50_000)], [], [("Nghĩa vụ tài chính", 50_000, 0, False)]),
    ],
    ids=["a request for less", "less, paid in part", "a request for more, paid", "a request for the fee"],
)
def test_the_fee_and_a_request_make_the_same_lines_whichever_topic_is_read_first(
    workflow: list[DossierEvent], paid: list[int], fees: list[tuple[str, int, int, bool]]
) -> None:
    """A fee of 50,000 VND and an official's request for 30,000: read in order, the request took over
    the fee's line at 50,000 (the larger, as workflow and intake count what is owed); with workflow's
    topic read before intake's, the fee was never added and the portal showed 30,000 owed."""
    submission = submitted("d1", CODE, fee=50_000).parse_payload()
    assert isinstance(submission, DossierSubmitted)
    in_order = fold(apply_submitted(None, submission), received("d1", CODE))
    workflow_first = fold(None, received("d1", CODE))
    for event in workflow:
        in_order = apply_dossier_event(in_order, event)
        workflow_first = apply_dossier_event(workflow_first, event)
    workflow_first = apply_submitted(workflow_first, submission)
    for amount in paid:  # intake's payment follows its submission on intake's topic
        citizen = FeePaid(dossier_id="d1", amount=amount, method="qr", online=True, paid_at=T0 + timedelta(hours=4))
        in_order, workflow_first = apply_fee_paid(in_order, citizen), apply_fee_paid(workflow_first, citizen)
    assert workflow_first.fees == in_order.fees
    assert [(f.name, f.amount_vnd, f.paid_vnd, f.paid_at is not None) for f in workflow_first.fees] == fees
    assert accepted_by_portal(workflow_first)["fees"] == accepted_by_portal(in_order)["fees"]


_ASKED, _PAID = "Nghĩa vụ tài chính", "Lệ phí"


def _interleavings(first: list[object], second: list[object]) -> Iterator[list[object]]:
    """Every order in which two topics' events can be read, each topic's own kept."""
    size = len(first) + len(second)
    for places in itertools.combinations(range(size), len(first)):
        a, b = iter(first), iter(second)
        yield [next(a) if i in places else next(b) for i in range(size)]


def _fold_any(record: PortalRecord | None, event: object) -> PortalRecord:
    if isinstance(event, DossierSubmitted):
        return apply_submitted(record, event)
    if isinstance(event, FeePaid):  # after the submission, on intake's topic
        assert record is not None
        return apply_fee_paid(record, event)
    assert isinstance(event, DossierEvent)
    return apply_dossier_event(record, event)


@pytest.mark.parametrize(
    ("asked", "paid", "fees"),
    [
        (["ask 100", "ask 80"], [], [(_ASKED, 100, 0, False), (_ASKED, 80, 0, False)]),
        (["ask 100", "pay 100", "ask 80"], [100], [(_ASKED, 100, 100, True), (_ASKED, 80, 0, False)]),
        (["ask 50", "ask 80"], [], [(_ASKED, 100, 0, False), (_ASKED, 30, 0, False)]),
        (["ask 50", "ask 80", "pay 130"], [130], [(_ASKED, 100, 100, True), (_ASKED, 30, 30, True)]),
        (["ask 50", "ask 30"], [], [(_ASKED, 100, 0, False)]),
        (["ask 50", "pay 50"], [50], [(_ASKED, 100, 50, False)]),
        (["ask 150", "pay 100", "pay 50"], [100, 50], [(_ASKED, 150, 150, True)]),
        (["pay 100", "ask 300", "pay 200"], [100, 200], [(_ASKED, 300, 300, True)]),
        (["pay 100", "ask 300", "pay 100"], [100, 100], [(_ASKED, 300, 200, False)]),
        (["pay 100"], [100], [(_PAID, 100, 100, True)]),
    ],
    ids=[
        "a second request after one for the fee",
        "the fee asked and paid, then a second request",
        "two requests below the fee, above it together",
        "the same, paid",
        "two requests still below the fee",
        "a request below the fee, paid as asked",
        "a request above the fee, paid in two parts",
        "the fee paid before a larger request, the rest after",
        "the same, only part of the rest paid",
        "no request, the fee paid",
    ],
)
def test_the_fee_lines_add_up_to_what_is_owed_in_every_order_the_topics_are_read(
    asked: list[str], paid: list[int], fees: list[tuple[str, int, int, bool]]
) -> None:
    """A fee of 100 (thousand VND) and workflow's requests and acknowledgements of the payments, read
    in every order beside intake's submission and payments: the lines add up to what
    ``contracts.obligation.amount_owed`` says is owed and show paid what was paid. A request for the
    fee's very amount was taken for the fee, asked again: a second request of 80 left the portal
    showing 100 owed (180 is), or nothing once the first was paid; a first request below the fee
    followed by another showed 180 owed where 130 is; and a payment read before the request it
    answered was counted twice (400 paid of 300) or not at all."""
    thousand, fee = 1_000, 100
    at = iter(T0 + timedelta(hours=2 + hour) for hour in itertools.count())
    workflow: list[object] = [received("d1", CODE).parse_payload()]
    for step in asked:
        verb, amount = step.split()
        status = DossierStatus.PAYMENT_REQUESTED if verb == "ask" else DossierStatus.PROCESSING
        common = lifecycle("d1", CODE, next(at), status=status)
        if verb == "ask":
            workflow.append(PaymentRequested(**common, amount=int(amount) * thousand))
        else:
            workflow.append(PaymentConfirmed(**common, amount=int(amount) * thousand, online=True))
    intake: list[object] = [submitted("d1", CODE, fee=fee * thousand).parse_payload()]
    for amount in paid:
        intake.append(FeePaid(dossier_id="d1", amount=amount * thousand, method="qr", online=True, paid_at=next(at)))
    made: dict[tuple[FeeLine, ...], list[int]] = {}
    for number, events in enumerate(_interleavings(intake, workflow)):
        record: PortalRecord | None = None
        for event in events:
            record = _fold_any(record, event)
        assert record is not None
        made.setdefault(record.fees, []).append(number)
    assert len(made) == 1, f"{len(made)} different sets of lines, by order read: {list(made.values())}"
    (lines,) = made
    assert [(f.name, f.amount_vnd // thousand, f.paid_vnd // thousand, f.paid_at is not None) for f in lines] == fees
    requested = sum(int(step.split()[1]) for step in asked if step.startswith("ask"))
    owed = amount_owed(fee, requested, sum(paid)) * thousand
    assert sum(f.amount_vnd - f.paid_vnd for f in lines if f.paid_at is None) == owed
    assert all(f.payment_method == "qr" for f in lines if f.paid_at is not None)  # intake's, whoever came first


@pytest.mark.parametrize("rewritten", ["kept before the obligation", "rewritten by an older build"])
def test_a_record_with_only_its_fee_lines_goes_on_from_them(rewritten: str) -> None:
    """A record from before the obligation was kept (or one a build without it rewrote) has only its
    fee lines: they are what is owed and paid so far, and the next request, payment or acknowledgement
    goes on from them, the fee paid at submission counted once."""
    record = fold(apply_submitted(None, submitted("d1", CODE, fee=100_000).parse_payload()), received("d1", CODE))  # type: ignore[arg-type]
    record = apply_fee_paid(record, FeePaid(dossier_id="d1", amount=100_000, method="qr", online=True, paid_at=T0))
    if rewritten == "kept before the obligation":
        legacy = [FeeLine(name="Lệ phí", amount_vnd=100_000, payment_method="qr", paid_online=True, paid_at=T0)]
        record = record.model_copy(update={"fees": tuple(legacy), "obligation": None})
    else:
        record = record.model_copy(update={"obligation": None})
    record = apply_dossier_event(record, _request(180_000, at_hours=5))
    # Workflow's acknowledgement of the payment at submission, read only now: the same payment.
    record = apply_dossier_event(record, _acknowledged(100_000, outstanding=0))
    assert [(f.name, f.amount_vnd, f.paid_vnd, f.paid_at is not None) for f in record.fees] == [
        ("Nghĩa vụ tài chính", 180_000, 100_000, False)
    ]
    record = apply_fee_paid(record, FeePaid(dossier_id="d1", amount=80_000, method="cash", online=False, paid_at=T0))
    # Paid online by QR, then in cash: the line was paid online, by QR, as a part of it was.
    lines = [(f.amount_vnd, f.paid_vnd, f.payment_method, f.paid_online, f.paid_at is not None) for f in record.fees]
    assert lines == [(180_000, 180_000, "qr", True, True)]
    accepted_by_portal(record)

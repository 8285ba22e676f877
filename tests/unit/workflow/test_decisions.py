"""Officials' decisions and citizens' actions through the real handlers, over in-memory fakes."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from contracts import citizen_id
from contracts.envelope import Envelope
from contracts.events import intake
from contracts.events.common import Delivery, Document, DossierStatus
from eventkit.auth import Forbidden
from eventkit.eventstore import ConcurrencyConflict
from tests.unit.workflow.builders import BIRTH_FORM, BIRTH_STEPS, Harness, bundle_submitted, submitted
from workcal import vietnam_tz
from workflow.adapters.memory import InMemoryWorkflowUnitOfWork
from workflow.domain import results
from workflow.domain.errors import DossierNotFound, IllegalTransition, InvalidDecision
from workflow.entrypoints.schemas import DossierPublic
from workflow.service_layer import queries
from workflow.service_layer.handlers import DECISION_ATTEMPTS, MAX_NUMBER_DRAWS


async def test_a_counter_dossier_goes_to_the_competent_agency_and_onto_its_task_list(harness: Harness) -> None:
    event = submitted(at=harness.now, receiving_agency="UBND-X-YENHOA", competent_agency="SKHDT-BINHAN")
    await harness.deliver(event)

    state = await harness.state(event.dossier_id)
    assert state.status is DossierStatus.PROCESSING
    assert state.agency == "SKHDT-BINHAN"
    assert [line.step for line in state.control_sheet] == ["reception", "processing"]
    assert state.control_sheet[0].agency == "UBND-X-YENHOA"
    assert harness.published_types(event.dossier_id) == ["DossierReceived", "DossierStepStarted"]
    tasks = await harness.uow.tasks.for_agency("SKHDT-BINHAN", 10)
    assert [t.dossier_id for t in tasks] == [event.dossier_id]
    assert tasks[0].due_at == state.due_at


async def test_a_processed_dossier_waits_at_the_counter_that_received_it_until_its_result_is_returned(
    harness: Harness,
) -> None:
    event = submitted(at=harness.now, receiving_agency="UBND-X-YENHOA", competent_agency="SKHDT-BINHAN")
    await harness.deliver(event)
    processed = await harness.decide(event.dossier_id, "approve")

    assert await harness.uow.tasks.for_agency("SKHDT-BINHAN", 10) == []  # the deciding agency is done
    [task] = await harness.uow.tasks.for_agency("UBND-X-YENHOA", 10)
    assert (task.dossier_id, task.status, task.waiting_for) == (event.dossier_id, "processed", "result_return")
    assert task.due_at == processed.due_at  # from the appointment date on the receipt
    assert await harness.uow.tasks.for_agency("UBND-X-YENHOA", 10, waiting_for=("acceptance", "decision")) == []
    assert await harness.uow.tasks.for_agency("UBND-X-YENHOA", 10, waiting_for=("result_return",)) == [task]

    await harness.decide(event.dossier_id, "return_result")
    assert await harness.uow.tasks.for_agency("UBND-X-YENHOA", 10) == []


async def test_a_result_to_post_says_so_on_the_task_and_the_view_gives_the_address(harness: Harness) -> None:
    address = "Số 5, thôn Hải Nạp, xã Yên Hòa"
    event = submitted(at=harness.now, delivery=Delivery(method="postal", address=address))
    await harness.deliver(event)
    processed = await harness.decide(event.dossier_id, "approve")
    [task] = await harness.uow.tasks.for_agency(event.receiving_agency, 10, waiting_for=("result_return",))
    assert (task.dossier_id, task.delivery) == (event.dossier_id, "postal")
    assert DossierPublic.of(processed, None).delivery == Delivery(method="postal", address=address)
    returned = await harness.decide(event.dossier_id, "return_result", official_id="mc-buudien")
    assert returned.status is DossierStatus.RETURNED
    assert [e for e in harness.published() if e.key == event.dossier_id][-1].payload["delivery"] == "postal"


async def test_a_result_delivered_online_is_returned_as_it_is_issued(harness: Harness) -> None:
    """The electronic result goes to the citizen's portal account at once: no counter hands it over,
    and nothing waits on a task list (status 10 straight after 9, for the portal and the index)."""
    event = submitted(channel="online", at=harness.now, delivery=Delivery(method="online"))
    await harness.deliver(event)
    await harness.decide(event.dossier_id, "accept")
    state = await harness.decide(event.dossier_id, "approve")
    assert state.status is DossierStatus.RETURNED
    assert harness.published_types(event.dossier_id)[-2:] == ["ResultIssued", "ResultReturned"]
    returned = [e for e in harness.published() if e.key == event.dossier_id][-1]
    assert (returned.payload["delivery"], returned.payload["official_id"]) == ("online", None)
    assert await harness.uow.tasks.for_agency(event.receiving_agency, 10) == []


async def test_routing_is_boundary_free_by_the_catalogue(harness: Harness) -> None:
    """Birth registration received at the province centre goes to the commune where the administration sits."""
    event = submitted(
        procedure_code="1.001193",
        receiving_agency="TTPVHCC-BINHAN",
        competent_agency="",
        fee=0,
        form=BIRTH_FORM,
        at=harness.now,
    )
    await harness.deliver(event)
    state = await harness.state(event.dossier_id)
    assert state.competent_agency == harness.ctx.rules.catalogue.competent_agency("1.001193", "TTPVHCC-BINHAN").code
    assert state.agency == state.competent_agency


async def test_an_online_dossier_waits_for_acceptance_then_its_clock_starts(harness: Harness) -> None:
    event = submitted(channel="online", at=harness.now)
    await harness.deliver(event)
    state = await harness.state(event.dossier_id)
    assert state.status is DossierStatus.REGISTERED and state.due_at is None
    [task] = await harness.uow.tasks.for_agency("TTPVHCC-BINHAN", 10)
    assert task.waiting_for == "acceptance"

    harness.advance(hours=2)
    state = await harness.decide(event.dossier_id, "accept", official_id="mc-07")
    assert state.status is DossierStatus.PROCESSING
    assert state.received_at == harness.now
    # 3 working days for enterprise registration, counted from acceptance.
    assert state.due_at == datetime(2024, 6, 5, 17, 0, tzinfo=vietnam_tz())
    assert state.control_sheet[0].official_id == "mc-07"
    assert await harness.uow.tasks.for_agency("TTPVHCC-BINHAN", 10) == []


async def test_an_online_dossier_accepted_at_the_centre_is_held_by_no_official_of_the_agency_it_goes_to(
    harness: Harness,
) -> None:
    """The centre's official who accepted it stayed named as the one holding it once processing started
    at the department, where that official cannot act on it."""
    event = submitted(channel="online", at=harness.now)  # received at TTPVHCC-BINHAN, decided at SKHDT-BINHAN
    await harness.deliver(event)
    state = await harness.decide(event.dossier_id, "accept", official_id="tiep-nhan-01")
    assert (state.agency, state.official_id) == ("SKHDT-BINHAN", None)
    assert [(line.step, line.agency, line.official_id) for line in state.control_sheet] == [
        ("reception", "TTPVHCC-BINHAN", "tiep-nhan-01"),
        ("processing", "SKHDT-BINHAN", None),
    ]


async def test_approval_issues_the_result_with_the_childs_identification_number(harness: Harness) -> None:
    event = submitted(
        procedure_code="1.001193",
        receiving_agency="UBND-P-PHUCLOI",
        competent_agency="UBND-P-PHUCLOI",
        fee=0,
        form=BIRTH_FORM,
        at=harness.now,
    )
    await harness.deliver(event)
    state = await harness.decide(event.dossier_id, "approve")

    assert state.status is DossierStatus.PROCESSED
    [result] = state.results
    assert result.result_code == f"{event.code}-KQ1"
    number = result.data["personal_id_number"]
    assert citizen_id.check_consistency(number, sex="male", birth_year=2024) == []
    assert result.data["birth_certificate_number"]
    assert state.on_time is True
    again = await harness.state(event.dossier_id)
    assert again.results == state.results
    # The paper's QR code: dossier code, procedure code, applicant's number, document name (and result code).
    assert result.qr_code is not None
    assert json.loads(result.qr_code) == {
        "ma_ho_so": event.code, "ma_thu_tuc": "1.001193", "so_dinh_danh": event.applicant.id_number,
        "ten_giay_to": result.document_name, "ma_ket_qua": result.result_code,
    }  # fmt: skip
    [issued] = [e for e in harness.published() if e.type == "ResultIssued"]
    assert issued.payload["qr_code"] == result.qr_code


async def test_a_number_another_child_holds_is_never_issued_twice(harness: Harness) -> None:
    """Two approvals that would draw the same number: the second draws again, and the number is
    recorded as issued with the result; an official who states a taken number is told so."""
    births = [
        submitted(procedure_code="1.001193", receiving_agency="UBND-P-PHUCLOI", competent_agency="UBND-P-PHUCLOI",
                  fee=0, form=BIRTH_FORM, at=harness.now)
        for _ in range(2)
    ]  # fmt: skip
    for event in births:
        await harness.deliver(event)
    first = (await harness.decide(births[0].dossier_id, "approve")).results[0].data["personal_id_number"]
    assert id_numbers(harness) == {first: births[0].dossier_id}
    # The second dossier's first candidate is the first child's number (a collision, forced here).
    second_state = await harness.state(births[1].dossier_id)
    candidate = results.result_data(
        harness.ctx.rules.procedure("1.001193"), dossier_id=births[1].dossier_id,
        form=second_state.form, stated={}, issued_at=harness.now, province_code=harness.ctx.rules.province_code,
    )["personal_id_number"]  # fmt: skip
    harness.uow.id_numbers.rows = {candidate: births[0].dossier_id}

    with pytest.raises(InvalidDecision, match="another person's number"):
        await harness.decide(births[1].dossier_id, "approve", result={"personal_id_number": candidate})
    second = (await harness.decide(births[1].dossier_id, "approve")).results[0].data["personal_id_number"]
    assert second != candidate and citizen_id.check_consistency(second, sex="male", birth_year=2024) == []
    assert id_numbers(harness) == {candidate: births[0].dossier_id, second: births[1].dossier_id}
    assert harness.published_types(births[1].dossier_id).count("ResultIssued") == 1


def id_numbers(harness: Harness) -> dict[str, str]:
    """The personal identification numbers recorded as issued (papers' numbers carry their field)."""
    return {number: dossier for number, dossier in harness.uow.id_numbers.rows.items() if ":" not in number}


async def test_a_paper_number_another_paper_holds_is_drawn_again(harness: Harness) -> None:
    """Drawn at random and never recorded, two birth certificates (or licences) could carry one number:
    the second holder's next procedure met the first's open dossier as a duplicate."""
    birth = submitted(procedure_code="1.001193", receiving_agency="UBND-P-PHUCLOI", competent_agency="UBND-P-PHUCLOI",
                      fee=0, form=BIRTH_FORM, at=harness.now)  # fmt: skip
    await harness.deliver(birth)
    state = await harness.state(birth.dossier_id)
    drawn = results.result_data(
        harness.ctx.rules.procedure("1.001193"), dossier_id=birth.dossier_id, form=state.form, stated={},
        issued_at=harness.now, province_code=harness.ctx.rules.province_code,
    )["birth_certificate_number"]  # fmt: skip
    harness.uow.id_numbers.rows = {f"birth_certificate_number:{drawn}": "another-dossier"}
    issued = (await harness.decide(birth.dossier_id, "approve")).results[0].data["birth_certificate_number"]
    assert issued != drawn and len(issued) == 12 and issued.isdigit()
    assert harness.uow.id_numbers.rows[f"birth_certificate_number:{issued}"] == birth.dossier_id
    # A number the official states is theirs to give: not recorded, not drawn again.
    other = submitted(procedure_code="1.001193", receiving_agency="UBND-P-PHUCLOI", competent_agency="UBND-P-PHUCLOI",
                      fee=0, form=BIRTH_FORM, at=harness.now)  # fmt: skip
    await harness.deliver(other)
    stated = await harness.decide(other.dossier_id, "approve", result={"birth_certificate_number": "12/2024"})
    assert stated.results[0].data["birth_certificate_number"] == "12/2024"
    assert "birth_certificate_number:12/2024" not in harness.uow.id_numbers.rows


@pytest.mark.parametrize(
    ("stated", "field", "message"),
    [
        ({"personal_id_number": "123"}, "result.personal_id_number", "not a valid 12-digit"),
        ({"personal_id_number": 42}, "result.personal_id_number", "a text of 1 to"),
        # Each number below is wrong about this boy, born in 2024 and registered in the province (036),
        # in one way only, so that each of the three facts checked is shown to be checked.
        ({"personal_id_number": "036324123456"}, "result.personal_id_number", "sex: the number encodes female"),
        ({"personal_id_number": "036200123456"}, "result.personal_id_number", "birth_year: the number encodes 2000"),
        ({"personal_id_number": "079224123456"}, "result.personal_id_number", "province_code: the number encodes 079"),
        ({"extra_field": "<script>"}, "result.extra_field", "not a field of this procedure's result"),
    ],
)
async def test_result_data_an_official_states_must_fit_the_procedure_and_the_child(
    harness: Harness, stated: dict[str, object], field: str, message: str
) -> None:
    """Each had been issued as stated and gone to the population database with the next bundle step."""
    event = submitted(procedure_code="1.001193", receiving_agency="UBND-P-PHUCLOI", competent_agency="UBND-P-PHUCLOI",
                      fee=0, form=BIRTH_FORM, at=harness.now)  # fmt: skip
    await harness.deliver(event)
    with pytest.raises(InvalidDecision, match=message) as refused:
        await harness.decide(event.dossier_id, "approve", result=stated)
    assert refused.value.field == field
    assert (await harness.state(event.dossier_id)).status is DossierStatus.PROCESSING
    rng = random.Random(7)
    fitting = citizen_id.generate(harness.ctx.rules.province_code, "male", 2024, rng)
    approved = await harness.decide(event.dossier_id, "approve", result={"personal_id_number": fitting})
    assert approved.results[0].data["personal_id_number"] == fitting


async def test_when_every_candidate_number_is_taken_the_approval_is_refused_not_a_500(harness: Harness) -> None:
    event = submitted(procedure_code="1.001193", receiving_agency="UBND-P-PHUCLOI", competent_agency="UBND-P-PHUCLOI",
                      fee=0, form=BIRTH_FORM, at=harness.now)  # fmt: skip
    await harness.deliver(event)
    state = await harness.state(event.dossier_id)
    candidates = [
        results.result_data(
            harness.ctx.rules.procedure("1.001193"), dossier_id=event.dossier_id, form=state.form,
            stated={}, issued_at=harness.now, province_code=harness.ctx.rules.province_code, draw=n,
        )["personal_id_number"]
        for n in range(MAX_NUMBER_DRAWS + 1)
    ]  # fmt: skip
    harness.uow.id_numbers.rows = dict.fromkeys(candidates, "someone-else")
    with pytest.raises(IllegalTransition, match="no free identification number"):
        await harness.decide(event.dossier_id, "approve")
    assert (await harness.state(event.dossier_id)).status is DossierStatus.PROCESSING  # nothing recorded


async def test_the_official_sees_the_documents_and_what_a_supplement_brought(harness: Harness) -> None:
    form_only = Document(kind="giay_de_nghi_dang_ky_doanh_nghiep", digitized=True, reused=False)
    event = submitted(at=harness.now, documents=[form_only])
    await harness.deliver(event)
    procedure = harness.ctx.rules.procedure(event.procedure_code)
    view = DossierPublic.of(await harness.state(event.dossier_id), procedure)
    assert [d.kind for d in view.documents] == ["giay_de_nghi_dang_ky_doanh_nghiep"]
    assert view.missing_documents == ["giay_to_phap_ly_chu_doanh_nghiep"]

    await harness.decide(event.dossier_id, "request_supplement", reason="thiếu giấy tờ pháp lý của chủ doanh nghiệp")
    brought = Document(kind="giay_to_phap_ly_chu_doanh_nghiep", digitized=False, reused=False)
    await harness.deliver(intake.SupplementProvided(dossier_id=event.dossier_id, documents=[brought],
                                                    provided_at=harness.now))  # fmt: skip
    view = DossierPublic.of(await harness.state(event.dossier_id), procedure)
    assert [(d.kind, d.digitized) for d in view.documents] == [
        ("giay_de_nghi_dang_ky_doanh_nghiep", True),
        ("giay_to_phap_ly_chu_doanh_nghiep", False),
    ]
    assert view.missing_documents == []


async def test_documents_sent_after_the_request_was_answered_are_kept_not_dropped(harness: Harness) -> None:
    """Asked for two documents, the citizen sent them one after the other: the first answered the
    request, and the second was dropped with a log line; the official never saw it."""
    event = submitted(at=harness.now, documents=[])
    await harness.deliver(event)
    await harness.decide(event.dossier_id, "request_supplement", reason="thiếu giấy tờ")
    first = Document(kind="giay_de_nghi_dang_ky_doanh_nghiep", digitized=True, reused=False)
    second = Document(kind="giay_to_phap_ly_chu_doanh_nghiep", digitized=True, reused=False)
    for document in (first, second):
        await harness.deliver(intake.SupplementProvided(dossier_id=event.dossier_id, documents=[document],
                                                        provided_at=harness.now))  # fmt: skip
    state = await harness.state(event.dossier_id)
    assert state.status is DossierStatus.PROCESSING and not state.clock_paused
    assert [d.kind for d in state.documents] == [first.kind, second.kind]
    assert harness.published_types(event.dossier_id).count("SupplementReceived") == 1

    await harness.decide(event.dossier_id, "approve")
    late = Document(kind="ban_sao", digitized=True, reused=False)
    with pytest.raises(IllegalTransition):  # a finished dossier takes none (the consumer logs it)
        await harness.deliver(intake.SupplementProvided(dossier_id=event.dossier_id, documents=[late],
                                                        provided_at=harness.now))  # fmt: skip
    assert len((await harness.state(event.dossier_id)).documents) == 2


async def test_a_supplement_request_names_only_documents_of_the_procedure(harness: Harness) -> None:
    event = submitted(at=harness.now)
    await harness.deliver(event)
    with pytest.raises(InvalidDecision, match=r"'ho_chieu' is not a document of 2\.001610"):
        await harness.decide(event.dossier_id, "request_supplement", reason="thiếu", documents=("ho_chieu",))
    with pytest.raises(InvalidDecision, match="only a supplement request names documents"):
        await harness.decide(event.dossier_id, "approve", documents=("giay_to_phap_ly_chu_doanh_nghiep",))
    await harness.decide(event.dossier_id, "request_supplement", reason="thiếu giấy tờ pháp lý",
                         documents=("giay_to_phap_ly_chu_doanh_nghiep",))  # fmt: skip
    [asked] = [e for e in harness.published() if e.type == "SupplementRequested"]
    assert asked.payload["documents"] == [
        {"kind": "giay_to_phap_ly_chu_doanh_nghiep", "name": harness.ctx.rules.procedure("2.001610")
         .document("giay_to_phap_ly_chu_doanh_nghiep").name_vi},  # type: ignore[union-attr]
    ]  # fmt: skip


async def test_a_supplement_request_naming_a_document_twice_asks_for_it_once(harness: Harness) -> None:
    """The citizen's notice listed the same paper twice, as if two were missing."""
    event = submitted(at=harness.now)
    await harness.deliver(event)
    kind = "giay_to_phap_ly_chu_doanh_nghiep"
    await harness.decide(event.dossier_id, "request_supplement", reason="thiếu giấy tờ pháp lý", documents=(kind, kind))
    [asked] = [e for e in harness.published() if e.type == "SupplementRequested"]
    assert [document["kind"] for document in asked.payload["documents"]] == [kind]


async def test_reject_supplement_and_an_apology_letter_need_a_reason(harness: Harness) -> None:
    """An apology letter (form 04) must tell the citizen why the appointment moves: no test asked for
    its reason, so dropping "extend" from the decisions that need one went unnoticed."""
    event = submitted(at=harness.now)
    await harness.deliver(event)
    later = datetime(2024, 6, 14, 17, 0, tzinfo=vietnam_tz())  # a working day after the appointment
    for decision in ("reject", "request_supplement", "extend"):
        new_due_at = later if decision == "extend" else None
        with pytest.raises(InvalidDecision) as info:
            await harness.decide(event.dossier_id, decision, reason="  ", new_due_at=new_due_at)
        assert info.value.field == "reason"
    state = await harness.state(event.dossier_id)
    assert state.status is DossierStatus.PROCESSING and not state.apologized
    assert state.due_at == datetime(2024, 6, 5, 17, 0, tzinfo=vietnam_tz())


async def test_rejecting_at_reception_refuses_and_in_processing_stops(harness: Harness) -> None:
    online = submitted(channel="online", at=harness.now)
    counter = submitted(at=harness.now)
    await harness.deliver(online)
    await harness.deliver(counter)
    assert (await harness.decide(online.dossier_id, "reject", reason="thiếu giấy tờ")).status is DossierStatus.REFUSED
    stopped = await harness.decide(counter.dossier_id, "reject", reason="không đủ điều kiện")
    assert stopped.status is DossierStatus.STOPPED
    assert harness.published_types(online.dossier_id) == ["DossierRefused"]


async def test_rejecting_an_online_dossier_sent_back_before_acceptance_refuses_it_at_reception(
    harness: Harness,
) -> None:
    """Never received, it was stopped: the portal read "processing stopped" (status 8, form 05) for a
    dossier no agency took in, where it must read "refused at reception" (status 3, form 03)."""
    online = submitted(channel="online", at=harness.now)
    await harness.deliver(online)
    await harness.decide(online.dossier_id, "request_supplement", reason="ảnh chụp mờ")
    state = await harness.decide(online.dossier_id, "reject", reason="không bổ sung được")
    assert state.status is DossierStatus.REFUSED and state.received_at is None
    assert harness.published_types(online.dossier_id) == ["SupplementRequested", "DossierRefused"]

    counter = submitted(at=harness.now)  # in processing, sent back, then rejected: still stopped
    await harness.deliver(counter)
    await harness.decide(counter.dossier_id, "request_supplement", reason="thiếu bản sao")
    stopped = await harness.decide(counter.dossier_id, "reject", reason="quá hạn bổ sung")
    assert stopped.status is DossierStatus.STOPPED


async def test_an_illegal_decision_is_refused_and_changes_nothing(harness: Harness) -> None:
    event = submitted(at=harness.now)
    await harness.deliver(event)
    await harness.decide(event.dossier_id, "approve")
    before = await harness.state(event.dossier_id)
    with pytest.raises(IllegalTransition):
        await harness.decide(event.dossier_id, "request_supplement", reason="late")
    with pytest.raises(IllegalTransition, match=r"^cannot accept a dossier in status processed$"):
        await harness.decide(event.dossier_id, "accept")  # the lifecycle's move is "receive"
    after = await harness.state(event.dossier_id)
    assert after.version == before.version
    assert (await harness.decide(event.dossier_id, "return_result")).status is DossierStatus.RETURNED


class OthersWriteFirst(InMemoryWorkflowUnitOfWork):
    """The next ``times`` appends find that another writer appended first (and roll back)."""

    times = 0

    async def record(
        self, stream_id: str, expected_version: int, envelopes: Sequence[Envelope], topic: str | Sequence[str | None]
    ) -> int:
        if self.times:
            self.times -= 1
            raise ConcurrencyConflict(stream_id, expected_version, expected_version + 1)
        return await super().record(stream_id, expected_version, envelopes, topic)


async def test_a_decision_crossed_by_another_writer_is_decided_again_on_the_newer_state(harness: Harness) -> None:
    """An official names no version: a payment or a registry answer appended meanwhile is no reason for a 409."""
    harness.uow = uow = OthersWriteFirst()
    event = submitted(channel="online", at=harness.now)
    await harness.deliver(event)

    uow.times = DECISION_ATTEMPTS - 1
    state = await harness.decide(event.dossier_id, "accept")
    assert state.status is DossierStatus.PROCESSING
    assert harness.published_types(event.dossier_id).count("DossierReceived") == 1

    uow.times = DECISION_ATTEMPTS  # it keeps changing: the official is told (409) and nothing is recorded
    with pytest.raises(ConcurrencyConflict):
        await harness.decide(event.dossier_id, "approve")
    assert (await harness.state(event.dossier_id)).version == state.version


async def test_unknown_dossier(harness: Harness) -> None:
    with pytest.raises(DossierNotFound):
        await harness.decide("no-such-dossier", "approve")


async def test_a_bundle_id_is_no_dossier_id(harness: Harness) -> None:
    """A bundle's own events share the store, keyed by its id: read as a dossier it was an empty one
    (a 200 with no status, a 500 deciding on it, a 403 naming no agency) where there is none (404)."""
    bundle = bundle_submitted("birth", BIRTH_FORM, BIRTH_STEPS, at=harness.now)
    await harness.deliver(bundle)
    assert harness.bundle_events(bundle.bundle_id)  # its stream has events
    with pytest.raises(DossierNotFound):
        await harness.decide(bundle.bundle_id, "accept")
    async with harness.uow as uow:
        with pytest.raises(DossierNotFound):
            await queries.dossier(uow, bundle.bundle_id)


async def test_accepting_a_dossier_whose_procedure_this_catalogue_lacks_is_a_409_not_a_500(
    harness: Harness,
) -> None:
    """Intake's catalogue is newer (a rolling upgrade) or the procedure was removed: with no statutory
    time to count, accept and verify raised a bare LookupError, a 500 on every attempt."""
    rules = harness.ctx.rules
    procedures = {c: p for c, p in rules.catalogue.procedures.items() if c != "2.001610"}
    harness.ctx = replace(harness.ctx, rules=replace(rules, catalogue=replace(rules.catalogue, procedures=procedures)))
    online = submitted(channel="online", at=harness.now)
    await harness.deliver(online)
    with pytest.raises(IllegalTransition, match=r"2\.001610"):
        await harness.decide(online.dossier_id, "accept")
    assert (await harness.state(online.dossier_id)).status is DossierStatus.REGISTERED


async def test_forward_moves_the_dossier_and_adds_a_control_sheet_line(harness: Harness) -> None:
    event = submitted(at=harness.now)
    await harness.deliver(event)
    with pytest.raises(InvalidDecision) as info:
        await harness.decide(event.dossier_id, "forward")
    assert info.value.field == "to_agency"
    with pytest.raises(InvalidDecision):
        await harness.decide(event.dossier_id, "forward", to_agency="NOPE")
    state = await harness.decide(event.dossier_id, "forward", to_agency="STNMT-BINHAN", reason="liên quan đất đai")
    assert state.agency == "STNMT-BINHAN"
    assert [(line.step, line.agency) for line in state.control_sheet][-2:] == [
        ("processing", "SKHDT-BINHAN"),
        ("processing", "STNMT-BINHAN"),
    ]
    assert state.control_sheet[-2].ended_at == harness.now
    # Who holds it now: no official of the department it went to yet, not the one who sent it.
    assert (state.control_sheet[-2].official_id, state.control_sheet[-1].official_id) == ("cb-01", None)
    assert state.official_id is None
    assert [t.dossier_id for t in await harness.uow.tasks.for_agency("STNMT-BINHAN", 5)] == [event.dossier_id]
    assert await harness.uow.tasks.for_agency("SKHDT-BINHAN", 5) == []


async def test_forwarding_to_the_agency_that_holds_the_dossier_is_refused(harness: Harness) -> None:
    """Accepted, it closed the agency's processing step as "forwarded to" itself and opened another
    there: the control sheet (form 06) showed a hand-over that never happened, and nobody held it."""
    event = submitted(at=harness.now)  # processed at SKHDT-BINHAN
    await harness.deliver(event)
    with pytest.raises(InvalidDecision, match="already at this agency") as refused:
        await harness.decide(event.dossier_id, "forward", to_agency="SKHDT-BINHAN", reason="x")
    assert refused.value.field == "to_agency"
    state = await harness.state(event.dossier_id)
    assert [(line.step, line.agency) for line in state.control_sheet] == [
        ("reception", "TTPVHCC-BINHAN"),
        ("processing", "SKHDT-BINHAN"),
    ]


async def test_payment_round(harness: Harness) -> None:
    event = submitted(at=harness.now)
    await harness.deliver(event)
    state = await harness.decide(event.dossier_id, "request_payment")
    assert state.status is DossierStatus.PAYMENT_REQUESTED and state.payment_amount == 50_000
    await harness.deliver(
        intake.FeePaid(dossier_id=event.dossier_id, amount=50_000, method="qr", online=True, paid_at=harness.now)
    )
    assert (await harness.state(event.dossier_id)).status is DossierStatus.PROCESSING
    zero = submitted(at=harness.now, fee=0)
    await harness.deliver(zero)
    with pytest.raises(InvalidDecision) as info:
        await harness.decide(zero.dossier_id, "request_payment")
    assert info.value.field == "amount"


async def test_a_payment_in_part_leaves_the_request_waiting_for_the_rest(harness: Harness) -> None:
    """Any payment used to settle the request: 1,000 VND of 500,000 sent the dossier back to
    processing, and its result could be issued with the obligation unpaid."""
    event = submitted(at=harness.now)
    await harness.deliver(event)
    await harness.decide(event.dossier_id, "request_payment", amount=500_000)

    async def pay(amount: int) -> DossierStatus | None:
        await harness.deliver(
            intake.FeePaid(dossier_id=event.dossier_id, amount=amount, method="qr", online=True, paid_at=harness.now)
        )
        return (await harness.state(event.dossier_id)).status

    assert await pay(1_000) is DossierStatus.PAYMENT_REQUESTED
    with pytest.raises(IllegalTransition):  # no result while the rest is owed
        await harness.decide(event.dossier_id, "approve")
    assert await pay(499_000) is DossierStatus.PROCESSING
    assert (await harness.state(event.dossier_id)).paid_total == 500_000
    # Each says what is still owed after it: a part payment reads as one wherever it is shown.
    confirmed = [e.payload for e in harness.published() if e.type == "PaymentConfirmed"]
    assert [p["outstanding"] for p in confirmed] == [499_000, 0]


async def test_a_part_of_the_fee_paid_says_what_is_still_owed(harness: Harness) -> None:
    """No request, the fee paid in part: the dossier goes on (status processing), and only this tells
    that the obligation is not met."""
    event = submitted(at=harness.now, fee=200_000)
    await harness.deliver(event)
    for amount in (150_000, 50_000):
        await harness.deliver(
            intake.FeePaid(dossier_id=event.dossier_id, amount=amount, method="cash", online=False, paid_at=harness.now)
        )
    confirmed = [e.payload for e in harness.published() if e.type == "PaymentConfirmed"]
    assert [(p["status"], p["outstanding"]) for p in confirmed] == [("processing", 50_000), ("processing", 0)]


async def test_a_fee_paid_before_anyone_asked_is_recorded_and_not_asked_for_again(harness: Harness) -> None:
    """Online citizens pay with the submission: the payment was dropped (the lifecycle only took one
    that answered a request), and an official's later request then waited for a second payment."""
    event = submitted(channel="online", at=harness.now)
    await harness.deliver(event)
    await harness.deliver(
        intake.FeePaid(dossier_id=event.dossier_id, amount=50_000, method="qr", online=True, paid_at=harness.now)
    )
    state = await harness.state(event.dossier_id)
    assert state.status is DossierStatus.REGISTERED and state.paid_total == 50_000
    assert harness.published_types(event.dossier_id)[-1] == "PaymentConfirmed"

    await harness.decide(event.dossier_id, "accept", official_id="mc-07")
    with pytest.raises(IllegalTransition, match="already paid 50000 VND"):
        await harness.decide(event.dossier_id, "request_payment")
    # An obligation beyond what was paid is asked for, and the payment that answers it settles it.
    state = await harness.decide(event.dossier_id, "request_payment", amount=80_000)
    assert state.status is DossierStatus.PAYMENT_REQUESTED
    await harness.deliver(
        intake.FeePaid(dossier_id=event.dossier_id, amount=80_000, method="qr", online=True, paid_at=harness.now)
    )
    state = await harness.state(event.dossier_id)
    assert state.status is DossierStatus.PROCESSING and state.paid_total == 130_000


async def test_a_fee_paid_when_the_result_was_collected_is_recorded_after_the_handover(harness: Harness) -> None:
    """The counter may record the result as handed over before the citizen's payment at that counter
    reaches workflow (seen in the load generator's mix): the payment had no effect, and the dossier
    stayed unpaid in workflow and on the national portal."""
    event = submitted(at=harness.now)
    await harness.deliver(event)
    await harness.decide(event.dossier_id, "approve")
    await harness.decide(event.dossier_id, "return_result")
    await harness.deliver(
        intake.FeePaid(dossier_id=event.dossier_id, amount=50_000, method="cash", online=False, paid_at=harness.now)
    )
    state = await harness.state(event.dossier_id)
    assert state.status is DossierStatus.RETURNED and state.paid_total == 50_000
    assert harness.published_types(event.dossier_id)[-2:] == ["ResultReturned", "PaymentConfirmed"]


async def test_a_fee_paid_as_the_dossier_was_stopped_is_recorded_as_owed_back(harness: Harness) -> None:
    """Intake takes the payment before it learns the dossier was stopped (seen in the load generator's
    mix): workflow dropped it as having no effect, so the money the citizen paid was on no record
    but intake's, and nothing said it was owed back."""
    event = submitted(at=harness.now)
    await harness.deliver(event)
    await harness.decide(event.dossier_id, "reject", reason="không đủ điều kiện")
    await harness.deliver(
        intake.FeePaid(dossier_id=event.dossier_id, amount=50_000, method="qr", online=True, paid_at=harness.now)
    )
    state = await harness.state(event.dossier_id)
    assert state.status is DossierStatus.STOPPED and state.paid_total == 50_000
    confirmed = [e for e in harness.published() if e.key == event.dossier_id][-1]
    assert (confirmed.type, confirmed.payload["refund_due"]) == ("PaymentConfirmed", True)


async def test_a_part_of_the_fee_paid_on_a_stopped_dossier_is_owed_back_and_nothing_is_outstanding(
    harness: Harness,
) -> None:
    """A stopped dossier owes nothing: its payment of 20,000 of a 50,000 fee was confirmed as owed back
    yet with 30,000 outstanding, and the citizen's timeline and the portal's history said 30,000 was
    still to pay."""
    event = submitted(at=harness.now, fee=50_000)
    await harness.deliver(event)
    await harness.decide(event.dossier_id, "reject", reason="không đủ điều kiện")
    await harness.deliver(
        intake.FeePaid(dossier_id=event.dossier_id, amount=20_000, method="cash", online=False, paid_at=harness.now)
    )
    confirmed = [e.payload for e in harness.published() if e.type == "PaymentConfirmed"]
    assert [(p["status"], p["refund_due"], p["outstanding"]) for p in confirmed] == [("stopped", True, 0)]


async def test_withdrawal_ends_the_dossier_and_a_second_one_is_refused(harness: Harness) -> None:
    event = submitted(at=harness.now)
    await harness.deliver(event)
    request = intake.WithdrawalRequested(dossier_id=event.dossier_id, reason="đổi ý", requested_at=harness.now)
    await harness.deliver(request)
    state = await harness.state(event.dossier_id)
    assert state.status is DossierStatus.WITHDRAWAL_REQUESTED and state.on_time is True
    assert await harness.uow.tasks.for_agency("SKHDT-BINHAN", 5) == []
    await harness.deliver(request)
    assert harness.published_types(event.dossier_id)[-2:] == ["WithdrawalAccepted", "WithdrawalRefused"]
    assert (await harness.state(event.dossier_id)).status is DossierStatus.WITHDRAWAL_REQUESTED


async def test_a_withdrawal_that_comes_after_the_result_is_refused_and_the_citizen_told(harness: Harness) -> None:
    """Intake takes a withdrawal before it knows the result is out; it used to be logged as an
    event without effect, and the citizen never heard back."""
    event = submitted(at=harness.now)
    await harness.deliver(event)
    await harness.decide(event.dossier_id, "approve")
    request = intake.WithdrawalRequested(dossier_id=event.dossier_id, reason="đổi ý", requested_at=harness.now)
    await harness.deliver(request)
    state = await harness.state(event.dossier_id)
    assert state.status is DossierStatus.PROCESSED
    [refused] = [e for e in harness.published() if e.type == "WithdrawalRefused"]
    assert refused.payload["status"] == "processed" and "«đã có kết quả»" in refused.payload["reason"]


async def test_state_at_a_past_instant(harness: Harness) -> None:
    event = submitted(at=harness.now)
    await harness.deliver(event)
    before_approval = harness.now
    harness.advance(hours=3)
    await harness.decide(event.dossier_id, "approve")
    assert (await harness.state(event.dossier_id)).status is DossierStatus.PROCESSED
    past = await harness.state(event.dossier_id, until=before_approval + timedelta(minutes=1))
    assert past.status is DossierStatus.PROCESSING
    assert (await harness.state(event.dossier_id, until=before_approval - timedelta(days=1))).exists is False


async def test_a_redelivered_submission_opens_the_dossier_once(harness: Harness) -> None:
    event = submitted(at=harness.now)
    await harness.deliver(event)
    await harness.deliver(event)
    assert harness.published_types(event.dossier_id) == ["DossierReceived", "DossierStepStarted"]


def test_times_are_vietnam_local() -> None:
    assert datetime(2024, 6, 3, 9, tzinfo=vietnam_tz()).utcoffset() == timedelta(hours=7)


async def test_the_counter_retrying_its_own_step_after_the_dossier_moved_on_is_told_409_not_403(
    harness: Harness,
) -> None:
    """An acceptance clicked twice, a hand-over recorded twice: the dossier had moved to the deciding
    department (or ended), and the counter that received it was told it does not act for it (403),
    logged as a refused request."""
    counter = frozenset({"TTPVHCC-BINHAN"})
    event = submitted(channel="online", at=harness.now)  # received at TTPVHCC-BINHAN, decided by SKHDT-BINHAN
    await harness.deliver(event)
    await harness.decide(event.dossier_id, "accept", acting_for=counter)
    with pytest.raises(IllegalTransition, match="cannot accept a dossier in status processing"):
        await harness.decide(event.dossier_id, "accept", acting_for=counter)
    with pytest.raises(Forbidden):  # another agency's decision stays forbidden to the counter
        await harness.decide(event.dossier_id, "approve", acting_for=counter)
    await harness.decide(event.dossier_id, "approve", acting_for=frozenset({"SKHDT-BINHAN"}))
    await harness.decide(event.dossier_id, "return_result", acting_for=counter)
    with pytest.raises(IllegalTransition, match="cannot return_result a dossier in status returned"):
        await harness.decide(event.dossier_id, "return_result", acting_for=counter)
    with pytest.raises(Forbidden):  # a counter that never had it is still refused
        await harness.decide(event.dossier_id, "return_result", acting_for=frozenset({"UBND-X-YENHOA"}))


async def test_after_the_result_the_deciding_agency_is_told_409_for_a_decision_and_403_for_the_counter_s_work(
    harness: Harness,
) -> None:
    """An approval retried after the result went to the counter is refused by the lifecycle (409); the
    hand-over itself is the counter's (403), not a decision the lifecycle forbids."""
    event = submitted(at=harness.now)  # received at TTPVHCC-BINHAN, decided by SKHDT-BINHAN
    await harness.deliver(event)
    department = frozenset({"SKHDT-BINHAN"})
    await harness.decide(event.dossier_id, "approve", acting_for=department)
    with pytest.raises(IllegalTransition, match="has been decided"):
        await harness.decide(event.dossier_id, "approve", acting_for=department)
    with pytest.raises(Forbidden, match="TTPVHCC-BINHAN"):
        await harness.decide(event.dossier_id, "return_result", acting_for=department)
    await harness.decide(event.dossier_id, "return_result", acting_for=frozenset({"TTPVHCC-BINHAN"}))


async def test_processing_never_starts_before_the_reception_intake_stamped(harness: Harness) -> None:
    """Intake's clock stamps a counter dossier's reception, workflow's the start of its processing: with
    workflow's 50 ms behind, the step started before the dossier was received, and the portal, ordering
    by those instants, kept it "received" until its next decision."""
    ahead = harness.now + timedelta(milliseconds=50)
    await harness.deliver(submitted(at=ahead))
    received, started = (e for e in harness.published() if e.type in ("DossierReceived", "DossierStepStarted"))
    assert received.type == "DossierReceived" and started.type == "DossierStepStarted"
    assert datetime.fromisoformat(started.payload["at"]) == datetime.fromisoformat(received.payload["at"]) == ahead

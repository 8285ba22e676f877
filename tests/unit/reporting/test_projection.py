"""Projecting the scenario's events: outcomes, resolution times, and the same facts whatever the
interleaving of topics, the batching, or redelivery."""

from __future__ import annotations

import random
from dataclasses import asdict

import pytest

from contracts.envelope import Envelope
from contracts.events import intake, registry, workflow
from contracts.events.common import Document, DossierStatus
from reporting.domain.facts import DossierFacts
from reporting.domain.outcome import Derivation
from reporting.service_layer.projector import project
from tests.unit.reporting import scenario
from tests.unit.reporting.fakes import InMemoryProjectionStore, catalogue_derivation


@pytest.fixture(scope="module")
def derive() -> Derivation:
    return catalogue_derivation()


async def project_all(envelopes: list[Envelope], derive: Derivation, batch: int = 1) -> InMemoryProjectionStore:
    store = InMemoryProjectionStore()
    for i in range(0, len(envelopes), batch):
        chunk = envelopes[i : i + batch]
        await project([(e, e.parse_payload()) for e in chunk], store, derive)
    return store


def interleave(s: scenario.Scenario, rng: random.Random) -> list[Envelope]:
    """A random merge of the topics that keeps each topic's own order, as consumers may see it."""
    queues = [list(events) for events in s.events.values()]
    merged: list[Envelope] = []
    while any(queues):
        queue = rng.choice([q for q in queues if q])
        merged.append(queue.pop(0))
    return merged


async def test_outcomes_and_resolution_times_follow_the_766_rules(derive: Derivation) -> None:
    store = await project_all(scenario.build().all(), derive)
    got = {d: (f.outcome, f.resolution_days, f.end_kind) for d, f in store.dossiers.items()}
    assert got == {
        "D1": ("on_time", 0.125, "processed"),
        "D2": ("early", 1.6875, "processed"),
        "D3": ("overdue", 5.125, "processed"),
        "D4": ("early", 3.5625, "processed"),  # 44.5 office hours less the 16 h supplement pause
        "D5": ("overdue", 3.125, "processed"),  # workflow said on time; a second request makes it overdue
        "D6": ("on_time", 1.0, "withdrawn"),
        "D7": ("early", 1.0, "withdrawn"),  # withdrawn while waiting: the clock stopped at the request
        "D8": (None, None, None),
        "D9": (None, None, None),
        "D10": ("on_time", None, "refused"),
        "D11": (None, None, None),
    }


async def test_a_document_sent_again_replaces_the_one_of_its_kind(derive: Derivation) -> None:
    """Counted as a second document, the scan of a paper component kept the dossier from "fully
    digitised" and halved its reuse (25 copies of one reused declaration: 25 of 26)."""
    s = scenario.Scenario()
    paper = Document(kind="to_khai", digitized=False, reused=False)
    reused = Document(kind="giay_chung_sinh", digitized=True, reused=True, from_national_store=True)
    s.submit("R1", procedure="1.001193", channel="counter", agency="UBND-X-YENHOA", fee=0, documents=[paper, reused],
             when=scenario.at(4, 9), due=scenario.at(4, 17))  # fmt: skip
    scanned = Document(kind="to_khai", digitized=True, reused=False)
    s.intake(intake.SupplementProvided(dossier_id="R1", documents=[scanned], provided_at=scenario.at(4, 10)), "R1",
             scenario.at(4, 10))  # fmt: skip
    facts = (await project_all(s.all(), derive)).dossiers["R1"]
    assert (facts.docs_total, facts.docs_digitized, facts.docs_reused, facts.docs_national_store) == (2, 2, 1, 1)
    assert facts.doc_kinds == ["giay_chung_sinh:111", "to_khai:100"]


async def test_facts_carry_what_the_metrics_count(derive: Derivation) -> None:
    store = await project_all(scenario.build().all(), derive)
    d4, d3, d1 = store.dossiers["D4"], store.dossiers["D3"], store.dossiers["D1"]
    assert (d4.docs_total, d4.docs_digitized, d4.docs_reused) == (2, 2, 1)  # the supplement's document counts
    assert (d4.paid, d4.paid_online, d4.supplement_requests, d4.paused_since) == (True, False, 1, None)
    assert d4.field == "giao_thong" and d4.status == "processed"
    assert (d3.result_electronic, d3.rating_complaint, d3.portal_sync_failures) == (False, True, 1)
    assert (d1.portal_syncs, d1.portal_lag_sum, d1.portal_lag_max, d1.population_data_used) == (2, 120.0, 90.0, True)
    d2 = store.dossiers["D2"]  # paid online (intake) and in cash (workflow); social insurance consulted
    assert (d2.paid_online, d2.registry_commands, d2.population_data_used) == (True, 1, False)
    assert store.dossiers["D7"].paused_since is not None
    assert store.dossiers["D8"].overdue_flagged
    # Late for good from the SLA timer (D8) or the second supplement request (D5): a period counts it
    # as overdue in progress only from then on.
    assert (store.dossiers["D8"].late_since, store.dossiers["D5"].late_since) == (scenario.at(7, 17), scenario.at(7, 9))
    assert store.dossiers["D4"].late_since is None
    assert store.dossiers["D11"].status == "registered"
    b1, b2 = store.bundles["B1"], store.bundles["B2"]
    assert (b1.outcome, b1.e2e_days, b1.e2e_seconds) == ("completed", 2.3125, 50.5 * 3600)
    assert (b2.outcome, b2.e2e_days, b2.failed_step) == ("partial", 1.5, "funeral_allowance")


@pytest.mark.parametrize("seed", range(8))
async def test_any_interleaving_of_the_topics_gives_the_same_facts(derive: Derivation, seed: int) -> None:
    s = scenario.build()
    reference = await project_all(s.all(), derive)
    shuffled = await project_all(interleave(s, random.Random(seed)), derive, batch=7)
    assert {k: asdict(v) for k, v in shuffled.dossiers.items()} == {k: asdict(v) for k, v in reference.dossiers.items()}
    assert {k: asdict(v) for k, v in shuffled.bundles.items()} == {k: asdict(v) for k, v in reference.bundles.items()}


async def test_a_redelivered_event_has_no_second_effect(derive: Derivation) -> None:
    s = scenario.build()
    envelopes = s.all()
    store = await project_all(envelopes, derive)
    before = {k: asdict(v) for k, v in store.dossiers.items()}
    again = await project([(e, e.parse_payload()) for e in envelopes[:5]], store, derive)
    assert (again.applied, again.duplicates, again.items) == (0, 5, [])
    assert {k: asdict(v) for k, v in store.dossiers.items()} == before


async def test_a_duplicate_inside_one_batch_counts_once(derive: Derivation) -> None:
    s = scenario.build()
    paid = next(e for e in s.all() if e.type == "SupplementProvided")
    store = InMemoryProjectionStore()
    result = await project([(paid, paid.parse_payload())] * 3, store, derive)
    assert (result.applied, result.duplicates) == (1, 2)
    assert store.dossiers["D4"].docs_total == 1


async def test_an_unknown_version_is_logged_but_changes_nothing(derive: Derivation) -> None:
    store = InMemoryProjectionStore()
    future = Envelope.wrap(scenario.build().all()[0].parse_payload(), key="D1", producer="intake")  # type: ignore[arg-type]
    future = future.model_copy(update={"version": 99})
    result = await project([(future, future.parse_payload())], store, derive)
    assert result.applied == 1 and store.dossiers == {} and future.event_id in store.log


async def test_feed_items_name_the_dossier_and_its_agencies_without_personal_data(derive: Derivation) -> None:
    s = scenario.build()
    store = InMemoryProjectionStore()
    submitted = s.events["intake_events"][0]
    result = await project([(submitted, submitted.parse_payload())], store, derive)
    item = result.items[0].to_json_dict()
    assert item["dossier_id"] == "D1" and item["agencies"] == ("UBND-X-YENHOA",) and item["field"] == "ho_tich"
    assert "Nguyễn" not in str(item) and "001090000001" not in str(item)


async def test_a_failure_s_feed_item_names_its_cause_by_code_not_in_the_system_s_words(derive: Derivation) -> None:
    """The free-text reason was copied: the social-insurance system's refusal quoted the child's card
    number (13 digits, past the registry's masking of 12-digit numbers) to every dashboard."""
    failed = registry.RegistryCommandFailed(
        command_id="c1", system="social_insurance", operation="issue_child_health_insurance_card", dossier_id="D1",
        reason="409 card_exists: the child already holds card TE1011234567890", attempts=1,
        failed_at=scenario.at(4, 10), error="card_exists", http_status=409,
    )  # fmt: skip
    envelope = Envelope.wrap(failed, key="D1", producer="registry-sync")
    item = (await project([(envelope, failed)], InMemoryProjectionStore(), derive)).items[0].to_json_dict()
    assert item["detail"] == {"error": "card_exists", "http_status": 409, "attempts": 1}
    assert "1234567890" not in str(item)


@pytest.mark.skipif(
    "on_time" not in workflow.WithdrawalAccepted.model_fields, reason="contract without on_time on ending events"
)
async def test_workflow_judgement_on_an_ending_event_wins_over_the_dates(derive: Derivation) -> None:
    s = scenario.Scenario()
    s.submit("W1", procedure="1.000894", channel="counter", agency="UBND-X-YENHOA", fee=0, documents=[],
             when=scenario.at(4, 9), due=scenario.at(5, 17))  # fmt: skip
    s.flow(workflow.WithdrawalAccepted, "W1", scenario.at(5, 9), "UBND-X-YENHOA", DossierStatus.RETURNED,
           reason="x", on_time=False)  # fmt: skip
    store = await project_all(s.all(), derive)
    assert store.dossiers["W1"].outcome == "overdue"  # the dates alone would say on time


async def test_a_dossier_sent_back_before_acceptance_has_no_appointment_to_be_late_for(derive: Derivation) -> None:
    """The supplement that answers a request made at reception carries the end of a fresh acceptance
    window as its due_at, not an appointment: refused after that window, the dossier is judged as one
    refused at reception (D10 of the scenario), not overdue."""
    s = scenario.Scenario()
    s.submit("R1", procedure="9.000001", channel="online", agency="UBND-X-YENHOA", fee=0, documents=[],
             when=scenario.at(4, 9), due=None, registered=True)  # fmt: skip
    s.flow(workflow.SupplementRequested, "R1", scenario.at(4, 10), "UBND-X-YENHOA", DossierStatus.SUPPLEMENT_REQUESTED,
           reason="thiếu giấy tờ", request_number=1)  # fmt: skip
    s.flow(workflow.SupplementReceived, "R1", scenario.at(5, 9), "UBND-X-YENHOA", DossierStatus.REGISTERED,
           paused_seconds=0, due_at=scenario.at(5, 17))  # fmt: skip
    s.flow(workflow.DossierRefused, "R1", scenario.at(7, 9), "UBND-X-YENHOA", DossierStatus.REFUSED,
           reason="Không thuộc thẩm quyền", on_time=None)  # fmt: skip
    store = await project_all(s.all(), derive)
    facts = store.dossiers["R1"]
    assert facts.due_at is None and facts.outcome == "on_time" and facts.end_kind == "refused"


async def test_an_online_dossier_refused_after_missing_its_acceptance_limit_is_overdue(derive: Derivation) -> None:
    """No appointment was ever set, so it counted as on time: left unaccepted for days and then
    refused, a dossier raised the on-time rate."""
    s = scenario.Scenario()
    s.submit("A1", procedure="9.000001", channel="online", agency="UBND-X-YENHOA", fee=0, documents=[],
             when=scenario.at(4, 9), due=None, registered=True)  # fmt: skip
    s.flow(workflow.AcceptanceOverdue, "A1", scenario.at(5, 9), "UBND-X-YENHOA", DossierStatus.REGISTERED,
           deadline=scenario.at(5, 9))  # fmt: skip
    s.flow(workflow.DossierRefused, "A1", scenario.at(15, 9), "UBND-X-YENHOA", DossierStatus.REFUSED,
           reason="Không thuộc thẩm quyền", on_time=None)  # fmt: skip
    # Accepted late, then refused an hour later: workflow judges it against its fresh appointment.
    s.submit("A2", procedure="9.000001", channel="online", agency="UBND-X-YENHOA", fee=0, documents=[],
             when=scenario.at(4, 9), due=None, registered=True)  # fmt: skip
    s.flow(workflow.AcceptanceOverdue, "A2", scenario.at(5, 9), "UBND-X-YENHOA", DossierStatus.REGISTERED,
           deadline=scenario.at(5, 9))  # fmt: skip
    s.flow(workflow.DossierReceived, "A2", scenario.at(15, 9), "UBND-X-YENHOA", DossierStatus.RECEIVED,
           procedure_code="9.000001", due_at=scenario.at(17, 17))  # fmt: skip
    s.flow(workflow.DossierRefused, "A2", scenario.at(15, 10), "UBND-X-YENHOA", DossierStatus.REFUSED,
           reason="Không thuộc thẩm quyền", on_time=True)  # fmt: skip
    store = await project_all(s.all(), derive)
    assert (store.dossiers["A1"].outcome, store.dossiers["A2"].outcome) == ("overdue", "overdue")


async def test_a_later_bundle_step_s_date_moves_when_workflow_starts_it_later(derive: Derivation) -> None:
    """A counter bundle's later step, started after the first step waited for the citizen: workflow's
    DossierStepStarted carries the moved date, and a result issued by it is not overdue."""
    s = scenario.Scenario()
    s.submit("B2", procedure="1.004222", channel="counter", agency="UBND-X-YENHOA", fee=0, documents=[],
             when=scenario.at(4, 9), due=scenario.at(6, 17))  # fmt: skip
    s.flow(workflow.DossierStepStarted, "B2", scenario.at(11, 10), "CA-X-YENHOA", DossierStatus.PROCESSING,
           step="processing", step_due_at=scenario.at(13, 17), due_at=scenario.at(13, 17))  # fmt: skip
    store = await project_all(s.all(), derive)
    assert store.dossiers["B2"].due_at == scenario.at(13, 17)


async def test_a_held_bundle_step_s_resolution_time_counts_from_its_release(derive: Derivation) -> None:
    """A counter bundle's police step is received with the bundle on Monday and held until the commune's
    birth registration ends on Wednesday at 09:00; the police finish at 11:00. It counted 2.25 working
    days from Monday, the commune's days charged to the police (the same step of an online bundle, received
    when released, counted 0.25). A forward later in its processing does not restart the count."""
    s = scenario.Scenario()
    s.submit("P", procedure="1.004222", channel="counter", agency="UBND-X-YENHOA", fee=0, documents=[],
             when=scenario.at(4, 9), due=scenario.at(8, 17), bundle="B", step="permanent_residence")  # fmt: skip
    s.flow(workflow.DossierStepStarted, "P", scenario.at(6, 9), "CA-X-YENHOA", DossierStatus.PROCESSING,
           step="processing", step_due_at=scenario.at(8, 17))  # fmt: skip
    s.flow(workflow.DossierStepStarted, "P", scenario.at(6, 10), "CA-H-HOAMY", DossierStatus.PROCESSING,
           step="processing", step_due_at=scenario.at(8, 17))  # fmt: skip
    s.result("P", scenario.at(6, 11), "CA-H-HOAMY", on_time=True)
    store = await project_all(s.all(), derive)
    assert store.dossiers["P"].resolution_days == 0.25


@pytest.mark.parametrize("bundle_step", [None, "birth_registration"], ids=["own dossier", "first bundle step"])
async def test_a_dossier_s_resolution_time_counts_from_its_reception_however_late_workflow_started_it(
    derive: Derivation, bundle_step: str | None
) -> None:
    """Workflow stamps the start of processing when it handles the reception: 15 minutes' backlog put
    it past the 15:00 cut-off and a day's work counted 0.73 days; an outage of two days, 1 for 3."""
    s = scenario.Scenario()
    s.submit("A", procedure="1.001193", channel="counter", agency="UBND-X-YENHOA", fee=0, documents=[],
             when=scenario.at(4, 14, 50), due=scenario.at(8, 17), bundle="B" if bundle_step else None,
             step=bundle_step)  # fmt: skip
    s.flow(workflow.DossierStepStarted, "A", scenario.at(6, 15, 5), "UBND-X-YENHOA", DossierStatus.PROCESSING,
           step="processing", step_due_at=scenario.at(8, 17))  # fmt: skip
    s.result("A", scenario.at(7, 14, 50), "UBND-X-YENHOA", on_time=True)
    store = await project_all(s.all(), derive)
    assert store.dossiers["A"].resolution_days == 3.0


async def test_a_bundle_step_stopped_before_it_started_is_neither_resolved_nor_judged(derive: Derivation) -> None:
    """A counter bundle's police step, stopped on 11 March because the step before it failed, was
    counted as a stop: resolved, overdue against its appointment of 8 March, and 5 working days charged
    to a police station that never had it."""
    s = scenario.Scenario()
    s.submit("N", procedure="1.004222", channel="counter", agency="CA-X-YENHOA", fee=0, documents=[],
             when=scenario.at(4, 9), due=scenario.at(8, 17), bundle="B", step="permanent_residence",
             received_by="UBND-X-YENHOA")  # fmt: skip
    s.flow(workflow.DossierStopped, "N", scenario.at(11, 9), "CA-X-YENHOA", DossierStatus.STOPPED,
           reason="bước trước không thành", step_started=False)  # fmt: skip
    facts = (await project_all(s.all(), derive)).dossiers["N"]
    assert (facts.end_kind, facts.outcome, facts.resolution_days) == ("not_started", None, None)


async def test_a_supplement_adds_to_a_row_projected_before_documents_were_kept_by_kind(derive: Derivation) -> None:
    """A row projected before migration 0008 has its counts but no kinds to replace by: counted from the
    supplement alone, its 3 documents (1 digitised, 1 reused) became 1 (1 digitised, none reused)."""
    store = InMemoryProjectionStore()
    store.dossiers["OLD"] = DossierFacts("OLD", docs_total=3, docs_digitized=1, docs_reused=1)
    supplement = intake.SupplementProvided(
        dossier_id="OLD", documents=[Document(kind="to_khai", digitized=True, reused=False)],
        provided_at=scenario.at(5, 9),
    )  # fmt: skip
    envelope = Envelope.wrap(supplement, key="OLD", producer="intake", occurred_at=scenario.at(5, 9))
    await project([(envelope, supplement)], store, derive)
    facts = store.dossiers["OLD"]
    assert (facts.docs_total, facts.docs_digitized, facts.docs_reused, facts.doc_kinds) == (4, 2, 1, [])


@pytest.mark.parametrize("intake_position", [0, 1, 2], ids=["intake read first", "in between", "intake read last"])
async def test_a_dossier_started_at_the_instant_of_its_reception_shows_processing_in_any_interleaving(
    derive: Derivation, intake_position: int
) -> None:
    """Workflow receives a counter dossier and starts it at the time intake stated for its reception. On
    equal times the later of workflow's pair, and workflow over intake, must win: otherwise the dossier
    showed as received all through its processing."""
    s = scenario.Scenario()
    s.submit("T", procedure="1.001193", channel="counter", agency="UBND-X-YENHOA", fee=0, documents=[],
             when=scenario.at(4, 9), due=scenario.at(5, 17))  # fmt: skip
    s.flow(workflow.DossierStepStarted, "T", scenario.at(4, 9), "UBND-X-YENHOA", DossierStatus.PROCESSING,
           step="processing", step_due_at=scenario.at(5, 17))  # fmt: skip
    (submitted,) = s.events["intake_events"]
    envelopes = list(s.events["workflow_events"])  # received, then started: the topic's own order
    envelopes.insert(intake_position, submitted)
    store = await project_all(envelopes, derive)
    assert store.dossiers["T"].status == "processing"


async def test_a_dossier_is_late_from_its_second_supplement_request_though_the_timer_fires_later(
    derive: Derivation,
) -> None:
    """More than one supplement request makes a dossier overdue for good from the request (766 rules).
    The supplement moved its date to 12 March, where the SLA timer fired: taken as the later of the two,
    it was late from 12 March, and a period ending in between counted it as in progress on time."""
    s = scenario.Scenario()
    s.submit("L", procedure="9.000006", channel="counter", agency="UBND-X-YENHOA", fee=0, documents=[],
             when=scenario.at(4, 9), due=scenario.at(7, 17))  # fmt: skip
    s.flow(workflow.SupplementRequested, "L", scenario.at(5, 9), "UBND-X-YENHOA", DossierStatus.SUPPLEMENT_REQUESTED,
           reason="thiếu bản vẽ", request_number=2)  # fmt: skip
    s.flow(workflow.SupplementReceived, "L", scenario.at(6, 9), "UBND-X-YENHOA", DossierStatus.PROCESSING,
           paused_seconds=8 * 3600, due_at=scenario.at(12, 17))  # fmt: skip
    s.flow(workflow.DossierOverdue, "L", scenario.at(12, 17), "UBND-X-YENHOA", DossierStatus.PROCESSING,
           due_at=scenario.at(12, 17), reason="deadline_passed")  # fmt: skip
    store = await project_all(s.all(), derive)
    assert store.dossiers["L"].late_since == scenario.at(5, 9)


async def test_a_dossier_or_bundle_ended_after_the_cut_off_on_the_day_it_came_took_no_time(derive: Derivation) -> None:
    """Received after the 15:00 cut-off, a dossier's count starts the next working morning: stopped at
    16:30 the same day, it ended before its count began and took -0.0625 working days, lowering the
    average resolution time; a bundle submitted at 16:00 and ended at 16:30 did the same to the bundles'."""
    s = scenario.Scenario()
    s.submit("E", procedure="1.001193", channel="counter", agency="UBND-X-YENHOA", fee=0, documents=[],
             when=scenario.at(4, 16), due=scenario.at(5, 17))  # fmt: skip
    s.flow(workflow.DossierStopped, "E", scenario.at(4, 16, 30), "UBND-X-YENHOA", DossierStatus.STOPPED,
           reason="không đủ điều kiện")  # fmt: skip
    steps = [intake.BundleStep(step_id="birth", procedure_code="1.001193", dossier_id="E", code="x")]
    s.emit(intake.BundleSubmitted(bundle_id="BE", bundle_type="birth", catalogue_version="test", channel="counter",
                                  receiving_agency="UBND-X-YENHOA", applicant=scenario.APPLICANT, form={},
                                  steps=steps, submitted_at=scenario.at(4, 16)), "BE", scenario.at(4, 16))  # fmt: skip
    s.emit(workflow.BundlePartiallyCompleted(bundle_id="BE", bundle_type="birth", at=scenario.at(4, 16, 30),
                                             failed_step="birth", reason="không đủ điều kiện", completed_steps=[]),
           "BE", scenario.at(4, 16, 30))  # fmt: skip
    store = await project_all(s.all(), derive)
    assert (store.dossiers["E"].resolution_days, store.bundles["BE"].e2e_days) == (0.0, 0.0)

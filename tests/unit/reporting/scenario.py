"""A month of dossiers (March 2024, Bình An province) built from the contract models, with every
expected number worked out by hand in EXPECTED below.

March 2024 has no public holiday; offices work 07:30–11:30 and 13:00–17:00 (8 h = 1 working day).
Mon 4 Mar 09:00 to Tue 5 Mar 09:00 is 6.5 h + 1.5 h = 8 h = 1.0 working day, and so on below.

| dossier | channel | procedure (field, fee)      | story                                                  | outcome |
|---------|---------|-----------------------------|--------------------------------------------------------|---------|
| D1      | online  | 1.001193 ho_tich, 0         | received Mon 09:00, result Mon 10:00, due Mon 17:00    | on_time |
| D2      | counter | 1.001612 dang_ky_kinh_doanh | result Tue 16:00, due Wed 17:00; paid online           | early   |
| D3      | online  | 9.000003 dat_dai            | result Mon 11 on_time=false; paid cash; paper result   | overdue |
| D4      | postal  | 9.000004 giao_thong         | supplement Tue 09:00→Thu 09:00 (16 h) moves the due    | early   |
|         |         |                             | date Fri 8 → Tue 12; result Mon 11: late without it    |         |
| D5      | online  | 9.000005 ly_lich_tu_phap    | two supplement requests; workflow said on_time=true    | overdue |
| D6      | counter | 1.000894 ho_tich, 0         | withdrawn Tue 09:00, due Tue 17:00                     | on_time |
| D7      | online  | 1.004222 cu_tru             | supplement asked Tue 09:00, withdrawn Mon 11 while     | early   |
|         |         |                             | waiting: the clock stopped Tue 09:00; never paid       |         |
| D8      | counter | 9.000006 xay_dung           | in progress, due Thu 7 17:00: overdue in progress      | –       |
| D9      | online  | 9.000007 can_cuoc           | received Mon 25, due Wed 3 Apr: in progress            | –       |
| D10     | online  | 9.000001 bhxh, 0            | registered online, refused at reception (no due date)  | on_time |
| D11     | online  | 1.003197 cu_tru, 0          | registered Fri 29 16:00, not yet received (acceptance  | –       |
|         |         |                             | overdue Mon 1 Apr 16:00, after March)                  |         |
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from contracts.envelope import Envelope, EventPayload
from contracts.events import intake, registry, workflow
from contracts.events.common import Applicant, Document, DossierStatus

VN = timezone(timedelta(hours=7))
APPLICANT = Applicant(id_number="001090000001", full_name="Nguyễn Văn An")


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2024, month, day, hour, minute, tzinfo=VN)


def docs(n: int, *, digitized: int | None = None, reused: int = 0, national: int = 0) -> list[Document]:
    digitized = n if digitized is None else digitized
    return [
        Document(kind=f"doc_{i}", digitized=i < digitized, reused=i < reused, from_national_store=i < national)
        for i in range(n)
    ]


@dataclass
class Scenario:
    """Envelopes per topic role, in the order each producer would publish them."""

    prefix: str = ""
    events: dict[str, list[Envelope]] = field(default_factory=dict)
    codes: dict[str, str] = field(default_factory=dict)

    def emit(self, payload: EventPayload, key: str, when: datetime) -> Envelope:
        if self.prefix:
            key = self.prefix + key
            updates = {
                f: self.prefix + getattr(payload, f)
                for f in ("dossier_id", "bundle_id")
                if isinstance(getattr(payload, f, None), str)
            }
            payload = payload.model_copy(update=updates)
        producer = {"intake_events": "intake", "workflow_events": "workflow"}.get(payload.topic_role, "registry-sync")
        envelope = Envelope.wrap(payload, key=key, producer=producer, occurred_at=when)
        self.events.setdefault(payload.topic_role, []).append(envelope)
        return envelope

    def all(self) -> list[Envelope]:
        return [e for events in self.events.values() for e in events]

    # -- intake ----------------------------------------------------------------------------------

    def submit(
        self,
        dossier: str,
        *,
        procedure: str,
        channel: str,
        agency: str,
        fee: int,
        documents: list[Document],
        when: datetime,
        due: datetime | None,
        registered: bool = False,
        bundle: str | None = None,
        step: str | None = None,
        received_by: str | None = None,
    ) -> None:
        """``agency`` decides it; ``received_by`` received it (default: the same agency)."""
        receiving = received_by or agency
        code = f"{receiving}-{when:%y%m%d}-{self.prefix}{len(self.codes) + 1:04d}"
        self.codes[dossier] = code
        payload = intake.DossierSubmitted(
            dossier_id=dossier, code=code, procedure_code=procedure, catalogue_version="test", channel=channel,
            receiving_agency=receiving, competent_agency=agency, applicant=APPLICANT, form={}, documents=documents,
            fee=fee, status=DossierStatus.REGISTERED if registered else DossierStatus.RECEIVED, submitted_at=when,
            received_at=None if registered else when, due_at=None if registered else due, bundle_id=bundle,
            bundle_step=step,
        )  # fmt: skip
        self.emit(payload, dossier, when)
        if not registered and due is not None:
            self.flow(workflow.DossierReceived, dossier, when, agency, DossierStatus.RECEIVED,
                      procedure_code=procedure, due_at=due, bundle_id=bundle)  # fmt: skip

    def intake(self, payload: EventPayload, dossier: str, when: datetime) -> None:
        self.emit(payload, dossier, when)

    # -- workflow --------------------------------------------------------------------------------

    def flow(
        self, cls: type[workflow.DossierEvent], dossier: str, when: datetime, agency: str, status: DossierStatus,
        **fields: object,
    ) -> None:  # fmt: skip
        payload = cls(
            dossier_id=dossier, code=self.codes[dossier], status=status, status_code=status.code, at=when,
            agency=agency, **fields,
        )  # fmt: skip
        self.emit(payload, dossier, when)

    def result(self, dossier: str, when: datetime, agency: str, *, on_time: bool, electronic: bool = True) -> None:
        code = self.codes[dossier]
        result_code = f"{code}-KQ1" if electronic else f"{code}-GCN"
        self.flow(workflow.ResultIssued, dossier, when, agency, DossierStatus.PROCESSED, result_code=result_code,
                  document_name="Kết quả", data={}, on_time=on_time)  # fmt: skip

    # -- registry --------------------------------------------------------------------------------

    def synced(self, dossier: str, when: datetime, lag: float, operation: str = "create") -> None:
        payload = registry.PortalSyncSucceeded(
            dossier_id=dossier, code=self.codes[dossier], status_code=2, operation=operation, lag_seconds=lag,
            synced_at=when,
        )  # fmt: skip
        self.emit(payload, dossier, when)


S = DossierStatus


# fmt: off
def build(prefix: str = "") -> Scenario:
    """The scenario; ``prefix`` makes another set of dossiers and bundles with the same story."""
    s = Scenario(prefix)
    commune, district = "UBND-X-YENHOA", "UBND-H-HOAMY"
    s.submit("D1", procedure="1.001193", channel="online", agency=commune, fee=0,
             documents=docs(2, reused=1), when=at(4, 9), due=at(4, 17), bundle="B1")  # B1's first step
    s.result("D1", at(4, 10), commune, on_time=True)
    s.synced("D1", at(4, 9, 1), 30)
    s.synced("D1", at(4, 10, 2), 90, "update")
    s.intake(intake.SatisfactionRated(dossier_id="D1", score=5, rated_at=at(4, 11)), "D1", at(4, 11))
    s.emit(registry.RegistryCommandRequested(command_id="c1", system="population_db", operation="lookup",
                                             dossier_id="D1", data={}, requested_at=at(4, 9)), "D1", at(4, 9))

    s.submit("D2", procedure="1.001612", channel="counter", agency=district, fee=100_000,
             documents=docs(2, national=1), when=at(4, 9), due=at(6, 17))
    s.intake(intake.FeePaid(dossier_id="D2", amount=100_000, method="qr", online=True, paid_at=at(4, 9, 30)),
             "D2", at(4, 9, 30))
    # Workflow's word on the same payment, from another topic, saying cash: paid online whichever
    # comes first. And a registry other than the population database: no use of population data.
    s.flow(workflow.PaymentConfirmed, "D2", at(4, 9, 40), district, S.PROCESSING, amount=100_000, online=False)
    s.emit(registry.RegistryCommandRequested(command_id="c2", system="social_insurance", operation="lookup",
                                             dossier_id="D2", data={}, requested_at=at(4, 9)), "D2", at(4, 9))
    s.result("D2", at(5, 16), district, on_time=True)
    s.synced("D2", at(4, 9, 1), 60)
    s.intake(intake.SatisfactionRated(dossier_id="D2", score=4, rated_at=at(5, 17)), "D2", at(5, 17))

    land = "STNMT-BINHAN"
    s.submit("D3", procedure="9.000003", channel="online", agency=land, fee=100_000,
             documents=docs(3, digitized=1), when=at(4, 9), due=at(8, 17))
    s.intake(intake.FeePaid(dossier_id="D3", amount=100_000, method="cash", online=False, paid_at=at(4, 10)),
             "D3", at(4, 10))
    s.result("D3", at(11, 10), land, on_time=False, electronic=False)
    s.emit(registry.PortalSyncFailed(dossier_id="D3", code=s.codes["D3"], status_code=2, reason="portal down",
                                     failed_at=at(4, 9, 5)), "D3", at(4, 9, 5))
    s.intake(intake.SatisfactionRated(dossier_id="D3", score=2, complaint="Trả kết quả chậm",
                                      rated_at=at(11, 11)), "D3", at(11, 11))

    transport = "SGTVT-BINHAN"
    s.submit("D4", procedure="9.000004", channel="postal", agency=transport, fee=135_000,
             documents=docs(1, reused=1), when=at(4, 9), due=at(8, 17))
    s.flow(workflow.SupplementRequested, "D4", at(5, 9), transport, S.SUPPLEMENT_REQUESTED,
           reason="Thiếu giấy khám sức khỏe", request_number=1)
    health_check = Document(kind="giay_kham_suc_khoe", digitized=True, reused=False)  # the one asked for
    s.intake(intake.SupplementProvided(dossier_id="D4", documents=[health_check], provided_at=at(7, 8)), "D4",
             at(7, 8))
    s.flow(workflow.SupplementReceived, "D4", at(7, 9), transport, S.PROCESSING, paused_seconds=57_600,
           due_at=at(12, 17))
    s.flow(workflow.PaymentConfirmed, "D4", at(7, 10), transport, S.PROCESSING, amount=135_000, online=False)
    s.result("D4", at(11, 15), transport, on_time=True)
    s.synced("D4", at(4, 9, 2), 120)

    justice = "STP-BINHAN"
    s.submit("D5", procedure="9.000005", channel="online", agency=justice, fee=200_000,
             documents=docs(2, reused=2, national=1), when=at(4, 9), due=at(18, 17))
    s.intake(intake.FeePaid(dossier_id="D5", amount=200_000, method="card", online=True, paid_at=at(4, 9, 10)),
             "D5", at(4, 9, 10))
    s.flow(workflow.SupplementRequested, "D5", at(5, 9), justice, S.SUPPLEMENT_REQUESTED, reason="a",
           request_number=1)
    s.flow(workflow.SupplementReceived, "D5", at(6, 9), justice, S.PROCESSING, paused_seconds=28_800,
           due_at=at(19, 17))
    s.flow(workflow.SupplementRequested, "D5", at(7, 9), justice, S.SUPPLEMENT_REQUESTED, reason="b",
           request_number=2)
    s.flow(workflow.SupplementReceived, "D5", at(8, 9), justice, S.PROCESSING, paused_seconds=28_800,
           due_at=at(20, 17))
    s.result("D5", at(11, 10), justice, on_time=True)
    s.synced("D5", at(4, 9, 3), 45)

    s.submit("D6", procedure="1.000894", channel="counter", agency=commune, fee=0,
             documents=docs(1, digitized=0), when=at(4, 9), due=at(5, 17))
    s.intake(intake.WithdrawalRequested(dossier_id="D6", reason="Đổi ý", requested_at=at(5, 8)), "D6", at(5, 8))
    s.flow(workflow.WithdrawalAccepted, "D6", at(5, 9), commune, S.RETURNED, reason="Đổi ý")
    s.synced("D6", at(4, 9, 4), 15)
    s.intake(intake.SatisfactionRated(dossier_id="D6", score=1, rated_at=at(5, 10)), "D6", at(5, 10))

    police = "CA-X-YENHOA"
    s.submit("D7", procedure="1.004222", channel="online", agency=police, fee=20_000,
             documents=docs(2, reused=1), when=at(4, 9), due=at(6, 17), bundle="B1")  # B1's second step
    s.flow(workflow.SupplementRequested, "D7", at(5, 9), police, S.SUPPLEMENT_REQUESTED, reason="c",
           request_number=1)
    s.flow(workflow.WithdrawalAccepted, "D7", at(11, 9), police, S.RETURNED, reason="Không bổ sung được")
    s.emit(registry.RegistryCommandRequested(command_id="c7", system="population_db", operation="lookup",
                                             dossier_id="D7", data={}, requested_at=at(4, 9)), "D7", at(4, 9))

    construction = "SXD-BINHAN"
    s.submit("D8", procedure="9.000006", channel="counter", agency=construction, fee=75_000,
             documents=docs(2), when=at(4, 9), due=at(7, 17))
    s.intake(intake.FeePaid(dossier_id="D8", amount=75_000, method="e_wallet", online=True, paid_at=at(4, 9)),
             "D8", at(4, 9))
    s.flow(workflow.DossierOverdue, "D8", at(7, 17), construction, S.PROCESSING, due_at=at(7, 17))
    s.synced("D8", at(4, 9, 10), 600)
    s.intake(intake.SatisfactionRated(dossier_id="D8", score=5, rated_at=at(6, 10)), "D8", at(6, 10))

    s.submit("D9", procedure="9.000007", channel="online", agency="CA-T-BINHAN", fee=50_000,
             documents=docs(1), when=at(25, 9), due=at(3, 17, month=4))

    s.submit("D10", procedure="9.000001", channel="online", agency="UBND-X-YENHOA", fee=0,
             documents=docs(1), when=at(4, 8), due=None, registered=True)
    s.flow(workflow.DossierRefused, "D10", at(4, 14), commune, S.REFUSED, reason="Không thuộc thẩm quyền")
    s.synced("D10", at(4, 14, 1), 30)

    s.submit("D11", procedure="1.003197", channel="online", agency=police, fee=0,
             documents=docs(1, reused=1, national=1), when=at(29, 16), due=None, registered=True)
    s.flow(workflow.AcceptanceOverdue, "D11", at(1, 16, month=4), police, S.REGISTERED,
           deadline=at(1, 16, month=4))

    steps = [intake.BundleStep(step_id="birth", procedure_code="1.001193", dossier_id="B1-1", code="x")]
    s.emit(intake.BundleSubmitted(bundle_id="B1", bundle_type="birth", catalogue_version="test", channel="online",
                                  receiving_agency=commune, applicant=APPLICANT, form={}, steps=steps,
                                  submitted_at=at(4, 9)), "B1", at(4, 9))
    s.emit(workflow.BundleStepStarted(bundle_id="B1", bundle_type="birth", at=at(4, 9), step_id="birth",
                                      dossier_id="B1-1", inputs={}), "B1", at(4, 9))
    s.emit(workflow.BundleCompleted(bundle_id="B1", bundle_type="birth", at=at(6, 11, 30), results={}), "B1",
           at(6, 11, 30))
    s.emit(intake.BundleSubmitted(bundle_id="B2", bundle_type="death", catalogue_version="test", channel="counter",
                                  receiving_agency=commune, applicant=APPLICANT, form={}, steps=steps,
                                  submitted_at=at(5, 16)), "B2", at(5, 16))
    s.emit(workflow.BundlePartiallyCompleted(bundle_id="B2", bundle_type="death", at=at(7, 11, 30),
                                             failed_step="funeral_allowance", reason="not insured",
                                             completed_steps=["death"]), "B2", at(7, 11, 30))
    return s
# fmt: on


#: Hand-computed, for period 2024-03 (from 2024-03-01 to 2024-03-31), whole province.
EXPECTED = {
    "received": 11,
    "by_channel": {"online": 7, "counter": 3, "postal": 1},
    "online_rate": 7 / 11,
    "resolved": 8,
    "early": 3,  # D2, D4 (thanks to the pause), D7 (clock stopped at the supplement request)
    "on_time": 3,  # D1, D6, D10
    "overdue": 2,  # D3 (flag), D5 (second supplement request)
    "on_time_rate": 6 / 8,
    "by_end": {"processed": 5, "refused": 1, "withdrawn": 2, "stopped": 0},
    # D1 0.125 + D2 1.6875 + D3 5.125 + D4 3.5625 + D5 3.125 + D6 1.0 + D7 1.0 (D10 was never received)
    "average_working_days": 15.625 / 7,
    "in_progress": 2,  # D8, D9
    "overdue_in_progress": 1,  # D8
    "awaiting_reception": 1,  # D11
    # D2 D3 D4 D5 D8 D9; zero-fee D1 D6 D10 D11 excluded, and D7, withdrawn unpaid: it owed nothing
    "with_obligation": 6,
    "zero_fee": 4,
    "paid": 5,
    "paid_online": 3,  # D2 D5 D8
    "online_payment_rate": 3 / 6,
    "rated": 4,  # D1 5, D2 4, D3 2 + complaint, D6 1; D8's rating is not in the resolved cohort
    "average_score": 3.0,
    "satisfied": 2,
    "complaints": 2,  # D3 (complaint), D6 (score 1 = dislike)
    "documents": 19,
    "documents_digitised": 16,
    "documents_reused": 6,
    "documents_national_store": 3,
    "dossiers_fully_digitised": 9,
    "electronic_results": 4,  # D3's result is on paper
    "population_data_used": 2,
    "synced": 7,
    "syncs": 8,
    "sync_failures": 1,
    "average_lag_seconds": 990 / 8,
    "max_lag_seconds": 600.0,
    "bundles_started": 2,
    "bundles_completed": 1,
    "bundles_partial": 1,
    # birth: Mon 09:00 → Wed 11:30 = 18.5 h; death: Tue 16:00 (after 15:00: counts from Wed 07:30) → Thu 11:30 = 12 h
    "bundle_e2e_days": (18.5 / 8 + 12 / 8) / 2,
    "bundle_e2e_hours": (50.5 + 43.5) / 2,
}

#: Index points for 2024-03 with the packaged configuration, by hand (catalogue: 13 of 15 procedures
#: online, 7 of 8 fee-bearing procedures online).
EXPECTED_POINTS = {
    "publicity": 8 + 10 * 7 / 11,
    "progress": 20 * 0.75,
    "online_service": 6 + 6,
    "online_payment": 2 + 2 * (3 / 6) / 0.8 + 6 * 3 / 6,  # fee procedures used: D7's owed nothing
    "satisfaction": 18 * (1 - 2 / 8 - 2 / 8) / 0.9,
    "digitisation": 4 * 0.8 + 6 + 6 * (6 / 19) / 0.8 + 3 * 3 / 19 + 3 * 2 / 11,
}

"""Builders of the events registry-sync consumes, as intake and workflow publish them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from contracts.envelope import Envelope, EventPayload
from contracts.events.common import Applicant, Document, DossierStatus
from contracts.events.intake import DossierSubmitted
from contracts.events.registry import RegistryCommandRequested
from contracts.events.workflow import DossierReceived, ResultIssued, ResultReturned

T0 = datetime(2024, 7, 10, 1, 30, tzinfo=UTC)  # 08:30 in Vietnam


def wrap(payload: EventPayload, key: str, producer: str = "tests") -> Envelope:
    return Envelope.wrap(payload, key=key, producer=producer, correlation_id=f"corr-{key}")


def submitted(dossier_id: str, code: str, *, at: datetime = T0, channel: str = "online", fee: int = 0) -> Envelope:
    return wrap(
        DossierSubmitted(
            dossier_id=dossier_id,
            code=code,
            procedure_code="1.004222",
            catalogue_version="test",
            channel=channel,  # type: ignore[arg-type]
            receiving_agency="CA-X-ANPHU",
            competent_agency="CA-X-ANPHU",
            applicant=Applicant(id_number="036190001234", full_name="Trần Thị Bình"),
            form={},
            documents=[Document(kind="to_khai_thay_doi_thong_tin_cu_tru", digitized=True, reused=False)],
            fee=fee,
            status=DossierStatus.REGISTERED,
            submitted_at=at,
            received_at=None,
            due_at=None,
        ),
        dossier_id,
        "intake",
    )


def lifecycle(dossier_id: str, code: str, at: datetime, **fields: Any) -> dict[str, Any]:
    status: DossierStatus = fields.pop("status")
    return {
        "dossier_id": dossier_id,
        "code": code,
        "status": status,
        "status_code": status.code,
        "at": at,
        "agency": "CA-X-ANPHU",
        **fields,
    }


def received(dossier_id: str, code: str, *, at: datetime = T0 + timedelta(hours=1)) -> Envelope:
    payload = DossierReceived(
        **lifecycle(dossier_id, code, at, status=DossierStatus.RECEIVED, official_id="Nguyễn Thị Lan"),
        procedure_code="1.004222",
        due_at=at + timedelta(days=2),
    )
    return wrap(payload, dossier_id, "workflow")


def result_issued(dossier_id: str, code: str, *, at: datetime = T0 + timedelta(days=1)) -> Envelope:
    payload = ResultIssued(
        **lifecycle(dossier_id, code, at, status=DossierStatus.PROCESSED),
        result_code=f"{code}-KQ1",
        document_name="Thông báo kết quả đăng ký thường trú",
        data={},
        on_time=True,
    )
    return wrap(payload, dossier_id, "workflow")


def returned(dossier_id: str, code: str, *, at: datetime = T0 + timedelta(days=2)) -> Envelope:
    return wrap(
        ResultReturned(**lifecycle(dossier_id, code, at, status=DossierStatus.RETURNED)), dossier_id, "workflow"
    )


def command(
    command_id: str,
    dossier_id: str,
    data: dict[str, Any],
    *,
    system: str = "population_db",
    operation: str = "register_permanent_residence",
) -> Envelope:
    payload = RegistryCommandRequested(
        command_id=command_id,
        system=system,  # type: ignore[arg-type]
        operation=operation,
        dossier_id=dossier_id,
        data=data,
        requested_at=T0,
    )
    return wrap(payload, dossier_id, "workflow")

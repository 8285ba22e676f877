"""What a successful submission answers: the receipt (giấy tiếp nhận và hẹn trả kết quả) as data.

Receipts are stored as JSON with an Idempotency-Key, so a retried request gets the very same answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from workcal import vietnam_tz


def _iso(value: datetime | None) -> str | None:
    """Vietnam time with its offset: what the citizen's appointment slip shows."""
    return value.astimezone(vietnam_tz()).isoformat() if value else None


@dataclass(frozen=True)
class DossierReceipt:
    dossier_id: str
    code: str
    procedure_code: str
    status: str
    status_code: int
    competent_agency: str
    submitted_at: datetime
    received_at: datetime | None
    due_at: datetime | None
    step_id: str | None = None
    result_delivery: str = "counter"

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "dossier_id": self.dossier_id,
            "code": self.code,
            "procedure_code": self.procedure_code,
            "status": self.status,
            "status_code": self.status_code,
            "competent_agency": self.competent_agency,
            "submitted_at": _iso(self.submitted_at),
            "received_at": _iso(self.received_at),
            "due_at": _iso(self.due_at),
            "result_delivery": self.result_delivery,
        }
        if self.step_id is not None:
            body["step_id"] = self.step_id
        return body


@dataclass(frozen=True)
class BundleReceipt:
    bundle_id: str
    bundle_type: str
    submitted_at: datetime
    due_at: datetime | None
    dossiers: list[DossierReceipt]

    def as_dict(self) -> dict[str, Any]:
        return {
            "bundle_id": self.bundle_id,
            "bundle_type": self.bundle_type,
            "submitted_at": _iso(self.submitted_at),
            "due_at": _iso(self.due_at),
            "dossiers": [d.as_dict() for d in self.dossiers],
        }


@dataclass(frozen=True)
class ActionReceipt:
    """The event a citizen action appended."""

    event_id: str
    event_type: str
    dossier_id: str
    code: str
    at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "dossier_id": self.dossier_id,
            "code": self.code,
            "at": _iso(self.at),
        }

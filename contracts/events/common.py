"""Value types several topics share."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class DossierStatus(StrEnum):
    """The national lifecycle a portal sync uses; ``code`` is its 1–10 status code."""

    REGISTERED = "registered"
    RECEIVED = "received"
    REFUSED = "refused"
    PROCESSING = "processing"
    SUPPLEMENT_REQUESTED = "supplement_requested"
    PAYMENT_REQUESTED = "payment_requested"
    WITHDRAWAL_REQUESTED = "withdrawal_requested"
    STOPPED = "stopped"
    PROCESSED = "processed"
    RETURNED = "returned"

    @property
    def code(self) -> int:
        return list(DossierStatus).index(self) + 1

    @property
    def name_vi(self) -> str:
        """The status as citizens read it."""
        return _STATUS_NAMES_VI[self]


_STATUS_NAMES_VI = {
    DossierStatus.REGISTERED: "mới đăng ký",
    DossierStatus.RECEIVED: "đã tiếp nhận",
    DossierStatus.REFUSED: "từ chối tiếp nhận",
    DossierStatus.PROCESSING: "đang xử lý",
    DossierStatus.SUPPLEMENT_REQUESTED: "yêu cầu bổ sung",
    DossierStatus.PAYMENT_REQUESTED: "chờ thực hiện nghĩa vụ tài chính",
    DossierStatus.WITHDRAWAL_REQUESTED: "đã rút hồ sơ",
    DossierStatus.STOPPED: "dừng xử lý",
    DossierStatus.PROCESSED: "đã có kết quả",
    DossierStatus.RETURNED: "đã trả kết quả",
}


Channel = Literal["online", "counter", "postal"]

#: How the citizen receives the result, chosen at submission: at the counter that received the
#: dossier, by public postal service (bưu chính công ích), or online (the electronic result sent to
#: the citizen's account on the portal as soon as it is issued).
ResultDelivery = Literal["counter", "postal", "online"]


class Frozen(BaseModel):
    """Base of nested value objects in events."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Applicant(Frozen):
    """The person submitting a dossier. Personal data: never logged in clear."""

    id_number: str = Field(description="12-digit personal identification number.")
    full_name: str = Field(description="Full name, with Vietnamese diacritics.")
    phone: str | None = Field(default=None, description="Contact phone number (this platform sends no SMS itself).")
    email: str | None = Field(default=None, description="E-mail address for notifications.")


class Document(Frozen):
    """A document component of a dossier."""

    kind: str = Field(description="Document kind code from the procedure's required documents.")
    digitized: bool = Field(description="Stored electronically (số hóa).")
    reused: bool = Field(description="Taken from data the citizen already supplied (not re-entered).")
    from_national_store: bool = Field(
        default=False, description="Taken from the citizen's national document store."
    )


class Delivery(Frozen):
    """How the result reaches the citizen."""

    method: ResultDelivery = Field(default="counter", description="counter, postal or online.")
    address: str | None = Field(
        default=None, description="postal: the address the result is posted to. Personal data: never logged."
    )

"""The words citizens read for the codes events carry.

A dossier's history is shown in two places: intake's view (the timeline) and the national portal
(the history lines registry-sync sends). Both start a line with the event's name below, so a citizen
reads the same words for the same step wherever they look; each adds its own details after a colon.
"""

from __future__ import annotations

#: What happened, by event type: the head of a history line.
EVENT_NAMES: dict[str, str] = {
    # workflow: the dossier's lifecycle
    "DossierSubmitted": "Nộp hồ sơ",
    "DossierReceived": "Tiếp nhận hồ sơ",
    "DossierRefused": "Từ chối tiếp nhận hồ sơ",
    "DossierStepStarted": "Bắt đầu bước xử lý",
    "SupplementRequested": "Yêu cầu bổ sung hồ sơ",
    "SupplementReceived": "Đã nhận hồ sơ bổ sung",
    "PaymentRequested": "Thông báo nghĩa vụ tài chính",
    "PaymentConfirmed": "Đã hoàn thành nghĩa vụ tài chính",
    "WithdrawalAccepted": "Chấp nhận rút hồ sơ",
    "WithdrawalRefused": "Không chấp nhận rút hồ sơ",
    "DossierStopped": "Dừng xử lý hồ sơ",
    "DossierForwarded": "Chuyển hồ sơ",
    "ResultIssued": "Có kết quả giải quyết",
    "ResultReturned": "Đã trả kết quả",
    "DossierOverdue": "Hồ sơ quá hạn",
    "AcceptanceOverdue": "Quá hạn tiếp nhận hồ sơ trực tuyến",
    "ApologyLetterIssued": "Văn bản xin lỗi và hẹn lại ngày trả kết quả",
    # intake: what the citizen did
    "SupplementProvided": "Công dân nộp bổ sung hồ sơ",
    "FeePaid": "Công dân nộp phí, lệ phí",
    "SatisfactionRated": "Công dân đánh giá mức độ hài lòng",
    "WithdrawalRequested": "Công dân yêu cầu rút hồ sơ",
    # registry-sync: the national systems
    "RegistryCommandSucceeded": "Hệ thống quốc gia đã xử lý",
    "RegistryCommandFailed": "Hệ thống quốc gia không xử lý được",
}

#: A payment workflow acknowledged that leaves the dossier still awaiting payment (status 6) paid a
#: part: "completed" contradicted what the citizen still owes.
PART_PAYMENT = "Đã nộp một phần nghĩa vụ tài chính"


def vnd(amount: int) -> str:
    """``1.500.000 đồng``: an amount as Vietnamese write it, thousands grouped with dots."""
    return f"{amount:,} đồng".replace(",", ".")


def event_name(event_type: str, status: str | None = None, outstanding: int | None = None) -> str:
    """The head of a history line for an event that left the dossier in ``status``; a payment with
    ``outstanding`` still owed after it (from events that say; else by the status) paid a part."""
    if event_type == "PaymentConfirmed" and (
        outstanding > 0 if outstanding is not None else status == "payment_requested"
    ):
        return PART_PAYMENT
    return EVENT_NAMES.get(event_type, event_type)


#: Processing steps (``DossierStepStarted.step``).
STEP_NAMES: dict[str, str] = {
    "processing": "giải quyết hồ sơ",
    "reception": "tiếp nhận hồ sơ",
    "verification": "xác minh hồ sơ",
}

#: The national systems registry-sync works with (``ExternalSystem``).
SYSTEM_NAMES: dict[str, str] = {
    "population_db": "Cơ sở dữ liệu quốc gia về dân cư",
    "civil_status": "Cơ sở dữ liệu hộ tịch điện tử",
    "social_insurance": "Bảo hiểm xã hội Việt Nam",
    "social_welfare": "Hệ thống thông tin bảo trợ xã hội",
    "national_portal": "Cổng Dịch vụ công quốc gia",
}

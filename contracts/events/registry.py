"""Commands on ``registry.commands`` (written by workflow) and outcomes on ``registry.events``
(written by registry-sync). Keyed by dossier id.

Commands are data-driven: the bundle definitions name the external system and operation, so a
new linked procedure needs no new message type.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from contracts.envelope import EventPayload

ExternalSystem = Literal["population_db", "civil_status", "social_insurance", "social_welfare", "national_portal"]


class RegistryCommandRequested(EventPayload):
    """Workflow asks registry-sync to have an external national system do something."""

    event_type = "RegistryCommandRequested"
    topic_role = "registry_commands"

    command_id: str = Field(description="Unique id; also the idempotency key towards the external system.")
    system: ExternalSystem = Field(description="Which external system.")
    operation: str = Field(description="Operation name, e.g. 'register_permanent_residence'.")
    dossier_id: str = Field(description="The dossier the work is for.")
    bundle_id: str | None = Field(default=None, description="Its bundle, if any.")
    step_id: str | None = Field(default=None, description="Its bundle step, if any.")
    data: dict[str, Any] = Field(description="Operation input.")
    requested_at: datetime = Field(description="When workflow asked.")
    dossier_code: str | None = Field(default=None, description="Code of the dossier, for the external record.")
    procedure_code: str | None = Field(default=None, description="Procedure the dossier is for.")
    agency: str | None = Field(default=None, description="Code of the agency competent for the dossier.")


class RegistryEvent(EventPayload):
    topic_role = "registry_events"


class RegistryCommandSucceeded(RegistryEvent):
    """The external system did it."""

    event_type = "RegistryCommandSucceeded"

    command_id: str = Field(description="The command.")
    system: ExternalSystem = Field(description="Which external system.")
    operation: str = Field(description="Operation name.")
    dossier_id: str = Field(description="The dossier.")
    result: dict[str, Any] = Field(description="What the system returned, e.g. card_number.")
    attempts: int = Field(description="Calls it took.", ge=1)
    completed_at: datetime = Field(description="When it succeeded.")
    bundle_id: str | None = Field(default=None, description="The command's bundle, if any.")
    step_id: str | None = Field(default=None, description="The command's bundle step, if any.")


class RegistryCommandFailed(RegistryEvent):
    """The external system refused it, or it could not be done."""

    event_type = "RegistryCommandFailed"

    command_id: str = Field(description="The command.")
    system: ExternalSystem = Field(description="Which external system.")
    operation: str = Field(description="Operation name.")
    dossier_id: str = Field(description="The dossier.")
    reason: str = Field(
        description="Why, for operators: the system's answer ('409 card_exists: <its message>', 12-digit"
        " identification numbers masked) or what we concluded, in English. Citizens are told the cause"
        " in Vietnamese from 'error' instead: the answer can carry a card number or another person's.",
    )
    attempts: int = Field(description="Calls made.", ge=0)
    failed_at: datetime = Field(description="When we gave up.")
    bundle_id: str | None = Field(default=None, description="The command's bundle, if any.")
    step_id: str | None = Field(default=None, description="The command's bundle step, if any.")
    http_status: int | None = Field(
        default=None,
        description="HTTP status of the system's last answer, if it answered (e.g. 409, 422; a 2xx for"
        " 'result_too_large' and 'incomplete_result').",
    )
    error: str | None = Field(
        default=None,
        description="Machine-readable cause: the system's error code (e.g. 'card_exists'), 'missing_data', "
        "'unsupported_operation', 'gave_up' (retries exhausted), 'result_too_large' (the system answered"
        " success with more result data than an event carries: it may have acted) or 'incomplete_result' (it"
        " answered success without what the write made, or with a malformed identification number).",
    )

    @property
    def reason_vi(self) -> str:
        """The reason as a citizen reads it on their dossier (the timeline, the stop reason on form 05,
        the bundle's reason): the cause named by ``error``, in Vietnamese, never ``reason`` itself. Told
        as ``reason``, our own causes read 'gave up after 6 attempts: timeout: ReadTimeout' and a
        system's refusal '409 card_exists: the child already holds card TE1791234567890', the card
        number shown to anyone with the dossier code."""
        cause = _CAUSES_VI.get(self.error or "") or _REFUSALS_VI.get(self.error or "", _REFUSED_VI)
        field = self.reason.split(":", 1)[0] if self.error == "missing_data" else ""
        named = f" ({field.removeprefix('data.')})" if field.startswith("data.") else ""
        return cause.format(attempts=self.attempts) + named  # the field the official has to have supplied


#: What the citizen is told for the causes registry-sync concludes itself.
_CAUSES_VI = {
    "gave_up": "hệ thống không phản hồi sau {attempts} lần gửi yêu cầu",
    "missing_data": "thiếu dữ liệu cần thiết để hệ thống thực hiện",
    "unsupported_operation": "hệ thống không hỗ trợ yêu cầu này",
    "result_too_large": "kết quả hệ thống trả về không hợp lệ",
    "incomplete_result": "kết quả hệ thống trả về không đầy đủ",
}

#: What the citizen is told for a national system's refusal, by its error code (the codes the systems
#: answer with: see registry-sync's registry_sim). The system's message is not told: it is in English
#: and names numbers (the card the child holds, the person another number belongs to).
_REFUSALS_VI = {
    "validation_failed": "hệ thống không chấp nhận dữ liệu của hồ sơ",
    "inconsistent_id_number": "số định danh cá nhân không khớp với giới tính, năm sinh hoặc nơi đăng ký khai sinh",
    "not_found": "hệ thống không tìm thấy thông tin tương ứng",
    "citizen_exists": "số định danh cá nhân đã được cấp cho người khác",
    "citizen_deceased": "công dân đã được ghi nhận là đã chết",
    "no_permanent_residence": "công dân chưa đăng ký thường trú",
    "death_already_registered": "việc khai tử đã được đăng ký trước đó",
    "card_exists": "trẻ đã được cấp thẻ bảo hiểm y tế",
    "already_paid": "trợ cấp mai táng đã được chi trả trước đó",
    "already_granted": "hỗ trợ chi phí mai táng đã được giải quyết trước đó",
}
#: A refusal with a code we do not know, or none (an answer with no error body).
_REFUSED_VI = "hệ thống từ chối thực hiện yêu cầu"


class PortalSyncSucceeded(RegistryEvent):
    """The national portal has the dossier in this state."""

    event_type = "PortalSyncSucceeded"

    dossier_id: str = Field(description="The dossier.")
    code: str = Field(description="Dossier code.")
    status_code: int = Field(description="Status synchronised.", ge=1, le=10)
    operation: Literal["create", "update"] = Field(description="Created on the portal or updated.")
    lag_seconds: float = Field(
        description="From the oldest change the portal did not have (the state change, or an earlier one"
        " still unsynced) to the portal's acknowledgement.",
        ge=0,
    )
    synced_at: datetime = Field(description="When the portal acknowledged.")
    portal_revision: int | None = Field(
        default=None, description="The portal's revision of the dossier after this write, if it said.", ge=1
    )
    repush: bool = Field(
        default=False, description="Pushed again by reconciliation (the portal had lost it or held an older state)."
    )


class PortalSyncFailed(RegistryEvent):
    """A state change could not be synchronised (yet); reconciliation will retry."""

    event_type = "PortalSyncFailed"

    dossier_id: str = Field(description="The dossier.")
    code: str = Field(description="Dossier code.")
    status_code: int = Field(description="Status that failed to sync.", ge=1, le=10)
    reason: str = Field(description="Why.")
    failed_at: datetime = Field(description="When.")
    attempts: int | None = Field(default=None, description="Calls made for this state before giving up.", ge=0)
    http_status: int | None = Field(
        default=None, description="HTTP status of the portal's last answer, if it answered (e.g. 422)."
    )

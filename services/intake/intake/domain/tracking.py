"""The citizen's view of a dossier, as changes derived from events.

Intake's own events change the view in the transaction that records them (the citizen sees the
receipt at once); workflow's and registry-sync's arrive through consumers. Either way an event
becomes a :class:`DossierChange`, which the repository applies. Status is the workflow's: intake
only reports what workflow decided, except for the status a dossier is submitted in.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from contracts import citizen_id
from contracts.envelope import EventPayload
from contracts.events import intake, registry, workflow
from contracts.events.common import DossierStatus
from contracts.events.vocabulary import STEP_NAMES, SYSTEM_NAMES, event_name, vnd

#: A dossier in one of these has ended (766 rules: processed, returned, refused, stopped or withdrawn);
#: it no longer blocks a new dossier for the same subject.
ENDED = frozenset(
    {
        DossierStatus.REFUSED,
        DossierStatus.STOPPED,
        DossierStatus.PROCESSED,
        DossierStatus.RETURNED,
        DossierStatus.WITHDRAWAL_REQUESTED,  # the status a withdrawal workflow accepted leaves
    }
)

# The timeline is read by citizens: each line starts with the event's name (the words the national
# portal's history uses too), its details after. Verification moves the appointment to the law's limit.
_STEP_NOTES = {"verification": "hẹn trả theo thời hạn xác minh"}
_OVERDUE_REASONS = {
    "deadline_passed": "đã quá ngày hẹn trả kết quả",
    "second_supplement_request": "yêu cầu bổ sung hồ sơ lần thứ hai",  # counted as overdue (766 rules)
}
_DELIVERIES = {"counter": "tại bộ phận một cửa", "postal": "qua bưu chính công ích", "online": "trực tuyến"}
_PAYMENT_METHODS = {
    "qr": "mã QR",
    "bank_transfer": "chuyển khoản",
    "card": "thẻ ngân hàng",
    "e_wallet": "ví điện tử",
    "cash": "tiền mặt",
}


@dataclass(frozen=True)
class TimelineEntry:
    """One line of the citizen's timeline."""

    at: datetime
    event: str
    status: DossierStatus | None = None
    agency: str | None = None
    official_id: str | None = None
    detail: str | None = None
    outstanding: int | None = None  # a payment's: what is still owed after it

    def as_dict(self) -> dict[str, Any]:
        note = event_name(self.event, self.status.value if self.status else None, self.outstanding)
        return {
            "at": self.at.isoformat(),
            "event": self.event,
            "status": self.status.value if self.status else None,
            "status_code": self.status.code if self.status else None,
            "agency": self.agency,
            "official_id": self.official_id,
            "note": f"{note}: {self.detail}" if self.detail else note,
        }


@dataclass(frozen=True)
class DossierChange:
    """What one event changes in the view; None leaves a value as it is."""

    dossier_id: str
    timeline: TimelineEntry | None = None
    status: DossierStatus | None = None
    # (agency, official id): who holds the dossier now; a None official on the same agency keeps the
    # previous one (timer events name no official), a new agency or a ``handover`` clears it.
    handler: tuple[str, str | None] | None = None
    #: The dossier passes on (a forward, a new step): the official who had it holds it no more.
    handover: bool = False
    received_at: datetime | None = None
    due_at: datetime | None = None
    overdue: bool | None = None
    awaiting_supplement: bool | None = None
    #: The kinds the pending supplement request names (empty: none pending or named); None: as it is.
    requested_documents: tuple[str, ...] | None = None
    result: dict[str, Any] | None = None
    paid: int = 0
    requested: int = 0  # a payment request's amount (workflow's PaymentRequested)
    rating: int | None = None
    withdrawal_requested: bool | None = None
    step_started_at: datetime | None = None
    portal_sync: dict[str, Any] | None = None
    #: When workflow's event left the dossier in ``status`` (workflow's changes only): a later-applied
    #: change older than the state shown is late (see :func:`as_applied`).
    state_at: datetime | None = None

    @property
    def ends(self) -> bool:
        return self.status in ENDED


@dataclass(frozen=True, slots=True)
class Shown:
    """What a dossier's view shows of workflow's events: the state the latest left it in (when, and
    its status code), and when the appointment shown was set (``due_at_at``)."""

    state_at: datetime | None
    status_code: int | None
    due_at_at: datetime | None = None

    def after(self, change: DossierChange, *, due_applies: bool) -> Shown:
        """What the view shows once ``change`` (as :func:`as_applied` made it) applied."""
        state_at, code = self.state_at, self.status_code
        if change.state_at is not None and change.status is not None:  # as_applied drops a late one's status
            state_at, code = change.state_at, change.status.code
        due_at_at = self.due_at_at
        if due_applies and change.due_at is not None and change.state_at is not None:
            due_at_at = change.state_at if due_at_at is None else max(due_at_at, change.state_at)
        return Shown(state_at, code, due_at_at)


def as_applied(change: DossierChange, shown: Shown) -> DossierChange:
    """``change`` as it applies to a dossier whose view shows ``shown``.

    Events of one dossier come in order, except one replayed from the dead-letter topic after its
    successors. Older than the state shown, it adds what adds up (its timeline line, a result, an
    amount asked for) and sets what no newer event has: the appointment, unless a newer event set the
    one shown; the overdue flag, which only ever goes on; a withdrawal's refusal, which answers the one
    request the citizen can have pending. It leaves the status, the holder and the supplement awaited
    as they are. Applied as it came, a payment request replayed after the result was returned showed
    the dossier waiting for payment, open to withdrawal, and a reminder replayed after an apology letter
    put the missed appointment back. Workflow writes some events in pairs with one time (received and
    started; issued and returned online): the earlier of a pair, replayed after the later, leads to the
    earlier status, so it is late too."""
    if change.state_at is None or shown.state_at is None:
        return change
    earlier_of_pair = change.state_at == shown.state_at and change.status is not None and (
        shown.status_code is not None and change.status.code < shown.status_code
    )
    if change.state_at > shown.state_at or (change.state_at == shown.state_at and not earlier_of_pair):
        return change
    newer_date = shown.due_at_at is not None and shown.due_at_at >= change.state_at
    return replace(
        change, status=None, handler=None, handover=False, awaiting_supplement=None, requested_documents=None,
        withdrawal_requested=False if change.withdrawal_requested is False else None,
        due_at=None if newer_date else change.due_at,
    )  # fmt: skip


def public_result_data(data: dict[str, Any]) -> dict[str, str]:
    """What of a result's data the citizen's view may show. Anyone who has a dossier code can read
    the view, so only the identification numbers the result issued appear, masked (the citizen
    recognises the child's new number by its ends); the rest (addresses, card and decision numbers,
    amounts) is on the result document itself."""
    return {
        name: citizen_id.mask(value)
        for name, value in data.items()
        # By the field, not by the look of its value: a licence's 12 digits often parse as an
        # identification number, and showed (masked) where no licence number belongs.
        if name.endswith("id_number") and isinstance(value, str) and citizen_id.is_valid(value)
    }


def _detail(event: workflow.DossierEvent) -> str | None:
    if isinstance(event, workflow.SupplementRequested) and event.documents:
        return f"{event.reason} (cần bổ sung: {'; '.join(d.name for d in event.documents)})"
    if isinstance(event, workflow.DossierStepStarted):
        step = ", ".join(filter(None, (STEP_NAMES.get(event.step, event.step), _STEP_NOTES.get(event.step))))
        return f"{step}: {event.reason}" if event.reason else step
    if isinstance(event, workflow.PaymentRequested):
        return vnd(event.amount)
    if isinstance(event, workflow.ResultReturned):
        return _DELIVERIES.get(event.delivery) if event.delivery else None
    if isinstance(event, workflow.PaymentConfirmed):
        if event.refund_due:
            return f"hồ sơ đã kết thúc, {vnd(event.amount)} được hoàn trả cho công dân"
        return vnd(event.amount)
    if isinstance(event, workflow.DossierOverdue):
        return _OVERDUE_REASONS.get(event.reason, event.reason) if event.reason else None
    for name in ("reason", "document_name"):
        value = getattr(event, name, None)
        if value:
            return str(value)
    return None


def workflow_change(event: workflow.DossierEvent) -> DossierChange:
    """The change a dossier lifecycle event brings: every one carries the status it leaves."""
    due = getattr(event, "due_at", None)
    if isinstance(event, workflow.ApologyLetterIssued):
        due = event.new_due_at
    result = None
    if isinstance(event, workflow.ResultIssued):
        result = {"result_code": event.result_code, "document_name": event.document_name,
                  "issued_at": event.at.isoformat(), "on_time": event.on_time,
                  "data": public_result_data(event.data)}
    quiet = isinstance(event, workflow.DossierDueSoon)  # a reminder for officials, not a step for the citizen
    requested = event.amount if isinstance(event, workflow.PaymentRequested) else 0
    return DossierChange(
        dossier_id=event.dossier_id,
        timeline=None if quiet else TimelineEntry(
            event.at, event.event_type, event.status, event.agency, event.official_id, _detail(event),
            getattr(event, "outstanding", None),
        ),
        status=event.status,
        # A forward names the official who sent it, not one of the agency it went to.
        handler=(event.agency, None if isinstance(event, workflow.DossierForwarded) else event.official_id),
        # The reception clerk who accepted it went on being named as its holder through processing.
        handover=isinstance(event, workflow.DossierForwarded | workflow.DossierStepStarted),
        received_at=event.at if isinstance(event, workflow.DossierReceived) else None,
        due_at=due,
        overdue=True if isinstance(event, workflow.DossierOverdue) else None,
        awaiting_supplement=_awaiting(event),
        requested_documents=_requested_documents(event),
        result=result,
        requested=requested,
        state_at=event.at,
        # Refused (a registry at work, or the result issued first): the citizen may pay, supplement
        # and ask again. Kept, the request blocked all three for good.
        withdrawal_requested=False if isinstance(event, workflow.WithdrawalRefused) else None,
    )


def _requested_documents(event: workflow.DossierEvent) -> tuple[str, ...] | None:
    if isinstance(event, workflow.SupplementRequested):
        return tuple(sorted({d.kind for d in event.documents}))
    return () if _awaiting(event) is False else None


def _awaiting(event: workflow.DossierEvent) -> bool | None:
    if isinstance(event, workflow.SupplementRequested):
        return True
    if isinstance(event, workflow.SupplementReceived) or event.status in ENDED:
        return False  # an ended dossier (stopped or withdrawn while waiting) awaits nothing
    return None


def registry_change(event: EventPayload) -> DossierChange | None:
    """Outcomes of national-registry calls go on the timeline; portal sync is shown as its own field."""
    if isinstance(event, registry.RegistryCommandSucceeded):
        detail = SYSTEM_NAMES.get(event.system, event.system)
        return DossierChange(event.dossier_id, TimelineEntry(event.completed_at, event.event_type, detail=detail))
    if isinstance(event, registry.RegistryCommandFailed):
        detail = f"{SYSTEM_NAMES.get(event.system, event.system)}: {event.reason_vi}"
        return DossierChange(event.dossier_id, TimelineEntry(event.failed_at, event.event_type, detail=detail))
    if isinstance(event, registry.PortalSyncSucceeded):
        sync = {"synced": True, "status_code": event.status_code, "at": event.synced_at.isoformat(), "error": None}
        return DossierChange(event.dossier_id, portal_sync=sync)
    if isinstance(event, registry.PortalSyncFailed):
        sync = {"synced": False, "status_code": event.status_code, "at": event.failed_at.isoformat(),
                "error": event.reason}
        return DossierChange(event.dossier_id, portal_sync=sync)
    return None


def own_change(event: intake.IntakeEvent) -> DossierChange | None:
    """The timeline line (and counters) of a citizen action recorded by intake."""
    if isinstance(event, intake.SupplementProvided):
        entry = TimelineEntry(event.provided_at, event.event_type, detail=event.note)
        return DossierChange(event.dossier_id, entry, awaiting_supplement=False, requested_documents=())
    if isinstance(event, intake.FeePaid):
        detail = f"{vnd(event.amount)}, {_PAYMENT_METHODS.get(event.method, event.method)}"
        detail += ", trực tuyến" if event.online else ""
        return DossierChange(event.dossier_id, TimelineEntry(event.paid_at, event.event_type, detail=detail),
                             paid=event.amount)
    if isinstance(event, intake.SatisfactionRated):
        entry = TimelineEntry(event.rated_at, event.event_type, detail=f"{event.score}/5")
        return DossierChange(event.dossier_id, entry, rating=event.score)
    if isinstance(event, intake.WithdrawalRequested):
        entry = TimelineEntry(event.requested_at, event.event_type, detail=event.reason)
        return DossierChange(event.dossier_id, entry, withdrawal_requested=True)
    return None


def submitted_entry(event: intake.DossierSubmitted) -> TimelineEntry:
    """The first line of every timeline."""
    channel = {"online": "trực tuyến", "counter": "trực tiếp", "postal": "qua bưu chính"}[event.channel]
    return TimelineEntry(event.submitted_at, event.event_type, event.status, event.receiving_agency, detail=channel)

"""Registry-sync's own copy of what the national portal must know about a dossier, folded from
intake's and workflow's events. Registry-sync never reads another service's database, so this
copy is how it can send the portal the whole dossier on every update.

Folding is pure: ``apply_*`` take a record (or None) and an event and return the new record; a
record equal to the old one means there is nothing new to synchronise (and so does one the portal
would be sent the same for: ``adapters.portal.same_on_portal``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from contracts.events.common import Applicant, Channel, Document
from contracts.events.intake import BundleSubmitted, DossierSubmitted, FeePaid, SupplementProvided
from contracts.events.vocabulary import EVENT_NAMES, STEP_NAMES, event_name, vnd
from contracts.events.workflow import (
    ApologyLetterIssued,
    DossierEvent,
    DossierForwarded,
    DossierReceived,
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
from workcal import vietnam_tz

#: What a history line says after the event's name, for the events that carry more.
_DETAILS = {
    "DossierRefused": ": {reason}",
    "DossierStepStarted": ": {step}{because}",
    "SupplementRequested": " (lần {request_number}): {reason}",
    "PaymentRequested": ": {amount}",
    "PaymentConfirmed": ": {amount}",
    "WithdrawalAccepted": ": {reason}",
    "WithdrawalRefused": ": {reason}",
    "DossierStopped": ": {reason}",
    "DossierForwarded": " từ {from_agency} đến {agency}{because}",
    "ResultIssued": ": {document_name}",
    "ApologyLetterIssued": " {new_date}: {reason}",
}
#: Timer events: they change nothing the portal carries.
SILENT_EVENTS = frozenset({"DossierDueSoon", "DossierOverdue", "AcceptanceOverdue"})
MAX_TEXT = 1000


def utc(moment: datetime) -> datetime:
    """Events from other services may carry naive datetimes; ours are UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


class _Line(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class HistoryLine(_Line):
    official: str
    at: datetime
    content: str
    state: int
    step_deadline: datetime | None = None
    department: str | None = None


class SupplementLine(_Line):
    requested_at: datetime
    supplied_at: datetime | None = None
    reason: str | None = None


class DocumentLine(_Line):
    kind: str
    digitised: bool
    reused: bool
    from_national_store: bool = False


#: The portal's names of a fee line: the procedure's fee (or a payment nobody asked for), and an
#: official's request for payment (a financial obligation).
_FEE, _REQUEST = "Lệ phí", "Nghĩa vụ tài chính"


class FeeLine(_Line):
    name: str
    amount_vnd: int
    payment_method: str | None = None
    paid_online: bool = False
    paid_at: datetime | None = None  # set once the whole amount is paid
    paid_vnd: int = 0  # paid so far (ours, not sent): a line paid in parts is paid when they add up


class ResultLine(_Line):
    code: str
    name: str


class PortalRecord(_Line):
    """Everything the portal's dossier carries, in our types (dates as aware datetimes)."""

    dossier_id: str
    code: str
    procedure_code: str | None = None
    agency_code: str | None = None
    channel: Channel | None = None
    state: int | None = None
    state_from_workflow: bool = False
    #: When workflow's latest lifecycle event happened: an earlier one arriving later never rolls the
    #: state back (absent in records from before this field).
    state_at: datetime | None = None
    applicant_full_name: str | None = None
    applicant_id_number: str | None = None
    submitted_at: datetime | None = None
    received_at: datetime | None = None
    appointment_at: datetime | None = None
    finished_at: datetime | None = None
    returned_at: datetime | None = None
    supplements: tuple[SupplementLine, ...] = ()
    documents: tuple[DocumentLine, ...] = ()
    fees: tuple[FeeLine, ...] = ()
    results: tuple[ResultLine, ...] = ()
    history: tuple[HistoryLine, ...] = ()
    national_databases: tuple[str, ...] = ()
    #: Intake's submission is folded in (ours, not sent). None: unknown (a record from before this was
    #: kept, or one a build without it rewrote): see :attr:`submission_recorded`.
    submitted: bool | None = None

    @property
    def submission_recorded(self) -> bool:
        """Intake's submission is folded in: as :attr:`submitted` says, else by the history line only
        the submission writes."""
        if self.submitted is not None:
            return self.submitted
        return any(line.content == EVENT_NAMES["DossierSubmitted"] for line in self.history)

    def missing(self) -> list[str]:
        """What the portal requires that no event has told us yet (then we wait, not push)."""
        return [name for name in ("procedure_code", "channel", "state") if getattr(self, name) is None]

    def with_history(self, line: HistoryLine) -> PortalRecord:
        lines = sorted([*self.history, line], key=lambda h: h.at)
        return self.model_copy(update={"history": tuple(lines)})


def new_record(dossier_id: str, code: str) -> PortalRecord:
    return PortalRecord(dossier_id=dossier_id, code=code, submitted=False)


def _documents(documents: list[Document]) -> tuple[DocumentLine, ...]:
    return tuple(
        DocumentLine(kind=d.kind, digitised=d.digitized, reused=d.reused, from_national_store=d.from_national_store)
        for d in documents
    )


def _by_kind(*lines: DocumentLine) -> tuple[DocumentLine, ...]:
    """The dossier's components: one per kind, the latest of a kind replacing the earlier in its place
    (a supplement re-sending the scan of a paper one), as reporting counts them. Added beside it, the
    scan made a second document, and the portal, which computes the digitisation rate from this list,
    had the dossier half digitised."""
    return tuple({line.kind: line for line in lines}.values())


def _applicant(applicant: Applicant) -> dict[str, Any]:
    return {"applicant_full_name": applicant.full_name, "applicant_id_number": applicant.id_number}


def apply_submitted(record: PortalRecord | None, event: DossierSubmitted) -> PortalRecord:
    """Intake's submission: procedure, channel, applicant, documents, fee and the first dates.

    Workflow owns the lifecycle: once it has spoken, a late submission event does not move the
    state back."""
    record = record or new_record(event.dossier_id, event.code)
    update: dict[str, Any] = {
        "code": event.code,
        "procedure_code": event.procedure_code,
        "channel": event.channel,
        "agency_code": record.agency_code or event.receiving_agency,
        "submitted_at": utc(event.submitted_at),
        "received_at": record.received_at or (utc(event.received_at) if event.received_at else None),
        "appointment_at": record.appointment_at or (utc(event.due_at) if event.due_at else None),
        # A supplement comes only after the submission is recorded: a redelivered submission's
        # components give way to the ones supplements replaced them with.
        "documents": _by_kind(*_documents(event.documents), *record.documents),
        **_applicant(event.applicant),
        "submitted": True,
    }
    if not record.state_from_workflow:
        update["state"] = event.status.code
    if event.fee > 0 and not record.submission_recorded:
        update["fees"] = _with_fee(record.fees, event.fee)
    line = HistoryLine(
        official=event.receiving_agency,
        at=utc(event.submitted_at),
        content=EVENT_NAMES["DossierSubmitted"],
        state=event.status.code,
        department=event.receiving_agency,
    )
    return record.model_copy(update=update).with_history(line)


def apply_bundle_step(
    record: PortalRecord | None, event: BundleSubmitted, dossier_id: str, code: str, procedure_code: str
) -> PortalRecord:
    """A bundle step's dossier: what the bundle says about it fills what its own submission has
    not (yet) told us."""
    record = record or new_record(dossier_id, code)
    update: dict[str, Any] = {
        "procedure_code": record.procedure_code or procedure_code,
        "channel": record.channel or event.channel,
        "agency_code": record.agency_code or event.receiving_agency,
        "submitted_at": record.submitted_at or utc(event.submitted_at),
    }
    if not record.applicant_full_name:
        update.update(_applicant(event.applicant))
    return record.model_copy(update=update)


def apply_fee_paid(record: PortalRecord, event: FeePaid) -> PortalRecord:
    """The citizen's payment (intake). Workflow acknowledges it too (PaymentConfirmed); the two come
    on different topics in either order and must make one paid line, not two."""
    paid = {"payment_method": event.method, "paid_online": event.online, "paid_at": utc(event.paid_at)}
    fees = record.fees
    # Already settled by workflow's acknowledgement, which does not know the method: complete it.
    acknowledged = next((i for i, f in enumerate(fees) if f.paid_at and not f.payment_method
                         and f.amount_vnd == event.amount), None)  # fmt: skip
    if acknowledged is not None and not any(f.paid_at is None and f.amount_vnd == event.amount for f in fees):
        fees = tuple(f.model_copy(update=paid) if i == acknowledged else f for i, f in enumerate(fees))
    else:
        fees = _settle(fees, event.amount, paid, add=True)
    return record.model_copy(update={"fees": fees})


def apply_supplement_provided(record: PortalRecord, event: SupplementProvided) -> PortalRecord:
    return record.model_copy(update={"documents": _by_kind(*record.documents, *_documents(event.documents))})


def apply_consulted(record: PortalRecord | None, database: str) -> PortalRecord | None:
    """A national database was used for the dossier (the portal reports which)."""
    if record is None or database in record.national_databases:
        return record
    return record.model_copy(update={"national_databases": (*record.national_databases, database)})


def _settle(fees: tuple[FeeLine, ...], amount: int, paid: dict[str, Any], *, add: bool) -> tuple[FeeLine, ...]:
    """A payment against the fee lines.

    ``add`` (intake's FeePaid, each payment once): it counts toward the unpaid line it pays off
    exactly, else the first unpaid one, which is paid once its parts add up (a request of 500,000 VND
    paid 1,000 first stays unpaid); with none unpaid, a paid line of its own. Without ``add``
    (workflow's acknowledgement of the same payment, in either order): it settles only a line of
    exactly its amount with nothing paid on it yet, so a part payment is counted once, from FeePaid."""
    unpaid = [i for i, f in enumerate(fees) if f.paid_at is None]
    exact = next((i for i in unpaid if fees[i].amount_vnd - fees[i].paid_vnd == amount), None)
    if not add:
        if exact is None or fees[exact].paid_vnd:
            return fees
        index: int | None = exact
    else:
        index = exact if exact is not None else (unpaid[0] if unpaid else None)
    if index is None:
        return (*fees, FeeLine(name=_FEE, amount_vnd=amount, paid_vnd=amount, **paid))
    line = fees[index]
    total = line.paid_vnd + amount
    update: dict[str, Any] = {"paid_vnd": total, **(paid if total >= line.amount_vnd else {})}
    return tuple(line.model_copy(update=update) if i == index else f for i, f in enumerate(fees))


def _with_fee(fees: tuple[FeeLine, ...], fee: int) -> tuple[FeeLine, ...]:
    """The submission's fee among the lines workflow's events made before intake's submission was read
    (another topic): the lines they would have made had the fee come first. Until the submission, a
    line is a request (in the order asked), settled only by workflow's acknowledgement of a payment
    (intake's FeePaid waits for the submission): each request is asked again after the fee, merging
    with it as :func:`_request` does, and each acknowledgement settles its line again if it still
    matches. Left as they were, a request for less than the fee showed the request, not the fee
    (``max`` of the two, as ``contracts.obligation.amount_owed`` counts it): what the portal showed
    owed depended on which topic was read first."""
    lines: tuple[FeeLine, ...] = (FeeLine(name=_FEE, amount_vnd=fee),)
    for line in fees:
        lines = _request(lines, line.amount_vnd)
        if line.paid_at is not None:
            acknowledged = {"paid_online": line.paid_online, "paid_at": line.paid_at}
            lines = _settle(lines, line.paid_vnd, acknowledged, add=False)
    return lines


def _request(fees: tuple[FeeLine, ...], amount: int) -> tuple[FeeLine, ...]:
    """An official's request for payment; one of an unpaid line's very amount is that line, asked for."""
    if any(f.paid_at is None and f.amount_vnd == amount for f in fees):
        return fees
    return _requested(fees, amount)


def _requested(fees: tuple[FeeLine, ...], amount: int) -> tuple[FeeLine, ...]:
    """An official's request for payment. The first is the whole obligation, the submission's fee
    included (as workflow and intake count it: what was paid against what was asked): it takes over the
    fee lines, paid or not, and what was paid on them counts towards it. Beside them, a fee paid at
    submission stayed unpaid inside a request the citizen then paid in full, and a request paid in part
    at submission never closed. A later request is a line of its own."""
    if any(f.name == _REQUEST for f in fees):
        return (*fees, FeeLine(name=_REQUEST, amount_vnd=amount))
    taken = [f for f in fees if f.name == _FEE]
    if not taken:
        return (*fees, FeeLine(name=_REQUEST, amount_vnd=amount))
    paid = sum(f.paid_vnd for f in taken)
    total = max(amount, sum(f.amount_vnd for f in taken))
    last_paid = next((f for f in reversed(taken) if f.paid_vnd), None)
    line = FeeLine(
        name=_REQUEST,
        amount_vnd=total,
        paid_vnd=paid,
        payment_method=last_paid.payment_method if last_paid else None,
        paid_online=any(f.paid_online for f in taken),
        paid_at=last_paid.paid_at if last_paid and paid >= total else None,
    )
    return (line, *(f for f in fees if f.name != _FEE))


#: Fields a lifecycle event adds to rather than sets: a late event still contributes its line.
_ADDITIVE = frozenset({"supplements", "fees", "results"})


def apply_dossier_event(record: PortalRecord | None, event: DossierEvent) -> PortalRecord:
    """A workflow lifecycle event: the state it leaves the dossier in, its dates and a history line.

    Events of one dossier come in order, except one replayed from the dead-letter topic after its
    successors: older than the state we hold, it fills in what the record lacks and adds its lines,
    but leaves the state, the agency and every date already set as they are. Applied as it came, it
    pushed an older status over a newer one to the portal.

    A timer (:data:`SILENT_EVENTS`) leaves a record it finds as it is: moving its ``state_at`` to the
    timer's later time made a new revision, pushed to the portal as a write that changed nothing."""
    if record is not None and event.event_type in SILENT_EVENTS:
        return record
    record = record or new_record(event.dossier_id, event.code)
    at = utc(event.at)
    # Workflow writes some events in pairs with one time (received and started; issued and returned
    # online): the first of a pair replayed after the second is late too, as it leads to an earlier
    # state. Taken as current, it put the portal back to "received", or "processed" after "returned".
    earlier_of_pair = at == record.state_at and record.state is not None and event.status_code < record.state
    late = record.state_at is not None and (at < record.state_at or earlier_of_pair)
    update: dict[str, Any] = {"code": event.code, "state_from_workflow": True}
    if not late:
        update.update({"state": event.status_code, "agency_code": event.agency, "state_at": at})
    specific = _specific(record, event, at)
    if late:
        specific = {k: v for k, v in specific.items() if k in _ADDITIVE or getattr(record, k) is None}
    update.update(specific)
    record = record.model_copy(update=update)
    if event.event_type in SILENT_EVENTS:
        return record
    outstanding = getattr(event, "outstanding", None)
    template = event_name(event.event_type, event.status.value, outstanding) + _DETAILS.get(event.event_type, "")
    content = template.format_map(_history_fields(event))[:MAX_TEXT]
    step_deadline = getattr(event, "step_due_at", None)
    line = HistoryLine(
        official=event.official_id or event.agency,
        at=at,
        content=content,
        state=event.status_code,
        step_deadline=utc(step_deadline) if isinstance(step_deadline, datetime) else None,
        department=event.agency,
    )
    return record.with_history(line)


def _specific(record: PortalRecord, event: DossierEvent, at: datetime) -> dict[str, Any]:
    """The fields only some lifecycle events set."""
    if isinstance(event, DossierReceived):
        return {"received_at": at, "appointment_at": utc(event.due_at), "procedure_code": event.procedure_code}
    if isinstance(event, DossierStepStarted) and event.due_at is not None and record.received_at is not None:
        return {"appointment_at": utc(event.due_at)}  # a later bundle step's date, moved
    if isinstance(event, SupplementRequested):
        line = SupplementLine(requested_at=at, reason=event.reason[:MAX_TEXT])
        return {"supplements": (*record.supplements, line)}
    if isinstance(event, SupplementReceived):
        lines = list(record.supplements)
        open_ = [i for i, s in enumerate(lines) if s.supplied_at is None]
        if open_:
            lines[open_[-1]] = lines[open_[-1]].model_copy(update={"supplied_at": at})
        if record.received_at is None:  # sent back before acceptance: due_at ends its acceptance window
            return {"supplements": tuple(lines)}
        return {"supplements": tuple(lines), "appointment_at": utc(event.due_at)}
    if isinstance(event, PaymentRequested):
        return {"fees": _request(record.fees, event.amount)}
    if isinstance(event, PaymentConfirmed):
        # Workflow's acknowledgement of a payment that came as intake's FeePaid (its only cause). If
        # that settled the line already, nothing more (a second line would count the payment twice);
        # else this settles it, and the FeePaid, whenever it comes, adds the method.
        return {"fees": _settle(record.fees, event.amount, {"paid_online": event.online, "paid_at": at}, add=False)}
    if isinstance(event, ResultIssued):
        results = record.results
        if all(r.code != event.result_code for r in results):
            results = (*results, ResultLine(code=event.result_code, name=event.document_name))
        return {"finished_at": at, "results": results}
    if isinstance(event, ResultReturned):
        return {"returned_at": at}
    if isinstance(event, DossierRefused | DossierStopped | WithdrawalAccepted):
        return {"finished_at": record.finished_at or at}  # ended without a result: the portal's end date
    if isinstance(event, ApologyLetterIssued):
        return {"appointment_at": utc(event.new_due_at)}
    return {}


def _history_fields(event: DossierEvent) -> _Fields:
    """The event's fields as its history line says them: a step by its name, a step's or a forward's
    reason after it, an apology's new date as citizens write dates (they read 'processing', and lost
    the reason and the date)."""
    fields = _Fields(event.model_dump())
    reason = fields.get("reason")
    if isinstance(event, DossierStepStarted):
        fields["step"] = STEP_NAMES.get(event.step, event.step)
        fields["because"] = f" ({reason})" if reason else ""
    elif isinstance(event, DossierForwarded):
        fields["because"] = f": {reason}" if reason else ""
    if isinstance(fields.get("amount"), int):  # as the citizen's timeline writes it: 1.500.000 đồng
        fields["amount"] = vnd(fields["amount"])
    if isinstance(event, ApologyLetterIssued):
        fields["new_date"] = utc(event.new_due_at).astimezone(vietnam_tz()).strftime("%d/%m/%Y")
    return fields


class _Fields(dict[str, Any]):
    """Format fields of a history template; a field an event lacks renders empty, never raises."""

    def __missing__(self, key: str) -> str:
        return ""

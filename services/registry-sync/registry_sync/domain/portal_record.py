"""Registry-sync's own copy of what the national portal must know about a dossier, folded from
intake's and workflow's events. Registry-sync never reads another service's database, so this
copy is how it can send the portal the whole dossier on every update.

Folding is pure: ``apply_*`` take a record (or None) and an event and return the new record; a
record equal to the old one means there is nothing new to synchronise (and so does one the portal
would be sent the same for: ``adapters.portal.same_on_portal``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from contracts.events.common import Applicant, Channel, Document, DossierStatus
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
#: The states of a dossier that ended without a result (refused, withdrawn: the status a withdrawal
#: workflow accepted leaves, stopped). No money is taken for one (intake's ``actions.payable``), and
#: reporting counts no obligation for one unpaid: the portal is sent only what was paid.
ENDED_WITHOUT_RESULT = frozenset(
    s.code for s in (DossierStatus.REFUSED, DossierStatus.WITHDRAWAL_REQUESTED, DossierStatus.STOPPED)
)
#: How the history lines of the events that set the appointment begin, in every wording a record may
#: hold (an apology letter's read "Văn bản xin lỗi, hẹn lại ..." before the shared vocabulary).
_SETS_APPOINTMENT = (
    EVENT_NAMES["DossierReceived"],
    EVENT_NAMES["DossierStepStarted"],
    EVENT_NAMES["SupplementReceived"],
    "Văn bản xin lỗi",
)


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


class Payment(_Line):
    """One of the citizen's payments (ours, not sent), as intake reported it (``FeePaid``) or workflow
    acknowledged it (``PaymentConfirmed``, which only a ``FeePaid`` causes). The two come on different
    topics in either order; each gives a dossier's payments in the order they were made, so the first
    payment one of them has not told us of yet is the one it tells."""

    amount_vnd: int
    paid_at: datetime | None = None  # None only for a part paid before payments were kept
    method: str | None = None  # intake's alone
    online: bool = False
    reported: bool = False  # intake's FeePaid is folded in
    acknowledged: bool = False  # workflow's PaymentConfirmed is folded in


class Obligation(_Line):
    """What the fee lines are made from (ours, not sent): the submission's fee, the officials' requests
    for payment in the order asked, and the payments. The lines are made afresh from it at each change,
    so the order in which intake's and workflow's topics are read cannot change them."""

    fee_vnd: int = 0  # 0 until the submission is read
    requests_vnd: tuple[int, ...] = ()
    payments: tuple[Payment, ...] = ()


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
    #: When the workflow event that set ``appointment_at`` happened (ours, not sent): a late event's
    #: date applies unless a newer event set the one held. None: no workflow event set it, or unknown
    #: (a record from before this field, or one a build without it rewrote): see :attr:`appointment_set`.
    appointment_set_at: datetime | None = None
    finished_at: datetime | None = None
    returned_at: datetime | None = None
    supplements: tuple[SupplementLine, ...] = ()
    documents: tuple[DocumentLine, ...] = ()
    fees: tuple[FeeLine, ...] = ()
    #: What ``fees`` are made from (ours, not sent). None: a record from before it was kept, or one a
    #: build without it rewrote; it is then worked out from ``fees`` (:func:`_obligation`).
    obligation: Obligation | None = None
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

    @property
    def appointment_set(self) -> datetime | None:
        """When a workflow event last set the appointment: as :attr:`appointment_set_at` says, else by
        the latest history line of an event that sets one, as intake's migration 0011 read its rows'
        timelines (one that set none, a step without a date, only keeps a late date out, as before).
        None: nothing tells (no such line: the appointment, if any, is the submission's)."""
        if self.appointment_set_at is not None:
            return self.appointment_set_at
        lines = (line.at for line in self.history if line.content.startswith(_SETS_APPOINTMENT))
        return max(lines, default=None)

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
        update.update(_with_fee(record, event.fee))
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
    on different topics in either order and are one payment, counted once."""
    paid = Payment(
        amount_vnd=event.amount, paid_at=utc(event.paid_at), method=event.method, online=event.online, reported=True
    )
    return record.model_copy(update=_with_payment(record, paid))


def apply_supplement_provided(record: PortalRecord, event: SupplementProvided) -> PortalRecord:
    return record.model_copy(update={"documents": _by_kind(*record.documents, *_documents(event.documents))})


def apply_consulted(record: PortalRecord | None, database: str) -> PortalRecord | None:
    """A national database was used for the dossier (the portal reports which)."""
    if record is None or database in record.national_databases:
        return record
    return record.model_copy(update={"national_databases": (*record.national_databases, database)})


def _obligation(record: PortalRecord) -> Obligation:
    """The record's obligation. One from before it was kept (or rewritten by a build without it) is
    worked out from its fee lines: until an official has asked, the first line is the fee; after, each
    line up to the last request's is a request for what it shows, and a later one a payment nobody
    asked for. What was paid on a line is one payment: with a method, intake reported it (workflow's
    acknowledgement may still come, and finds it); without, only workflow did (intake's FeePaid, which
    brings the method, is still to come)."""
    if record.obligation is not None:
        return record.obligation
    lines = record.fees
    asked = [i for i, f in enumerate(lines) if f.name == _REQUEST]
    fee = lines[0].amount_vnd if lines and not asked else 0
    requests = tuple(f.amount_vnd for f in lines[: asked[-1] + 1]) if asked else ()
    payments = []
    for f in lines:
        paid = f.paid_vnd or (f.amount_vnd if f.paid_at else 0)  # a line paid before paid_vnd was kept
        if paid:
            by_intake = f.payment_method is not None or f.paid_at is None  # only intake paid a part
            details = {"paid_at": f.paid_at, "method": f.payment_method, "online": f.paid_online}
            payments.append(Payment(amount_vnd=paid, **details, reported=by_intake, acknowledged=not by_intake))
    return Obligation(fee_vnd=fee, requests_vnd=requests, payments=tuple(payments))


def with_fee_lines_remade(record: PortalRecord) -> PortalRecord:
    """``record`` with its fee lines made afresh for the state it is in, as the event that ended the
    dossier makes them now (a record saved before its obligation was kept is read from its lines, as
    the event path reads it). For the repair of records saved before a rule changed
    (``service_layer.ended_fee_lines``): the rule is not written twice."""
    return record.model_copy(update=_owing(_obligation(record), record.state))


def _owing(obligation: Obligation, state: int | None) -> dict[str, Any]:
    """The obligation and the fee lines made from it, for a dossier in ``state``."""
    return {"obligation": obligation, "fees": _fee_lines(obligation, ended=state in ENDED_WITHOUT_RESULT)}


def _with_fee(record: PortalRecord, fee: int) -> dict[str, Any]:
    """The submission's fee. Workflow's requests and acknowledgements read before it (another topic)
    are kept as they came, so with the fee they make the lines they would have made had it come first."""
    return _owing(_obligation(record).model_copy(update={"fee_vnd": fee}), record.state)


def _request(record: PortalRecord, amount: int) -> dict[str, Any]:
    """An official's request for payment: one more, whatever its amount. A request for an unpaid line's
    very amount was taken for that line, asked for again, so a request for the fee left the fee's line
    as it was and a second request took it over with ``max``: a fee of 100 and requests of 100 and 80
    showed 100 owed where 180 is, and nothing owed once the first 100 was paid."""
    obligation = _obligation(record)
    return _owing(obligation.model_copy(update={"requests_vnd": (*obligation.requests_vnd, amount)}), record.state)


def _with_payment(record: PortalRecord, payment: Payment) -> dict[str, Any]:
    """A payment, as intake reported it or workflow acknowledged it: the first one known that this
    service has not told of is the same payment (intake's details, the method among them, win), else
    a new one. Matched by amount instead, a payment was counted twice or not at all once a request had
    taken over the line it settled (400 shown paid of 300, or 300 of 200)."""
    obligation = _obligation(record)
    payments = obligation.payments
    index = next((i for i, p in enumerate(payments) if not (p.reported if payment.reported else p.acknowledged)), None)
    if index is None:
        payments = (*payments, payment)
    else:
        known = payments[index]
        if payment.reported:
            same = payment.model_copy(update={"acknowledged": known.acknowledged})
        else:
            same = known.model_copy(update={"acknowledged": True})
        payments = (*payments[:index], same, *payments[index + 1 :])
    return _owing(obligation.model_copy(update={"payments": payments}), record.state)


def _owed(fee: int, requests: tuple[int, ...]) -> list[tuple[str, int]]:
    """The lines of what is owed, adding up to ``contracts.obligation.amount_owed``'s: the fee, or what
    the officials asked for if that is more (a request is the whole obligation, the fee included). The
    fee is a line alone until an official asks; then each request is a line of what it adds to what is
    owed, the first taking over the fee's, and one that adds nothing (the requests are still below the
    fee) makes none. A second request added to the first (over the fee) as it was asked, the portal
    showed 180 owed for a fee of 100 and requests of 50 and 80, where 130 is."""
    if not requests:
        return [(_FEE, fee)] if fee > 0 else []
    lines: list[tuple[str, int]] = []
    owed = asked = 0
    for amount in requests:
        asked += amount
        more = max(fee, asked) - owed
        if more > 0:
            lines.append((_REQUEST, more))
            owed += more
    return lines


def _fee_lines(obligation: Obligation, *, ended: bool = False) -> tuple[FeeLine, ...]:
    """The portal's fee lines: what is owed, paid off by the payments in the order they were made, a
    line paid in full carrying the time of the payment that completed it and how it was paid
    (:func:`_line`; a part payment shows the portal nothing). What is paid beyond what is owed (a
    payment read before the request it answers, or one owed back) is a paid line of its own.

    A dossier that ``ended`` without a result owes nothing more: of what was owed, only what was paid
    is sent, a line paid in part as a line of the part paid. Sent as owed, a dossier refused at
    reception showed its fee unpaid on the portal for good, and a withdrawn one the request it had
    not paid, where intake showed nothing owed and reporting counted no obligation."""
    payments = [p for p in obligation.payments if p.amount_vnd > 0]
    left = [p.amount_vnd for p in payments]  # what of each payment no line has taken yet
    lines: list[FeeLine] = []
    next_payment = 0
    for name, amount in _owed(obligation.fee_vnd, obligation.requests_vnd):
        paid, at = 0, None
        parts: list[Payment] = []  # what paid the line, in the order made
        while paid < amount and next_payment < len(payments):
            taken = min(left[next_payment], amount - paid)
            paid, left[next_payment] = paid + taken, left[next_payment] - taken
            parts.append(payments[next_payment])
            at = payments[next_payment].paid_at or at
            if not left[next_payment]:
                next_payment += 1
        if ended and paid < amount:
            if not paid:
                continue
            amount = paid
        lines.append(_line(name, amount, paid, parts if paid >= amount else (), at))
    for payment, rest in zip(payments[next_payment:], left[next_payment:], strict=True):
        lines.append(_line(_FEE, rest, rest, (payment,), payment.paid_at))
    return tuple(lines)


def _line(name: str, amount: int, paid: int, parts: Sequence[Payment], at: datetime | None) -> FeeLine:
    """A fee line; one paid in full (``parts``: the payments that paid it, in the order made) says how.

    Paid online if any part was, as reporting counts a dossier paid online, by the method of the part
    paid online (the last, if several were), else of the payment that completed it. By the completing
    payment alone, a fee paid half by QR and half in cash read paid in cash, not online, and paid in
    the other order read paid by QR, online: the portal's answer hung on the order of the payments,
    and disagreed with reporting's."""
    if not parts:
        return FeeLine(name=name, amount_vnd=amount, paid_vnd=paid)
    online = [p for p in parts if p.online]
    how = (online or list(parts))[-1]
    return FeeLine(
        name=name,
        amount_vnd=amount,
        paid_vnd=paid,
        payment_method=how.method,
        paid_online=bool(online),
        paid_at=at,
    )


#: Fields a lifecycle event adds to rather than sets: a late event still contributes its line.
_ADDITIVE = frozenset({"supplements", "fees", "obligation", "results"})


def apply_dossier_event(record: PortalRecord | None, event: DossierEvent) -> PortalRecord:
    """A workflow lifecycle event: the state it leaves the dossier in, its dates and a history line.

    Events of one dossier come in order, except one replayed from the dead-letter topic after its
    successors: older than the state we hold, it fills in what the record lacks and adds its lines,
    but leaves the state, the agency and the dates already set as they are, except the appointment
    unless a newer event set it (:func:`_newer_appointment`). Applied as it came, it pushed an older
    status over a newer one to the portal.

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
    # Its fee lines are made for the state it leaves the dossier in (a late one: the state held).
    specific = _specific(record.model_copy(update=update), event, at)
    if late:
        dated = "appointment_at" in specific and not _newer_appointment(record, at)
        specific = {
            k: v for k, v in specific.items()
            if k in _ADDITIVE or getattr(record, k) is None or (k == "appointment_at" and dated)
        }  # fmt: skip
    if "appointment_at" in specific:
        set_at = record.appointment_set
        specific["appointment_set_at"] = at if set_at is None else max(set_at, at)
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


def _newer_appointment(record: PortalRecord, at: datetime) -> bool:
    """Whether the appointment the record holds was set by an event no older than one at ``at``: a
    late event's date gives way to it, and applies otherwise, as intake decides for the citizen's view
    (``tracking.as_applied``). Dropped whenever the record held a date, the date a supplement's arrival
    or an apology letter moved, replayed after a later request for payment, never reached the portal,
    where intake and reporting showed it. When nothing tells when the date held was set, it stays, as
    it did."""
    set_at = record.appointment_set
    if set_at is None:
        return record.appointment_at is not None
    return set_at >= at


def _specific(record: PortalRecord, event: DossierEvent, at: datetime) -> dict[str, Any]:
    """The fields only some lifecycle events set (``record`` in the state the event leaves it in)."""
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
        return _request(record, event.amount)
    if isinstance(event, PaymentConfirmed):
        # Workflow's acknowledgement of a payment that came as intake's FeePaid (its only cause): the
        # same payment, whichever is read first; the FeePaid, whenever it comes, adds the method.
        acknowledged = Payment(amount_vnd=event.amount, paid_at=at, online=event.online, acknowledged=True)
        return _with_payment(record, acknowledged)
    if isinstance(event, ResultIssued):
        results = record.results
        if all(r.code != event.result_code for r in results):
            results = (*results, ResultLine(code=event.result_code, name=event.document_name))
        return {"finished_at": at, "results": results}
    if isinstance(event, ResultReturned):
        return {"returned_at": at}
    if isinstance(event, DossierRefused | DossierStopped | WithdrawalAccepted):
        # Ended without a result: the portal's end date, and the fee lines of what was paid alone.
        return {"finished_at": record.finished_at or at, **_owing(_obligation(record), record.state)}
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

"""The dossier aggregate: each method checks the transition table, records the event it decides and
applies it to the state, so the next method sees the change (one command may decide several events,
e.g. acceptance = received + first processing step)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from contracts.envelope import EventPayload
from contracts.events import registry as reg
from contracts.events import workflow as wf
from contracts.events.common import Document, DossierStatus
from contracts.obligation import amount_owed
from workcal import WorkCalendar
from workflow.domain import deadlines, results
from workflow.domain.errors import IllegalTransition
from workflow.domain.internal_events import DocumentsReceived, DossierOpened, DossierReleased
from workflow.domain.lifecycle import ENDED_WITHOUT_RESULT, FINISHED, TRANSITIONS, Action, next_status
from workflow.domain.state import DossierState, evolve


class Dossier:
    """A dossier being decided on at ``now``; ``pending`` holds the events decided so far."""

    def __init__(self, state: DossierState, now: datetime) -> None:
        self.state = state
        self.now = now
        self.expected_version = state.version
        self.pending: list[EventPayload] = []
        #: The state as loaded (a shallow copy: its scalars, which decisions replace rather than mutate), so
        #: that saving can tell which read-model rows the change really touches.
        self.loaded = copy.copy(state)

    # -- plumbing ---------------------------------------------------------------------------------

    def _check(self, action: Action) -> DossierStatus:
        return next_status(action, self.state.status, self.state.resume_status)

    def _record(self, event: EventPayload) -> None:
        evolve(self.state, event, self.now)
        self.pending.append(event)

    def _common(
        self,
        status: DossierStatus,
        *,
        agency: str | None = None,
        official_id: str | None = None,
        at: datetime | None = None,
    ) -> dict[str, Any]:
        return {
            "dossier_id": self.state.dossier_id,
            "code": self.state.code,
            "status": status,
            "status_code": status.code,
            "at": at or self.now,
            "agency": agency or self.state.agency,
            "official_id": official_id,
            "bundle_id": self.state.bundle_id,
        }

    def _ended(self) -> bool | None:
        # Waiting for the citizen's supplement does not count against the agency: a dossier that ends
        # while it waits (withdrawn, stopped) is judged at the moment its clock stopped. The appointment
        # moves only when the supplement arrives, so judging at ``now`` would count the wait.
        judged_at = self.state.paused_since or self.now
        return deadlines.on_time(
            judged_at, self.state.due_at, overdue=self.state.overdue, apologized=self.state.apologized
        )

    # -- reception --------------------------------------------------------------------------------

    def open(self, opened: DossierOpened) -> None:
        self._check(Action.OPEN)
        self._record(opened)

    def release(self, bundle_id: str, step_id: str, inputs: dict[str, Any]) -> None:
        if not self.state.held:
            raise IllegalTransition("release", self.state.status, "the dossier is not waiting for its bundle step")
        self._record(DossierReleased(bundle_id=bundle_id, step_id=step_id, inputs=inputs, at=self.now))

    def receive(self, *, received_at: datetime, due_at: datetime, official_id: str | None = None) -> None:
        status = self._check(Action.RECEIVE)
        self._record(
            wf.DossierReceived(
                **self._common(status, agency=self.state.receiving_agency, official_id=official_id, at=received_at),
                procedure_code=self.state.procedure_code,
                due_at=due_at,
            )
        )

    def refuse(self, reason: str, official_id: str | None, *, judged: bool = True) -> None:
        """``judged=False``: a step of an online bundle refused before it started, because an earlier
        step failed (see :meth:`stop`)."""
        if self.state.status is DossierStatus.SUPPLEMENT_REQUESTED and not self.state.at_reception:
            raise IllegalTransition(Action.REFUSE.value, self.state.status, "it was taken into processing")
        status = self._check(Action.REFUSE)
        self._record(
            wf.DossierRefused(
                **self._common(status, official_id=official_id),
                reason=reason,
                on_time=self._ended() if judged else None,
                step_started=judged,
            )
        )

    # -- processing -------------------------------------------------------------------------------

    def start_step(
        self,
        step: str,
        agency: str,
        step_due_at: datetime,
        official_id: str | None = None,
        *,
        due_at: datetime | None = None,
        reason: str | None = None,
    ) -> None:
        """``due_at``: the dossier's appointment, moved (a later bundle step the citizen's waits on
        earlier steps put back, a verification). ``reason``: why, when an official says."""
        status = self._check(Action.START_STEP)
        # Never before the reception it follows: a counter dossier's reception is stamped by intake's
        # clock and the start by ours; 50 ms behind, the portal took the start for an event older than
        # the reception and kept showing the dossier "received" until its next decision.
        received = self.state.received_at
        self._record(
            wf.DossierStepStarted(
                **self._common(status, agency=agency, official_id=official_id, at=max(self.now, received or self.now)),
                step=step,
                step_due_at=step_due_at,
                due_at=due_at,
                reason=reason,
            )
        )

    def forward(self, to_agency: str, reason: str | None, official_id: str) -> None:
        status = self._check(Action.FORWARD)
        self._record(
            wf.DossierForwarded(
                **self._common(status, agency=to_agency, official_id=official_id),
                from_agency=self.state.agency,
                reason=reason,
            )
        )

    def request_registry(self, command: reg.RegistryCommandRequested) -> None:
        self._check(Action.REQUEST_REGISTRY)
        if self.state.waiting_for_registry:
            raise IllegalTransition("request_registry", self.state.status, "a registry command is already pending")
        self._record(command)

    def request_supplement(self, reason: str, official_id: str, documents: Sequence[wf.RequestedDocument] = ()) -> None:
        status = self._check(Action.REQUEST_SUPPLEMENT)
        number = self.state.supplement_requests + 1
        self._record(
            wf.SupplementRequested(
                **self._common(status, official_id=official_id),
                reason=reason,
                request_number=number,
                documents=list(documents),
            )
        )
        if number >= 2 and not self.state.overdue:
            self.mark_overdue("second_supplement_request")

    def take_documents(self, calendar: WorkCalendar, documents: Sequence[Document]) -> None:
        """What the citizen sent: the answer to a supplement request (the clock resumes), or, while
        none is awaited and the dossier is open, documents kept with it for the official to see (a
        second one sent right after the first answered the request, or unasked; they had been
        dropped). A finished dossier takes none (IllegalTransition)."""
        current = self.state.status
        if current is not None and current is not DossierStatus.SUPPLEMENT_REQUESTED and current not in FINISHED:
            if documents:
                self._record(DocumentsReceived(documents=list(documents), at=self.now))
            return
        self.receive_supplement(calendar, documents)

    def receive_supplement(self, calendar: WorkCalendar, documents: Sequence[Document] = ()) -> None:
        status = self._check(Action.RECEIVE_SUPPLEMENT)
        assert self.state.paused_since is not None
        step_due = None
        if self.state.due_at is not None:
            # The agency's clock starts at the counting start (after 15:00: the next working day); a
            # request made before it paused nothing until then.
            since = self.state.paused_since
            if self.state.received_at is not None:
                since = max(since, calendar.counting_start(self.state.received_at))
            paused, due = deadlines.resume_after_pause(calendar, self.state.due_at, since, self.now)
            if self.state.step_due_at is not None:  # the step's own end moves with the appointment
                step_due = calendar.add_working_seconds(self.state.step_due_at, paused)
        else:  # sent back before acceptance: no appointment yet, a fresh acceptance window
            paused, due = 0.0, deadlines.acceptance_deadline(calendar, self.now)
        self._record(
            wf.SupplementReceived(
                **self._common(status),
                paused_seconds=paused,
                due_at=due,
                documents=list(documents),
                step_due_at=step_due,
            )
        )

    def request_payment(self, amount: int, official_id: str) -> None:
        status = self._check(Action.REQUEST_PAYMENT)
        unclaimed = self.state.paid_total - self.state.requested_total
        if unclaimed >= amount:  # paid before anyone asked: a request now would wait for ever
            raise IllegalTransition(
                Action.REQUEST_PAYMENT.value,
                self.state.status,
                f"the citizen has already paid {unclaimed} VND that no earlier request asked for",
            )
        self._record(wf.PaymentRequested(**self._common(status, official_id=official_id), amount=amount))

    def confirm_payment(self, amount: int, online: bool) -> bool:
        """Record the payment; whether it is owed back (the dossier ended without a result)."""
        refund_due = self.state.status in ENDED_WITHOUT_RESULT
        status = self._check(Action.CONFIRM_PAYMENT)
        if self.state.status is DossierStatus.PAYMENT_REQUESTED and (
            self.state.paid_total + amount < self.state.requested_total
        ):
            status = DossierStatus.PAYMENT_REQUESTED  # paid in part: processing waits for the rest
        owed = amount_owed(self.state.fee, self.state.requested_total, self.state.paid_total + amount)
        outstanding = 0 if refund_due else max(owed, 0)
        self._record(
            wf.PaymentConfirmed(
                **self._common(status), amount=amount, online=online, refund_due=refund_due, outstanding=outstanding
            )
        )
        return refund_due

    def extend(self, reason: str, new_due_at: datetime, official_id: str) -> None:
        status = self._check(Action.EXTEND)
        previous = self.state.due_at
        if previous is None:
            raise IllegalTransition("extend", self.state.status, "the dossier has no appointment yet")
        if self.state.paused_since is not None:
            # No delay of the agency's accrues while the citizen owes documents, and the appointment
            # moves by the wait when they arrive: a date given now would be moved by it again.
            raise IllegalTransition(
                "extend",
                self.state.status,
                "the clock is paused for the citizen's supplement; the appointment"
                " moves when it arrives, and an apology letter can go out after that",
            )
        if self.now > previous:
            raise IllegalTransition(
                "extend", self.state.status, "an apology letter must go out no later than the appointment date"
            )
        self._record(
            wf.ApologyLetterIssued(
                **self._common(status, official_id=official_id),
                reason=reason,
                previous_due_at=previous,
                new_due_at=new_due_at,
            )
        )

    # -- endings ----------------------------------------------------------------------------------

    def issue_result(self, document_name: str, data: dict[str, Any], result_code: str, official_id: str | None) -> None:
        status = self._check(Action.ISSUE_RESULT)
        state = self.state
        qr = None
        if state.applicant_id_number:
            qr = results.qr_code(
                dossier_code=state.code, procedure_code=state.procedure_code,
                applicant_id_number=state.applicant_id_number, document_name=document_name, code=result_code,
            )  # fmt: skip
        self._record(
            wf.ResultIssued(
                **self._common(status, official_id=official_id),
                result_code=result_code,
                procedure_code=state.procedure_code,
                document_name=document_name,
                data=data,
                on_time=bool(self._ended()),
                qr_code=qr,
            )
        )
        if state.delivery.method == "online":
            self.return_result(None)  # the electronic result goes to the citizen's portal account at once

    def return_result(self, official_id: str | None) -> None:
        status = self._check(Action.RETURN_RESULT)
        delivery = self.state.delivery.method
        self._record(wf.ResultReturned(**self._common(status, official_id=official_id), delivery=delivery))

    def stop(self, reason: str, official_id: str | None = None, *, judged: bool = True) -> None:
        """``judged=False``: a bundle step stopped before it started, because an earlier step failed;
        its agency never had it, so it is no one's on-time or overdue dossier (``on_time`` None)."""
        status = self._check(Action.STOP)
        on_time = self._ended() if judged else None
        self._record(
            wf.DossierStopped(
                **self._common(status, official_id=official_id), reason=reason, on_time=on_time, step_started=judged
            )
        )

    def withdraw(self, reason: str) -> None:
        """A bundle step still held for an earlier one is no agency's yet: not judged."""
        status = self._check(Action.WITHDRAW)
        started = not self.state.held
        on_time = self._ended() if started else None
        self._record(
            wf.WithdrawalAccepted(**self._common(status), reason=reason, on_time=on_time, step_started=started)
        )

    def answer_withdrawal(self, reason: str) -> None:
        """The citizen's withdrawal request: accepted while the dossier is open and no registry is at
        work on it; else the citizen is told why (the result was issued, or the dossier ended, before
        it arrived: intake takes the request before it knows) and the dossier stays as it was."""
        status = self.state.status
        if self.state.waiting_for_registry and status is not None:
            # A national registry is doing the step (registering the residence, issuing the card):
            # it may already have done it, and its answer would be thrown away with the dossier
            # withdrawn. An official's refusal waits for that answer too. Nothing to try again: once
            # it answers, the step has its result or is stopped, and neither can be withdrawn (the
            # refusal said "try again later").
            refusal = "hồ sơ đã chuyển cơ quan quản lý cơ sở dữ liệu quốc gia thực hiện, không thể rút"
            self._record(wf.WithdrawalRefused(**self._common(status), reason=refusal))
            return
        if status is None or status in TRANSITIONS[Action.WITHDRAW]:
            self.withdraw(reason)  # a dossier that does not exist: IllegalTransition
            return
        refusal = f"hồ sơ ở trạng thái «{status.name_vi}», không thể rút"
        self._record(wf.WithdrawalRefused(**self._common(status), reason=refusal))

    # -- SLA --------------------------------------------------------------------------------------

    def mark_due_soon(self) -> None:
        status = self._check(Action.MARK_DUE_SOON)
        assert self.state.due_at is not None
        self._record(wf.DossierDueSoon(**self._common(status), due_at=self.state.due_at))

    def mark_acceptance_overdue(self, deadline: datetime) -> None:
        status = self._check(Action.MARK_ACCEPTANCE_OVERDUE)
        self._record(wf.AcceptanceOverdue(**self._common(status), deadline=deadline))

    def mark_overdue(self, reason: str) -> None:
        status = self._check(Action.MARK_OVERDUE)
        due = self.state.due_at or self.now
        self._record(wf.DossierOverdue(**self._common(status), due_at=due, reason=reason))

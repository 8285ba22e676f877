"""How workflow decides: routing, the start of processing, officials' decisions, bundle steps.

Functions over the :class:`~workflow.domain.dossier.Dossier` aggregate and the rules a deployment
configures (:class:`Rules`: the catalogue, the calendar, the due-soon lead time, the province code).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from contracts.catalogue import (
    Catalogue,
    CatalogueError,
    Procedure,
    ProcessingTime,
    RegistryPerformer,
    UnknownProcedure,
    reuse,
)
from contracts.catalogue.routing import NoCompetentAgency, UnknownAgency
from contracts.events import registry as reg
from contracts.events import workflow as wf
from contracts.events.common import DossierStatus
from workcal import WorkCalendar, vietnam_tz
from workflow.domain import deadlines, results
from workflow.domain.commands import NEEDS_REASON, MakeDecision, OpenDossier
from workflow.domain.dossier import Dossier
from workflow.domain.errors import IllegalTransition, InvalidDecision
from workflow.domain.state import VERIFICATION_STEP, DossierState

_COMMAND_NAMESPACE = uuid.UUID("6f1c2a52-3f7e-4d0b-9a55-0c7c3b2f9e11")
_REGISTRY_DECISIONS = frozenset({"approve", "reject", "request_supplement", "request_payment", "forward"})


@dataclass(frozen=True)
class Rules:
    """The data and policy decisions depend on; built once per process."""

    catalogue: Catalogue
    calendar: WorkCalendar
    province_code: str = "036"
    due_soon_lead_seconds: float = 8 * 3600
    #: Per procedure and result field, the forms that take it back: what an official states must fit them.
    takers: Mapping[str, Mapping[str, Sequence[reuse.Taker]]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "takers", reuse.takers(self.catalogue))

    def procedure(self, code: str) -> Procedure | None:
        return self.catalogue.procedures.get(code)

    def knows_agency(self, code: str) -> bool:
        return code in self.catalogue.agencies

    def route(self, procedure_code: str, receiving_agency: str, form: dict[str, Any], fallback: str | None) -> str:
        """The competent agency by the catalogue's boundary-free rules; ``fallback`` if it cannot route."""
        procedure = self.procedure(procedure_code)
        try:
            if procedure is not None:
                return self.catalogue.competent_agency(procedure_code, receiving_agency, procedure.area_in(form)).code
        except (NoCompetentAgency, UnknownAgency, CatalogueError):
            pass
        if fallback:
            return fallback
        raise NoCompetentAgency(f"cannot route procedure {procedure_code} received at {receiving_agency}")

    def processing_time(self, procedure_code: str) -> ProcessingTime:
        """The procedure's statutory time; UnknownProcedure if this catalogue lacks it (intake's is
        newer, or it was removed): an event that needs it fails and is dead-lettered, to be replayed
        once the catalogue has it, and an official's decision is refused (409)."""
        procedure = self.procedure(procedure_code)
        if procedure is None:
            raise UnknownProcedure(f"procedure {procedure_code!r} is not in catalogue {self.catalogue.version}")
        return procedure.processing_time


def command_id(state: DossierState, operation: str) -> str:
    """Deterministic per bundle step (or dossier and operation): a retried decision re-sends the same command."""
    name = (
        f"bundle:{state.bundle_id}:{state.bundle_step}"
        if state.bundle_id
        else f"dossier:{state.dossier_id}:{operation}"
    )
    return str(uuid.uuid5(_COMMAND_NAMESPACE, name))


def responsible_agency(state: DossierState) -> str:
    """The agency whose officials act on the dossier now: the counter that received it while it waits
    to be accepted and once its result is ready to hand over (boundary-free: the citizen's counter),
    else the agency holding its current step."""
    if state.status in (DossierStatus.REGISTERED, DossierStatus.PROCESSED):
        return state.receiving_agency
    return state.agency


def take_charge(dossier: Dossier, command: OpenDossier, rules: Rules) -> None:
    """Open the dossier; a received one goes straight to processing unless its bundle holds it."""
    dossier.open(command.opened)
    if command.received_at is not None:
        receive(dossier, rules, received_at=command.received_at)


def receive(dossier: Dossier, rules: Rules, *, received_at: datetime, official_id: str | None = None) -> None:
    """Received: the appointment intake announced (else the statutory time from now), then processing."""
    due = _appointment(dossier.state, rules, received_at)
    dossier.receive(received_at=received_at, due_at=due, official_id=official_id)
    if not dossier.state.held:
        begin_processing(dossier, rules, step_due_at=due)


def _appointment(state: DossierState, rules: Rules, received_at: datetime) -> datetime:
    return state.announced_due_at or deadlines.appointment(
        rules.calendar, received_at, rules.processing_time(state.procedure_code)
    )


def begin_processing(
    dossier: Dossier, rules: Rules, *, step_due_at: datetime, moved_due_at: datetime | None = None
) -> None:
    """First processing step at the competent agency; a registry-performed procedure is sent as a command.
    ``moved_due_at``: the dossier's appointment, when it moves as the step starts."""
    state = dossier.state
    dossier.start_step("processing", state.competent_agency, step_due_at, due_at=moved_due_at)
    procedure = rules.procedure(state.procedure_code)
    if procedure is not None and isinstance(procedure.performer, RegistryPerformer):
        performer = procedure.performer
        dossier.request_registry(
            reg.RegistryCommandRequested(
                command_id=command_id(state, performer.operation),
                system=performer.system,
                operation=performer.operation,
                dossier_id=state.dossier_id,
                bundle_id=state.bundle_id,
                step_id=state.bundle_step,
                data=dict(state.form),
                requested_at=dossier.now,
                dossier_code=state.code,
                procedure_code=state.procedure_code,
                agency=state.competent_agency,
            )
        )


def release_step(
    dossier: Dossier,
    rules: Rules,
    *,
    bundle_id: str,
    step_id: str,
    inputs: dict[str, Any],
    step_time: ProcessingTime,
    first: bool,
    bundle_due_at: datetime | None = None,
    earlier_late: bool = False,
) -> None:
    """The saga starts the dossier's step. A later step's dossier is received with the bundle, its
    appointment the bundle's (``bundle_due_at``) unless intake announced one; the first step of an
    online bundle still waits for an official's acceptance like any online dossier. A later step
    intake received at the counter (held since) keeps intake's date, moved to ``bundle_due_at`` when
    that is later: the office time earlier steps waited for the citizen's supplements.

    The bundle's date caps the step while the earlier steps kept to their own times: what is left of
    the bundle's limit is this step's share. Once an earlier agency was late (``earlier_late``), or the
    date already passed, the lateness is that agency's: this step gets at least its own step's time
    from now, and is judged on that (it was capped to the minutes left, or born overdue, and the police
    were counted late for the commune, the more so the closer to the date the commune finished)."""
    dossier.release(bundle_id, step_id, inputs)
    state = dossier.state
    now = dossier.now
    step_due = deadlines.appointment(rules.calendar, now, step_time)

    def fair(due: datetime) -> datetime:
        return step_due if due < now or (earlier_late and due < step_due) else due

    moved: datetime | None = None
    if state.status is DossierStatus.REGISTERED:
        if first:
            return
        due = state.announced_due_at or bundle_due_at or _appointment(state, rules, now)
        dossier.receive(received_at=now, due_at=fair(due))
    elif state.due_at is not None and bundle_due_at is not None and bundle_due_at > state.due_at:
        moved = bundle_due_at
    if state.status is DossierStatus.RECEIVED:
        due_at = moved or state.due_at
        if due_at is not None and (fairer := fair(due_at)) != due_at:
            due_at = moved = fairer
        if due_at is not None and due_at < step_due:
            step_due = due_at  # the bundle's appointment caps each step
        begin_processing(dossier, rules, step_due_at=step_due, moved_due_at=moved)


def decide(dossier: Dossier, command: MakeDecision, rules: Rules) -> None:
    """Apply an official's decision; IllegalTransition (409) or InvalidDecision (422) when it cannot be.
    A refusal names the decision the official made, not the lifecycle move behind it."""
    try:
        _decide(dossier, command, rules)
    except IllegalTransition as exc:
        if exc.action == command.decision:
            raise
        raise IllegalTransition(command.decision, exc.status, exc.detail) from None
    except UnknownProcedure as exc:
        raise IllegalTransition(command.decision, dossier.state.status, str(exc)) from None


#: The fields only one decision takes. Sent with another, they were dropped and the decision made: an
#: official who filled the wrong fields was told it went through, and their data was lost.
_TAKEN_BY = {"to_agency": "forward", "amount": "request_payment", "new_due_at": "extend", "result": "approve"}


def _decide(dossier: Dossier, command: MakeDecision, rules: Rules) -> None:
    state = dossier.state
    if command.documents and command.decision != "request_supplement":
        raise InvalidDecision("documents", "only a supplement request names documents")
    for name, decision in _TAKEN_BY.items():
        if getattr(command, name) and command.decision != decision:
            raise InvalidDecision(name, f"only {decision} takes it (this decision is {command.decision})")
    if command.decision in NEEDS_REASON and not (command.reason or "").strip():
        raise InvalidDecision("reason", f"a reason is required to {command.decision.replace('_', ' ')}")
    if state.held:
        raise IllegalTransition(command.decision, state.status, "it waits for an earlier step of its bundle")
    if state.waiting_for_registry and command.decision in _REGISTRY_DECISIONS:
        raise IllegalTransition(command.decision, state.status, "an external registry is performing it")
    reason = (command.reason or "").strip()
    match command.decision:
        case "accept":
            receive(dossier, rules, received_at=dossier.now, official_id=command.official_id)
        case "approve":
            _approve(dossier, command, rules)
        case "reject":
            if state.at_reception:
                dossier.refuse(reason, command.official_id)
            else:
                dossier.stop(reason, command.official_id)
        case "request_supplement":
            requested = _requested_documents(command.documents, rules.procedure(state.procedure_code))
            dossier.request_supplement(reason, command.official_id, requested)
        case "request_payment":
            amount = command.amount if command.amount is not None else state.fee
            if amount <= 0:
                raise InvalidDecision("amount", "the procedure has no fee; state an amount above 0")
            dossier.request_payment(amount, command.official_id)
        case "forward":
            _forward(dossier, command, rules)
        case "return_result":
            dossier.return_result(command.official_id)
        case "verify":
            _verify(dossier, command, rules)
        case "extend":
            if command.new_due_at is None:
                raise InvalidDecision("new_due_at", "an extension needs the new return date")
            if not rules.calendar.is_working_day(command.new_due_at):
                raise InvalidDecision("new_due_at", "the citizen is told to come back then: it must be a working day")
            new_due = command.new_due_at
            if not rules.calendar.is_office_time(new_due):
                # Form 04 states a date; given as midnight (or any hour the office is shut), the dossier
                # would be overdue before the office opened that day: it is due at its close.
                new_due = rules.calendar.closing_time(new_due)
            # Compared as dates, not instants: form 04 gives the citizen a new return date. 17:00 on the
            # day of an appointment a supplement's wait had moved to 08:30 was accepted, the letter
            # naming the date the citizen already had, and the dossier was counted late for it.
            current_day = _vietnam_date(state.due_at) if state.due_at is not None else None
            if current_day is not None and _vietnam_date(new_due) <= current_day:
                raise InvalidDecision("new_due_at", f"must be after the current appointment date ({current_day})")
            if new_due > (state.due_at or dossier.now) + MAX_EXTENSION:
                raise InvalidDecision("new_due_at", "at most a year after the current appointment date")
            dossier.extend(reason, new_due, command.official_id)


def _vietnam_date(t: datetime) -> date:
    """The Vietnamese calendar date of instant ``t``, as the citizen's papers state it."""
    return t.astimezone(vietnam_tz()).date()


#: The furthest an apology letter may put the appointment off: a date past it is a typing slip (the
#: overdue alert would be silenced for years while the letter stood).
MAX_EXTENSION = timedelta(days=366)


def _requested_documents(kinds: Sequence[str], procedure: Procedure | None) -> list[wf.RequestedDocument]:
    """The documents a supplement request names: only the procedure's own, which is all the law lets
    an official ask for."""
    requested = []
    for kind in dict.fromkeys(kinds):
        document = procedure.document(kind) if procedure else None
        if document is None:
            code = procedure.code if procedure else "its procedure"
            raise InvalidDecision("documents", f"{kind!r} is not a document of {code}")
        requested.append(wf.RequestedDocument(kind=kind, name=document.name_vi))
    return requested


def _approve(dossier: Dossier, command: MakeDecision, rules: Rules) -> None:
    state = dossier.state
    procedure = rules.procedure(state.procedure_code)
    data = results.result_data(
        procedure,
        dossier_id=state.dossier_id,
        form=state.form,
        stated=command.result,
        issued_at=dossier.now,
        province_code=rules.province_code,
        draw=command.number_draw,
        takers=rules.takers.get(state.procedure_code),
    )
    name = procedure.result.document_name_vi if procedure else "Kết quả giải quyết"
    code = results.result_code(state.code, len(state.results) + 1)
    dossier.issue_result(name, data, code, command.official_id)


def _verify(dossier: Dossier, command: MakeDecision, rules: Rules) -> None:
    """The case needs verification (xác minh): where the law allows it, the appointment moves to the
    procedure's longer limit from reception (moved by the citizen's waits so far, as the shorter one
    was), and the dossier is not late for it, as it would be after an apology letter. Once."""
    state = dossier.state
    if state.status is not DossierStatus.PROCESSING:
        raise IllegalTransition("verify", state.status, "verification is decided while the dossier is processed")
    if state.verified:
        raise IllegalTransition("verify", state.status, "verification was already decided for this dossier")
    if state.bundle_id is not None:
        raise IllegalTransition("verify", state.status, "a bundle's step keeps the bundle's date (not supported)")
    if state.overdue or state.apologized or (state.due_at is not None and dossier.now > state.due_at):
        # Decided once the dossier is late (its date passed, a second supplement request, an apology
        # letter), it would turn a late dossier into an on-time one.
        raise IllegalTransition("verify", state.status, "the dossier is already late: verification comes before")
    time = rules.processing_time(state.procedure_code)
    if time.extended_amount is None or state.received_at is None:
        raise InvalidDecision("decision", "the law allows this procedure no longer limit for verification")
    limit = deadlines.appointment(rules.calendar, state.received_at, time, verification=True)
    due = rules.calendar.add_working_seconds(limit, state.paused_seconds) if state.paused_seconds else limit
    if state.due_at is not None and due <= state.due_at:
        raise IllegalTransition("verify", state.status, "the appointment is already past the verification limit")
    dossier.start_step(
        VERIFICATION_STEP, state.agency, due, command.official_id, due_at=due, reason=(command.reason or "").strip()
    )


def _forward(dossier: Dossier, command: MakeDecision, rules: Rules) -> None:
    state = dossier.state
    target = (command.to_agency or "").strip()
    if not target:
        raise InvalidDecision("to_agency", "forwarding needs the agency to forward to")
    if not rules.knows_agency(target):
        raise InvalidDecision("to_agency", f"unknown agency code {target!r}")
    if target == state.agency:
        raise InvalidDecision("to_agency", "the dossier is already at this agency")
    dossier.forward(target, command.reason, command.official_id)
    step_due = state.step_due_at or state.due_at or dossier.now
    dossier.start_step("processing", target, step_due)  # no official of the target agency has it yet

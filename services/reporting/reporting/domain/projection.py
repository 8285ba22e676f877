"""How each event changes the facts of its dossier or bundle. Pure functions, no I/O.

Live projection and rebuild both call :func:`apply`, so a rebuild replays exactly the rules the
live consumer applied. Interleaving across topics differs between the two, hence the rules of
:mod:`reporting.domain.facts`: status and agency follow the event time (workflow wins a tie over
intake), ends and receptions keep the first (but a bundle workflow ran again after ending it
partially ends at its last end), counters add.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from contracts.envelope import EventPayload
from contracts.events import intake, registry, workflow
from contracts.events.common import Document, DossierStatus
from reporting.domain.facts import NOT_STARTED, PROCESSED, REFUSED, STOPPED, WITHDRAWN, BundleFacts, DossierFacts

#: Workflow owns the lifecycle: on equal times its status wins over the one intake stated.
INTAKE_RANK, WORKFLOW_RANK = 0, 1
_STATUS_CODES = {status: status.code for status in DossierStatus}
#: An electronic result's code: ``<dossier code>-KQ<n>`` (DOMAIN.md, dossier code).
ELECTRONIC_RESULT = re.compile(r"-KQ\d+$")


def subject_of(payload: EventPayload) -> tuple[str, str] | None:
    """("dossier", id) or ("bundle", id): the row an event is about; None for neither."""
    kind = _SUBJECT_KIND.get(type(payload))
    if kind is None:
        kind = _SUBJECT_KIND[type(payload)] = _subject_kind(type(payload))
    key = getattr(payload, f"{kind}_id", None) if kind else None
    return (kind, key) if kind and isinstance(key, str) else None


def _subject_kind(cls: type[EventPayload]) -> str:
    if issubclass(cls, intake.BundleSubmitted | workflow.BundleEvent):
        return "bundle"
    return "dossier" if "dossier_id" in cls.model_fields else ""


_SUBJECT_KIND: dict[type[EventPayload], str] = {}


def apply(facts: DossierFacts | BundleFacts, payload: EventPayload, occurred_at: datetime) -> None:
    """Change ``facts`` for one event (each event is applied at most once: callers deduplicate)."""
    facts.events += 1
    if isinstance(facts, DossierFacts) and (facts.last_event_at is None or occurred_at > facts.last_event_at):
        facts.last_event_at = occurred_at
    rule = _RULES.get(type(payload))
    if rule is not None:
        rule(facts, payload)
    elif isinstance(facts, DossierFacts) and isinstance(payload, workflow.DossierEvent):
        _lifecycle(facts, payload)  # a lifecycle event type added later still moves the status


def _set_status(facts: DossierFacts, status: str, code: int, at: datetime, rank: int, agency: str | None) -> None:
    if facts.status_at is None or (at, rank) >= (facts.status_at, facts.status_rank):
        facts.status, facts.status_code, facts.status_at, facts.status_rank = status, code, at, rank
        if agency:
            facts.agency = agency


def _end(facts: DossierFacts, kind: str, at: datetime, on_time: bool | None = None) -> None:
    """The first end counts; workflow's 766 judgement of it (``on_time``), when it gives one, with it."""
    if facts.ended_at is None:
        facts.ended_at, facts.end_kind = at, kind
        if on_time is not None:
            facts.on_time_flag = on_time


def _add_documents(facts: DossierFacts, documents: list[Document]) -> None:
    """The dossier's components with these: one per kind, the latest of a kind replacing the earlier
    (a supplement re-sending the scan of a paper one). Counted as a second document, it kept the
    dossier from "fully digitised" and halved its reuse."""
    if facts.docs_total and not facts.doc_kinds:  # projected before components were kept by kind
        facts.docs_total += len(documents)
        facts.docs_digitized += sum(d.digitized for d in documents)
        facts.docs_reused += sum(d.reused for d in documents)
        facts.docs_national_store += sum(d.from_national_store for d in documents)
        return
    flags = dict(entry.rsplit(":", 1) for entry in facts.doc_kinds)
    for d in documents:
        flags[d.kind] = f"{d.digitized:d}{d.reused:d}{d.from_national_store:d}"
    facts.doc_kinds = sorted(f"{kind}:{f}" for kind, f in flags.items())
    facts.docs_total = len(flags)
    facts.docs_digitized, facts.docs_reused, facts.docs_national_store = (
        sum(f[i] == "1" for f in flags.values()) for i in range(3)
    )


# -- intake.events -----------------------------------------------------------------------------


def _submitted(facts: DossierFacts, e: intake.DossierSubmitted) -> None:
    facts.code, facts.procedure_code, facts.channel = e.code, e.procedure_code, e.channel
    facts.receiving_agency, facts.competent_agency = e.receiving_agency, e.competent_agency
    facts.bundle_id, facts.bundle_step, facts.fee = e.bundle_id, e.bundle_step, e.fee
    facts.submitted_at, facts.intake_received_at, facts.intake_due_at = e.submitted_at, e.received_at, e.due_at
    _add_documents(facts, e.documents)
    at = e.received_at or e.submitted_at
    _set_status(facts, e.status.value, _STATUS_CODES[e.status], at, INTAKE_RANK, None)
    if facts.agency is None:
        facts.agency = e.competent_agency


def _supplement_provided(facts: DossierFacts, e: intake.SupplementProvided) -> None:
    _add_documents(facts, e.documents)


def _fee_paid(facts: DossierFacts, e: intake.FeePaid) -> None:
    facts.paid = True
    facts.paid_online = facts.paid_online or e.online


def _rated(facts: DossierFacts, e: intake.SatisfactionRated) -> None:
    if facts.rated_at is None or e.rated_at >= facts.rated_at:  # the citizen's latest rating counts
        facts.rating_score, facts.rated_at = e.score, e.rated_at
        facts.rating_complaint = bool(e.complaint and e.complaint.strip())


def _withdrawal_requested(facts: DossierFacts, e: intake.WithdrawalRequested) -> None:
    if facts.withdrawal_requested_at is None or e.requested_at < facts.withdrawal_requested_at:
        facts.withdrawal_requested_at = e.requested_at


# -- workflow.events ---------------------------------------------------------------------------


def _lifecycle(facts: DossierFacts, e: workflow.DossierEvent) -> None:
    facts.code = facts.code or e.code
    # Optional fields newer contract versions add; read defensively so older events still apply.
    facts.bundle_id = facts.bundle_id or getattr(e, "bundle_id", None)
    facts.procedure_code = facts.procedure_code or getattr(e, "procedure_code", None)
    _set_status(facts, e.status.value, e.status_code, e.at, WORKFLOW_RANK, e.agency)


def _received(facts: DossierFacts, e: workflow.DossierReceived) -> None:
    _lifecycle(facts, e)
    facts.procedure_code = facts.procedure_code or e.procedure_code
    if facts.received_at is None:
        facts.received_at, facts.first_due_at = e.at, e.due_at
    facts.due_at = e.due_at


def _supplement_requested(facts: DossierFacts, e: workflow.SupplementRequested) -> None:
    _lifecycle(facts, e)
    facts.supplement_requests = max(facts.supplement_requests, e.request_number)
    facts.paused_since = e.at
    if e.request_number >= 2:  # 766: more than one supplement request counts as overdue
        _late_from(facts, e.at)


def _step_started(facts: DossierFacts, e: workflow.DossierStepStarted) -> None:
    _lifecycle(facts, e)
    if facts.processing_started_at is None or e.at < facts.processing_started_at:
        facts.processing_started_at = e.at
    if e.due_at is not None and facts.received_at is not None:  # a later bundle step's date, moved
        facts.due_at = e.due_at


def _supplement_received(facts: DossierFacts, e: workflow.SupplementReceived) -> None:
    _lifecycle(facts, e)
    facts.paused_seconds += e.paused_seconds
    facts.paused_since = None
    if facts.received_at is not None:
        facts.due_at = e.due_at
    # else it was sent back before acceptance: its due_at ends a fresh acceptance window, and a dossier
    # refused or withdrawn before acceptance has no appointment to be late for.


def _payment_requested(facts: DossierFacts, e: workflow.PaymentRequested) -> None:
    _lifecycle(facts, e)
    facts.obligation_amount = max(facts.obligation_amount, e.amount)


def _payment_confirmed(facts: DossierFacts, e: workflow.PaymentConfirmed) -> None:
    _lifecycle(facts, e)
    facts.obligation_amount = max(facts.obligation_amount, e.amount)
    facts.paid = True
    facts.paid_online = facts.paid_online or e.online


def _ending(kind: str) -> Callable[[DossierFacts, workflow.DossierEvent], None]:
    """The rule of an ending event of ``kind``; a bundle step that never started (``step_started``
    false on a stop or a withdrawal) ends as NOT_STARTED, whatever the event."""

    def rule(facts: DossierFacts, e: workflow.DossierEvent) -> None:
        _lifecycle(facts, e)
        started = getattr(e, "step_started", True)
        _end(facts, kind if started else NOT_STARTED, e.at, getattr(e, "on_time", None))

    return rule


def _result_issued(facts: DossierFacts, e: workflow.ResultIssued) -> None:
    _lifecycle(facts, e)
    _end(facts, PROCESSED, e.at, e.on_time)
    facts.result_code = e.result_code
    facts.result_electronic = bool(ELECTRONIC_RESULT.search(e.result_code))


def _result_returned(facts: DossierFacts, e: workflow.ResultReturned) -> None:
    _lifecycle(facts, e)
    _end(facts, PROCESSED, e.at)  # no-op after ResultIssued; a result returned is a result issued
    facts.returned_at = facts.returned_at or e.at


def _overdue(facts: DossierFacts, e: workflow.DossierOverdue) -> None:
    _lifecycle(facts, e)
    facts.overdue_flagged = True
    _late_from(facts, e.at)


def _late_from(facts: DossierFacts, at: datetime) -> None:
    """The dossier is late for good from ``at`` on (the earliest such moment: order-free)."""
    facts.late_since = at if facts.late_since is None else min(facts.late_since, at)


def _acceptance_overdue(facts: DossierFacts, e: workflow.AcceptanceOverdue) -> None:
    _lifecycle(facts, e)
    facts.acceptance_late_at = facts.acceptance_late_at or e.at


def _apology(facts: DossierFacts, e: workflow.ApologyLetterIssued) -> None:
    _lifecycle(facts, e)
    facts.apology_letters += 1
    facts.apology_due_at = e.new_due_at


# -- registry.commands / registry.events -------------------------------------------------------


def _registry_requested(facts: DossierFacts, e: registry.RegistryCommandRequested) -> None:
    facts.registry_commands += 1
    facts.code = facts.code or getattr(e, "dossier_code", None)
    facts.procedure_code = facts.procedure_code or getattr(e, "procedure_code", None)
    facts.population_data_used = facts.population_data_used or e.system == "population_db"


def _registry_failed(facts: DossierFacts, e: registry.RegistryCommandFailed) -> None:
    facts.registry_failures += 1


def _portal_synced(facts: DossierFacts, e: registry.PortalSyncSucceeded) -> None:
    facts.portal_syncs += 1
    facts.portal_lag_sum += e.lag_seconds
    facts.portal_lag_max = max(facts.portal_lag_max, e.lag_seconds)
    if facts.portal_first_synced_at is None or e.synced_at < facts.portal_first_synced_at:
        facts.portal_first_synced_at = e.synced_at


def _portal_failed(facts: DossierFacts, e: registry.PortalSyncFailed) -> None:
    facts.portal_sync_failures += 1


# -- bundles -----------------------------------------------------------------------------------


def _bundle_submitted(facts: BundleFacts, e: intake.BundleSubmitted) -> None:
    facts.bundle_type, facts.channel, facts.receiving_agency = e.bundle_type, e.channel, e.receiving_agency
    facts.submitted_at, facts.steps_total = e.submitted_at, len(e.steps)


def _bundle_step_started(facts: BundleFacts, e: workflow.BundleStepStarted) -> None:
    facts.bundle_type = facts.bundle_type or e.bundle_type
    facts.steps_started += 1
    if _ended_partially_before(facts, e.at):
        # Workflow's sweep runs a bundle again that an older replica ended partially during a rolling
        # deploy, to start the step the citizen chose that it left held; the bundle ends a second time
        # once that step has run. Kept ended, it was never in progress again and its end-to-end time
        # stopped at the first end for good. A step start replayed late from the dead letters is from
        # before the end: it reopens nothing.
        facts.ended_at = facts.outcome = facts.failed_step = None


def _bundle_completed(facts: BundleFacts, e: workflow.BundleCompleted) -> None:
    facts.bundle_type = facts.bundle_type or e.bundle_type
    if facts.ended_at is None:
        facts.ended_at, facts.outcome = e.at, "completed"


def _bundle_partial(facts: BundleFacts, e: workflow.BundlePartiallyCompleted) -> None:
    """The first end, or a later partial end of a bundle workflow ran again. The second end may come
    before the step start that reopened the bundle, when that start waits in the dead letters: kept at
    the first end, the late start then reopened the bundle for good, no end coming after it. The first
    end replayed late is older than the second: it changes nothing."""
    facts.bundle_type = facts.bundle_type or e.bundle_type
    if facts.ended_at is None or _ended_partially_before(facts, e.at):
        facts.ended_at, facts.outcome, facts.failed_step = e.at, "partial", e.failed_step


def _ended_partially_before(facts: BundleFacts, at: datetime) -> bool:
    """Only a partial end is followed by more: workflow runs a bundle again only for a step before its
    failure (a completed bundle has none left). Instants, not arrival order, decide: one bundle's events
    come in stream order in a rebuild, but not once the dead letters are replayed."""
    return facts.outcome == "partial" and facts.ended_at is not None and at > facts.ended_at


_RULES: dict[type[EventPayload], Callable[[Any, Any], None]] = {
    intake.DossierSubmitted: _submitted,
    intake.SupplementProvided: _supplement_provided,
    intake.FeePaid: _fee_paid,
    intake.SatisfactionRated: _rated,
    intake.WithdrawalRequested: _withdrawal_requested,
    intake.BundleSubmitted: _bundle_submitted,
    workflow.DossierReceived: _received,
    workflow.DossierStepStarted: _step_started,
    workflow.DossierRefused: _ending(REFUSED),
    workflow.SupplementRequested: _supplement_requested,
    workflow.SupplementReceived: _supplement_received,
    workflow.PaymentRequested: _payment_requested,
    workflow.PaymentConfirmed: _payment_confirmed,
    workflow.WithdrawalAccepted: _ending(WITHDRAWN),
    workflow.DossierStopped: _ending(STOPPED),
    workflow.ResultIssued: _result_issued,
    workflow.ResultReturned: _result_returned,
    workflow.DossierOverdue: _overdue,
    workflow.AcceptanceOverdue: _acceptance_overdue,
    workflow.ApologyLetterIssued: _apology,
    workflow.BundleStepStarted: _bundle_step_started,
    workflow.BundleCompleted: _bundle_completed,
    workflow.BundlePartiallyCompleted: _bundle_partial,
    registry.RegistryCommandRequested: _registry_requested,
    registry.RegistryCommandFailed: _registry_failed,
    registry.PortalSyncSucceeded: _portal_synced,
    registry.PortalSyncFailed: _portal_failed,
}

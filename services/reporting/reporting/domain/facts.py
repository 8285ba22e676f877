"""What reporting knows about one dossier and one linked bundle: the facts the metrics are counted from.

One row per dossier (``rm_dossiers``) and per bundle (``rm_bundles``). Events of one dossier arrive in
order within a topic but not across topics (intake, workflow and registry events interleave differently
on every replay), so every fact is written in a way that gives the same result in any interleaving:
each topic owns its own columns, "latest" facts compare event times, counters only add.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from dataclasses import field as default_of
from datetime import datetime

#: Ending kinds: how a dossier left processing. All count as resolved for the on-time rate (766 rules).
PROCESSED, REFUSED, WITHDRAWN, STOPPED = "processed", "refused", "withdrawn", "stopped"
#: How a bundle step ends that was stopped before it started (an earlier step failed): no agency had
#: it, so it is neither resolved nor judged.
NOT_STARTED = "not_started"
#: Outcomes of a resolved dossier.
EARLY, ON_TIME, OVERDUE = "early", "on_time", "overdue"


@dataclass(slots=True)
class DossierFacts:
    """The projection of one dossier's events; each field is a column of ``rm_dossiers``."""

    dossier_id: str
    code: str | None = None
    procedure_code: str | None = None
    field: str | None = None  # derived from the catalogue: the procedure's field (lĩnh vực)
    channel: str | None = None
    receiving_agency: str | None = None
    competent_agency: str | None = None
    agency: str | None = None  # the agency holding the dossier now
    bundle_id: str | None = None
    bundle_step: str | None = None
    fee: int = 0
    obligation_amount: int = 0
    paid: bool = False
    paid_online: bool = False
    submitted_at: datetime | None = None
    intake_received_at: datetime | None = None
    intake_due_at: datetime | None = None
    received_at: datetime | None = None
    #: When processing began (the first DossierStepStarted): at reception, or, for a later step of a
    #: bundle received at the counter and held for the earlier steps, when its bundle released it.
    processing_started_at: datetime | None = None
    due_at: datetime | None = None
    first_due_at: datetime | None = None
    apology_due_at: datetime | None = None
    status: str | None = None
    status_code: int | None = None
    status_at: datetime | None = None
    status_rank: int = 0
    ended_at: datetime | None = None
    end_kind: str | None = None
    returned_at: datetime | None = None
    on_time_flag: bool | None = None
    supplement_requests: int = 0
    paused_since: datetime | None = None
    paused_seconds: float = 0.0
    overdue_flagged: bool = False
    late_since: datetime | None = None  # the first DossierOverdue or second supplement request
    acceptance_late_at: datetime | None = None  # online, not accepted or sent back within 8 working hours
    apology_letters: int = 0
    withdrawal_requested_at: datetime | None = None
    docs_total: int = 0
    docs_digitized: int = 0
    docs_reused: int = 0
    docs_national_store: int = 0
    #: Each document component once, as "<kind>:<digitised><reused><from the store>" (1 or 0 each): a
    #: supplement's document of a kind the dossier has replaces it (the corrected scan of a paper one).
    doc_kinds: list[str] = default_of(default_factory=list)  # ("field" is a procedure field's name here)
    result_code: str | None = None
    result_electronic: bool = False
    rating_score: int | None = None
    rating_complaint: bool = False
    rated_at: datetime | None = None
    portal_syncs: int = 0
    portal_sync_failures: int = 0
    portal_first_synced_at: datetime | None = None
    portal_lag_sum: float = 0.0
    portal_lag_max: float = 0.0
    population_data_used: bool = False
    registry_commands: int = 0
    registry_failures: int = 0
    events: int = 0
    last_event_at: datetime | None = None
    outcome: str | None = None  # derived: early / on_time / overdue once ended
    resolution_days: float | None = None  # derived: working days from counting start to end, pauses excluded

    @property
    def effective_received_at(self) -> datetime | None:
        """Workflow's reception time, else the one intake stated."""
        return self.received_at or self.intake_received_at

    @property
    def effective_due_at(self) -> datetime | None:
        """The appointment date as workflow last moved it (supplement pauses), else intake's."""
        return self.due_at or self.intake_due_at


@dataclass(slots=True)
class BundleFacts:
    """The projection of one linked bundle (birth, death …). Field order is ``rm_bundles``' columns."""

    bundle_id: str
    bundle_type: str | None = None
    channel: str | None = None
    receiving_agency: str | None = None
    submitted_at: datetime | None = None
    steps_total: int = 0
    steps_started: int = 0
    ended_at: datetime | None = None
    outcome: str | None = None  # completed / partial
    failed_step: str | None = None
    events: int = 0
    e2e_days: float | None = None  # derived: working days from counting start to the bundle's end
    e2e_seconds: float | None = None  # derived: wall-clock seconds from submission to end


DOSSIER_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(DossierFacts))
BUNDLE_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(BundleFacts))

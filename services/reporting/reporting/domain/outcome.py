"""Derived facts: a resolved dossier's outcome (early, on time, overdue) and its resolution time in
working days, a bundle's end-to-end time; and the procedure's field. Computed from the facts alone, so
live projection and rebuild derive the same values.

The 766 rules (DOMAIN.md, processing progress): a dossier is on time if it ended (processed, returned,
refused or withdrawn) by its appointment date, time waiting for the citizen's supplement excluded; more
than one supplement request makes it overdue whatever the dates say.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date, datetime

from reporting.domain.facts import EARLY, NOT_STARTED, ON_TIME, OVERDUE, BundleFacts, DossierFacts
from workcal import HOURS_PER_WORKING_DAY, WorkCalendar, vietnam_tz

#: Procedures missing from the catalogue are reported under this field.
UNKNOWN_FIELD = "unknown"


class Derivation:
    """Computes derived columns with the working-day calendar and the catalogue's procedure fields."""

    def __init__(
        self, calendar: WorkCalendar, field_of_procedure: Mapping[str, str], first_bundle_steps: Collection[str] = ()
    ) -> None:
        self._calendar = calendar
        self._fields = field_of_procedure
        self._first_steps = frozenset(first_bundle_steps)
        # A working day is the calendar's office hours, which its configuration holds to 8 hours.
        self._day_seconds = HOURS_PER_WORKING_DAY * 3600

    def dossier(self, facts: DossierFacts) -> DossierFacts:
        """Fill ``field``, ``outcome`` and ``resolution_days``; returns ``facts``."""
        facts.field = self._fields.get(facts.procedure_code, UNKNOWN_FIELD) if facts.procedure_code else None
        facts.outcome = self.outcome(facts)
        facts.resolution_days = None if facts.end_kind == NOT_STARTED else self.resolution_days(facts)
        return facts

    def bundle(self, facts: BundleFacts) -> BundleFacts:
        """Fill the end-to-end times of an ended bundle; returns ``facts``."""
        if facts.ended_at is None or facts.submitted_at is None:
            facts.e2e_days = facts.e2e_seconds = None
            return facts
        start = self._calendar.counting_start(facts.submitted_at)
        office = max(self._calendar.working_seconds_between(start, facts.ended_at), 0.0)
        facts.e2e_days = round(office / self._day_seconds, 4)
        facts.e2e_seconds = round((facts.ended_at - facts.submitted_at).total_seconds(), 3)
        return facts

    def outcome(self, facts: DossierFacts) -> str | None:
        """early / on_time / overdue for an ended dossier; None while it is open, and for a bundle step
        stopped before it started (its agency never had it), which is then not counted as resolved."""
        if facts.ended_at is None:
            return None
        if facts.end_kind == NOT_STARTED:
            return None
        if facts.supplement_requests >= 2:
            return OVERDUE
        if facts.acceptance_late_at is not None:
            # An online dossier not accepted or sent back within its 8 working hours missed a limit
            # the law sets, whatever came after: refused without an appointment it counted as on time,
            # and accepting it late before refusing it would have made it so again.
            return OVERDUE
        due = facts.effective_due_at
        end = _clock_end(facts)
        if facts.on_time_flag is not None:  # workflow judged it when it issued the result
            on_time = facts.on_time_flag
        else:
            on_time = due is None or end <= due
        if not on_time:
            return OVERDUE
        if due is not None and self._local_date(end) < self._local_date(due):
            return EARLY
        return ON_TIME

    def resolution_days(self, facts: DossierFacts) -> float | None:
        """Working days from the counting start to the end, supplement waiting excluded. A later step
        of a bundle received at the counter counts from its release, not from the bundle's reception:
        the days it was held for the earlier steps (their agencies' work, the citizen's waits on them)
        are not its agency's, and the same step of an online bundle is received when released."""
        received = facts.effective_received_at
        if facts.ended_at is None or received is None:
            return None
        start = self._calendar.counting_start(max(received, self._released_at(facts) or received))
        office = self._calendar.working_seconds_between(start, _clock_end(facts)) - facts.paused_seconds
        return round(max(office, 0.0) / self._day_seconds, 4)

    def _released_at(self, facts: DossierFacts) -> datetime | None:
        """When a later step of a bundle began: its release (a counter bundle's was received with the
        bundle). Any other dossier's processing begins at its reception, stamped by workflow when it
        handles it: counted from that, the time workflow took (a backlog, an outage) was left out."""
        if facts.bundle_step is None or facts.bundle_step in self._first_steps:
            return None
        return facts.processing_started_at

    @staticmethod
    def _local_date(t: datetime) -> date:
        return t.astimezone(vietnam_tz()).date()


def _clock_end(facts: DossierFacts) -> datetime:
    """When the agency's clock stopped: the end, or the supplement request it was still waiting on."""
    assert facts.ended_at is not None
    if facts.paused_since is not None and facts.paused_since < facts.ended_at:
        return facts.paused_since
    return facts.ended_at

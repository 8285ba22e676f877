"""The read-only context every decision needs: catalogue, compiled forms, calendar. Built once per process."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from contracts.catalogue import Catalogue, ProcessingTime
from contracts.catalogue.formschema import FormValidator
from workcal import DurationUnit, StatutoryDuration, WorkCalendar


@dataclass(frozen=True)
class IntakeRules:
    """The catalogue with its forms compiled, and the working-day calendar."""

    catalogue: Catalogue
    calendar: WorkCalendar
    procedure_forms: Mapping[str, FormValidator]
    bundle_forms: Mapping[str, FormValidator]

    @classmethod
    def build(cls, catalogue: Catalogue, calendar: WorkCalendar) -> IntakeRules:
        """Compile every form; raises UnsupportedSchema at start-up, not on a citizen's request."""
        return cls(
            catalogue=catalogue,
            calendar=calendar,
            procedure_forms={code: FormValidator(p.form_schema) for code, p in catalogue.procedures.items()},
            bundle_forms={kind: FormValidator(b.form_schema) for kind, b in catalogue.bundles.items()},
        )

    def due_at(self, received_at: datetime, limit: ProcessingTime) -> datetime:
        """The appointment date of a dossier received at ``received_at`` with this statutory limit."""
        amount, unit = limit.limit()
        return self.calendar.due_at(received_at, StatutoryDuration(amount, DurationUnit(unit)))

"""Statutory processing times, as the procedure catalogue states them: in working days or working hours."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field
from pydantic.dataclasses import dataclass

# Statutory: 8 working hours make one working day.
HOURS_PER_WORKING_DAY = 8


class DurationUnit(StrEnum):
    """The two units a statutory processing time is given in."""

    WORKING_DAYS = "working_days"
    WORKING_HOURS = "working_hours"


@dataclass(frozen=True)
class StatutoryDuration:
    """A statutory time limit, e.g. ``StatutoryDuration(2, DurationUnit.WORKING_DAYS)``.

    ``amount`` is a whole number because the statutes give whole numbers; 0 working days means
    "within the same working day". A pydantic dataclass, so catalogue models can embed it and validate it.
    """

    amount: Annotated[int, Field(ge=0, description="How many units; 0 working days = the same working day.")]
    unit: Annotated[DurationUnit, Field(description="Working days or working hours.")]

    @classmethod
    def working_days(cls, amount: int) -> StatutoryDuration:
        return cls(amount, DurationUnit.WORKING_DAYS)

    @classmethod
    def working_hours(cls, amount: int) -> StatutoryDuration:
        return cls(amount, DurationUnit.WORKING_HOURS)

"""Value types every catalogue file shares: the model base, authority levels, statutory times.

Kept apart from the procedure, agency and bundle models so that each of those modules stays
small and none of them imports another just to reuse a type.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

AuthorityLevel = Literal["commune", "district", "province"]
"""The three tiers of Vietnamese local government a procedure or agency belongs to."""

LEVEL_RANK: dict[str, int] = {"commune": 0, "district": 1, "province": 2}
"""Order of the levels, for climbing (commune → district → province) and descending."""

TimeUnit = Literal["working_days", "working_hours"]

# A short lowercase ASCII word or words joined by underscores: fields, agency kinds, step ids.
SLUG_PATTERN = r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$"


class UnknownKey(KeyError):
    """Nothing in the catalogue has this key. Its message reads as given (KeyError's own quotes it)."""

    missing = "unknown key"  # the message when none is given

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else self.missing


class CatalogueModel(BaseModel):
    """Base of every catalogue model: immutable (the catalogue is shared and cached) and strict
    (an unknown key in a data file is a typo, and a typo must fail loading, not be ignored)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ProcessingTime(CatalogueModel):
    """A statutory time limit as the law states it.

    ``amount`` 0 in working days means "within the same working day": due at the close of the
    working day on which counting starts (the next working day for a dossier received after
    15:00) — the convention of ``workcal.StatutoryDuration``, which takes ``(amount, unit)`` as is.
    """

    amount: int = Field(ge=0, description="Number of units; 0 working days = the same working day.")
    unit: TimeUnit = Field(description="working_days or working_hours (8 working hours = 1 working day).")
    extended_amount: int | None = Field(
        default=None,
        ge=0,
        description="Limit, in the same unit, when the case needs verification (xác minh); null if the law "
        "allows no extension.",
    )
    confirmed: bool = Field(
        default=True,
        description="False where the statutory value could not be confirmed from a legal source: it is a "
        "configured value to review before production, not a quoted statute.",
    )

    @model_validator(mode="after")
    def _extension_not_shorter(self) -> Self:
        if self.extended_amount is not None and self.extended_amount < self.amount:
            raise ValueError(f"extended_amount {self.extended_amount} is shorter than amount {self.amount}")
        if self.unit == "working_hours" and 0 in (self.amount, self.extended_amount):
            # "Within the day" is 0 working days; 0 hours made every dossier overdue on its receipt.
            raise ValueError("0 working_hours is no time at all: write 'within the same day' as 0 working_days")
        return self

    @property
    def same_working_day(self) -> bool:
        """True when the result is due the day counting starts."""
        return self.amount == 0 and self.unit == "working_days"

    def limit(self, *, verification: bool = False) -> tuple[int, TimeUnit]:
        """``(amount, unit)`` to hand to the working-day calendar; the extended limit when the case
        needs verification and the law allows one."""
        if verification and self.extended_amount is not None:
            return self.extended_amount, self.unit
        return self.amount, self.unit

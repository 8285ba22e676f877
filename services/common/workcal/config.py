"""Calendar configuration: office hours, the intake cut-off and the yearly overrides, as data.

The government moves days off every year (make-up Saturdays, bridge days) and provinces set their own
office hours, so none of that is code: a service loads a ``CalendarConfig`` from its settings (a dict or
JSON) and builds a ``WorkCalendar`` from it in ``bootstrap``.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from workcal.durations import HOURS_PER_WORKING_DAY


class WorkPeriod(BaseModel):
    """One stretch of office time in a working day, in Vietnam wall-clock time."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: time = Field(description="When the period opens, e.g. 07:30 (no time zone: Vietnam time).")
    end: time = Field(description="When the period closes, e.g. 11:30; must be after start.")

    @field_validator("start", "end")
    @classmethod
    def _wall_clock(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError("work period times are Vietnam wall-clock times; give them without a time zone")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end <= self.start:
            raise ValueError(f"work period ends ({self.end}) before it starts ({self.start})")
        return self


#: Microseconds in a second: the calendar counts office time in them.
US = 1_000_000


def clock_us(t: time | datetime) -> int:
    """Microseconds since midnight of a wall-clock time."""
    return ((t.hour * 60 + t.minute) * 60 + t.second) * US + t.microsecond


_DEFAULT_PERIODS = (
    WorkPeriod(start=time(7, 30), end=time(11, 30)),
    WorkPeriod(start=time(13, 0), end=time(17, 0)),
)


class CalendarConfig(BaseModel):
    """Everything about the working-day calendar that is policy rather than arithmetic."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    work_periods: tuple[WorkPeriod, ...] = Field(
        default=_DEFAULT_PERIODS,
        description="Office periods of every working day, in order, adding up to 8 hours (the statutory "
        "working day: 8 working hours = 1 working day); default 07:30–11:30 and 13:00–17:00.",
    )
    intake_cutoff: time | None = Field(
        default=time(15, 0),
        description="A dossier received strictly after this time starts counting on the next working day; "
        "null disables the rule.",
    )
    extra_days_off: tuple[date, ...] = Field(
        default=(),
        description="Days off the holidays package does not know (a bridge day, a provincial decision). "
        "Wins over everything else.",
    )
    extra_working_days: tuple[date, ...] = Field(
        default=(),
        description="Days that are working days although a weekend or a listed holiday (e.g. a make-up Saturday).",
    )
    start_day_counts: bool = Field(
        default=True,
        description="True: the day counting starts is working day 1 and N working days end at the close of "
        "working day N. False: day 1 is the next working day after it (Civil Code 2015 art. 147 style).",
    )

    @field_validator("intake_cutoff")
    @classmethod
    def _cutoff_wall_clock(cls, value: time | None) -> time | None:
        if value is not None and value.tzinfo is not None:
            raise ValueError("the intake cut-off is a Vietnam wall-clock time; give it without a time zone")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if not self.work_periods:
            raise ValueError("at least one work period is needed")
        for earlier, later in zip(self.work_periods, self.work_periods[1:], strict=False):
            if later.start < earlier.end:
                raise ValueError(f"work periods must be in order and not overlap: {earlier} then {later}")
        office = sum(clock_us(p.end) - clock_us(p.start) for p in self.work_periods)
        if office != HOURS_PER_WORKING_DAY * 3600 * US:
            # Durations are statutory in working days or hours, one day being 8 hours: other office
            # hours would make "1 working day" and "8 working hours" end at different times.
            raise ValueError(
                f"work periods must add up to {HOURS_PER_WORKING_DAY} hours (a working day), not {office / 3600 / US:g}"
            )
        both = set(self.extra_days_off) & set(self.extra_working_days)
        if both:
            raise ValueError(f"dates both off and working: {sorted(both)}")
        return self

"""The working-day calendar of Vietnamese public offices: due dates, supplement pauses, SLA timers.

Shared by intake (a dossier's appointment date) and workflow (deadlines, paused supplement time).
Build a ``WorkCalendar`` from a ``CalendarConfig`` once per process; nothing happens at import time.
"""

from workcal.config import CalendarConfig, WorkPeriod
from workcal.days import PackageYear, vietnam_public_holidays
from workcal.durations import HOURS_PER_WORKING_DAY, DurationUnit, StatutoryDuration
from workcal.work_calendar import SUPPORTED_YEARS, TIME_ZONE, WorkCalendar, supported_year, vietnam_tz

__all__ = [
    "HOURS_PER_WORKING_DAY",
    "SUPPORTED_YEARS",
    "TIME_ZONE",
    "CalendarConfig",
    "DurationUnit",
    "PackageYear",
    "StatutoryDuration",
    "WorkCalendar",
    "WorkPeriod",
    "supported_year",
    "vietnam_public_holidays",
    "vietnam_tz",
]

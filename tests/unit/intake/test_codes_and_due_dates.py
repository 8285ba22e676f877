"""Dossier codes and appointment dates: the Vietnam calendar day, Tết 2027 and the 15:00 rule."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from contracts.catalogue import ProcessingTime
from intake.domain.codes import dossier_code, is_dossier_code, receipt_day, result_code
from intake.domain.rules import IntakeRules
from intake.domain.submission import plan_dossier
from tests.unit.intake.conftest import dossier_command
from tests.unit.intake.samples import birth_dossier
from workcal import vietnam_tz

SAME_DAY = ProcessingTime(amount=0, unit="working_days")
THREE_DAYS = ProcessingTime(amount=3, unit="working_days")
EIGHT_HOURS = ProcessingTime(amount=8, unit="working_hours")


def vn(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=vietnam_tz())


def test_code_format() -> None:
    assert dossier_code("UBND-X-YENHOA", date(2024, 6, 17), 1) == "UBND-X-YENHOA-240617-0001"
    assert dossier_code("CA-X-ANPHU", date(2027, 2, 3), 42) == "CA-X-ANPHU-270203-0042"
    assert is_dossier_code("UBND-X-YENHOA-240617-0001")
    assert result_code("UBND-X-YENHOA-240617-0001", 1) == "UBND-X-YENHOA-240617-0001-KQ1"


def test_a_busy_day_widens_the_number_instead_of_failing() -> None:
    assert dossier_code("TTPVHCC-BINHAN", date(2024, 6, 17), 10_000) == "TTPVHCC-BINHAN-240617-10000"
    with pytest.raises(ValueError):
        dossier_code("TTPVHCC-BINHAN", date(2024, 6, 17), 0)


def test_the_code_carries_the_vietnam_date() -> None:
    assert receipt_day(datetime.fromisoformat("2024-06-16T17:30:00+00:00")) == date(2024, 6, 17)  # 00:30 in Hà Nội
    assert receipt_day(datetime.fromisoformat("2024-06-17T16:59:59+00:00")) == date(2024, 6, 17)


def test_the_15_00_rule(rules: IntakeRules) -> None:
    assert rules.due_at(vn(2024, 6, 17, 15, 0), SAME_DAY) == vn(2024, 6, 17, 17, 0)
    assert rules.due_at(vn(2024, 6, 17, 15, 0, 1), SAME_DAY) == vn(2024, 6, 18, 17, 0)
    # Friday after 15:00: Monday.
    assert rules.due_at(vn(2024, 6, 21, 16, 0), SAME_DAY) == vn(2024, 6, 24, 17, 0)


def test_tet_2027_does_not_count(rules: IntakeRules) -> None:
    # Tết 2027: Thursday 4 to Wednesday 10 February are days off.
    assert rules.due_at(vn(2027, 2, 3, 14, 59), SAME_DAY) == vn(2027, 2, 3, 17, 0)
    assert rules.due_at(vn(2027, 2, 3, 15, 1), SAME_DAY) == vn(2027, 2, 11, 17, 0)
    assert rules.due_at(vn(2027, 2, 2, 10, 0), THREE_DAYS) == vn(2027, 2, 11, 17, 0)
    # 13:00–17:00 on the 3rd, then 07:30–11:30 on the first working day after Tết.
    assert rules.due_at(vn(2027, 2, 3, 13, 0), EIGHT_HOURS) == vn(2027, 2, 11, 11, 30)


def test_a_counter_dossier_after_15_00_on_friday_is_due_on_monday(rules: IntakeRules) -> None:
    plan = plan_dossier(dossier_command(birth_dossier("counter")), rules, vn(2024, 6, 21, 16, 0))
    assert plan.due_at == vn(2024, 6, 24, 17, 0)


def test_overridden_days_off_come_from_settings() -> None:
    from contracts.catalogue import load_catalogue
    from workcal import CalendarConfig, WorkCalendar

    config = CalendarConfig(extra_days_off=(date(2024, 6, 18),))
    rules = IntakeRules.build(load_catalogue(), WorkCalendar(config))
    assert rules.due_at(vn(2024, 6, 17, 16, 0), SAME_DAY) == vn(2024, 6, 19, 17, 0)

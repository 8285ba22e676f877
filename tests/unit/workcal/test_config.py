"""CalendarConfig and StatutoryDuration: defaults, loading from JSON, and what they refuse."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, time

import pytest
from pydantic import BaseModel, ValidationError

from workcal import CalendarConfig, DurationUnit, StatutoryDuration, WorkCalendar, vietnam_tz


def test_defaults_are_government_office_hours() -> None:
    config = CalendarConfig()
    assert [(p.start, p.end) for p in config.work_periods] == [
        (time(7, 30), time(11, 30)),
        (time(13, 0), time(17, 0)),
    ]
    assert config.intake_cutoff == time(15, 0)
    assert config.extra_days_off == config.extra_working_days == ()


def test_loads_from_json() -> None:
    config = CalendarConfig.model_validate_json(
        """{"work_periods": [{"start": "07:00", "end": "11:30"}, {"start": "13:30", "end": "17:00"}],
            "intake_cutoff": "15:30", "extra_days_off": ["2027-03-02"], "extra_working_days": ["2027-03-06"]}"""
    )
    assert config.work_periods[1].start == time(13, 30)
    assert config.extra_days_off == (date(2027, 3, 2),)
    assert WorkCalendar(config).is_working_day(date(2027, 3, 6))
    assert CalendarConfig.model_validate(config.model_dump(mode="json")) == config


@pytest.mark.parametrize(
    "data",
    [
        {"work_periods": []},
        {"work_periods": [{"start": "11:30", "end": "07:30"}]},
        {"work_periods": [{"start": "13:00", "end": "17:00"}, {"start": "07:30", "end": "11:30"}]},
        {"work_periods": [{"start": "07:30", "end": "13:30"}, {"start": "13:00", "end": "17:00"}]},
        {"extra_days_off": ["2027-03-06"], "extra_working_days": ["2027-03-06"]},
        {"intake_cutoff": "15:00+07:00"},
        {"holidays": []},
        {"work_periods": [{"start": "07:30", "end": "11:30"}, {"start": "13:00", "end": "17:30"}]},
    ],
    ids=[
        *("no periods", "backwards", "out of order", "overlapping", "off and working", "aware cutoff", "unknown"),
        "not 8 hours",
    ],
)
def test_refuses_inconsistent_configuration(data: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        CalendarConfig.model_validate(data)


def test_without_a_cutoff_counting_starts_the_same_day_until_closing() -> None:
    cal = WorkCalendar(CalendarConfig(intake_cutoff=None))
    assert cal.counting_start(datetime(2027, 3, 1, 16, 30, tzinfo=vietnam_tz())) == datetime(
        2027, 3, 1, 16, 30, tzinfo=vietnam_tz()
    )
    assert cal.counting_start(datetime(2027, 3, 1, 17, tzinfo=vietnam_tz())) == datetime(
        2027, 3, 2, 7, 30, tzinfo=vietnam_tz()
    )


def test_statutory_duration_is_frozen_and_validated() -> None:
    duration = StatutoryDuration(2, DurationUnit.WORKING_DAYS)
    assert duration == StatutoryDuration.working_days(2)
    assert hash(duration) == hash(StatutoryDuration.working_days(2))
    with pytest.raises(dataclasses.FrozenInstanceError):
        duration.amount = 3  # type: ignore[misc]
    with pytest.raises(ValidationError):
        StatutoryDuration.working_hours(-1)
    assert [unit.value for unit in DurationUnit] == ["working_days", "working_hours"]


def test_statutory_duration_validates_inside_a_catalogue_model() -> None:
    class Procedure(BaseModel):
        code: str
        processing_time: StatutoryDuration

    procedure = Procedure.model_validate({"code": "2.000986", "processing_time": {"amount": 3, "unit": "working_days"}})
    assert procedure.processing_time == StatutoryDuration.working_days(3)
    with pytest.raises(ValidationError):
        Procedure.model_validate({"code": "x", "processing_time": {"amount": 3, "unit": "fortnights"}})

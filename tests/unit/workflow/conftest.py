"""Workflow unit tests: the real domain and handlers over in-memory fakes of workflow's ports."""

from __future__ import annotations

from datetime import datetime

import pytest

from contracts.catalogue import Catalogue, load_catalogue
from tests.unit.workflow.builders import Harness
from workcal import WorkCalendar, vietnam_tz
from workflow.adapters.clock import SettableClock
from workflow.domain.policies import Rules


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="session")
def calendar() -> WorkCalendar:
    return WorkCalendar()


@pytest.fixture(scope="session")
def rules(catalogue: Catalogue, calendar: WorkCalendar) -> Rules:
    return Rules(catalogue=catalogue, calendar=calendar)


@pytest.fixture
def clock() -> SettableClock:
    """Monday 3 June 2024, 09:00 in Vietnam: an ordinary working morning."""
    return SettableClock(datetime(2024, 6, 3, 9, 0, tzinfo=vietnam_tz()))


@pytest.fixture
def harness(rules: Rules, clock: SettableClock) -> Harness:
    return Harness(rules, clock)

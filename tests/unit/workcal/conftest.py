"""One calendar with the default (package) holidays, shared by the workcal tests."""

from __future__ import annotations

import pytest

from workcal import WorkCalendar


@pytest.fixture(scope="session")
def cal() -> WorkCalendar:
    """Session-scoped so hypothesis tests can use it and the holiday cache is built once."""
    return WorkCalendar()

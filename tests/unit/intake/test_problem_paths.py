"""A problem's path names the field at fault, and its location can be read back from it exactly."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from intake.domain.problems import child_path, path_loc

STEPS = st.lists(st.one_of(st.integers(min_value=0, max_value=10**6), st.text(min_size=1, max_size=12)), max_size=6)


@given(STEPS)
def test_the_location_read_from_a_path_is_the_one_it_was_built_from(steps: list[str | int]) -> None:
    path = "$"
    for step in steps:
        path = child_path(path, step)
    assert path_loc(path) == steps


def test_a_path_it_did_not_write_keeps_its_rest_as_one_step() -> None:
    assert path_loc("$.form[oops") == ["form", "[oops"]

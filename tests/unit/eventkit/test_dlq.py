"""Dead letters: which ``--all`` replays (events, not bytes that never parsed as one), and the error
header they carry."""

from __future__ import annotations

from datetime import UTC, datetime

from eventkit.consumer import error_header
from eventkit.dlq import DeadLetter, worth_replaying


def letter(n: int, event_type: str | None) -> DeadLetter:
    at = datetime(2026, 12, 6, tzinfo=UTC)
    return DeadLetter(n, "workflow.intake", "intake.events", "d-1", event_type, "boom", 3, at, b"{}")


def test_bytes_that_never_parsed_are_left_out_of_a_replay_of_all() -> None:
    """The same bytes would fail again, and in every other consumer of the topic too."""
    events, unparsed = worth_replaying([letter(1, "DossierSubmitted"), letter(2, None), letter(3, "FeePaid")])
    assert [d.id for d in events] == [1, 3]
    assert [d.id for d in unparsed] == [2]


def test_a_dead_letters_error_header_is_bounded_in_bytes_between_characters() -> None:
    header = error_header("ệ" * 4000)  # three bytes each
    assert len(header) <= 4000 and header.decode() == "ệ" * 1333
    assert error_header("short") == b"short"

"""Dead letters: which ``--all`` replays (events, not bytes that never parsed as one), and the error
header they carry."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from eventkit.consumer import error_header
from eventkit.dlq import DeadLetter, env_setting, listed, main, worth_replaying


def letter(n: int, event_type: str | None) -> DeadLetter:
    at = datetime(2026, 12, 6, tzinfo=UTC)
    return DeadLetter(n, "workflow.intake", "intake.events", "d-1", event_type, "boom", 3, at)


def test_bytes_that_never_parsed_are_left_out_of_a_replay_of_all() -> None:
    """The same bytes would fail again, and in every other consumer of the topic too."""
    events, unparsed = worth_replaying([letter(1, "DossierSubmitted"), letter(2, None), letter(3, "FeePaid")])
    assert [d.id for d in events] == [1, 3]
    assert [d.id for d in unparsed] == [2]


def test_a_dead_letter_is_listed_in_vietnam_time_with_its_offset() -> None:
    """Listed in UTC without a zone, a letter of 01:00 in Hà Nội read as the day before's 18:00."""
    late = DeadLetter(7, "workflow.intake", "intake.events", "d-1", None, "boom\ntraceback", 3,
                      datetime(2026, 12, 6, 18, 0, tzinfo=UTC))  # fmt: skip
    fields = "7 2026-12-07 01:00:00+0700 workflow.intake intake.events (unparseable) attempts=3 boom"
    assert listed(late).split() == fields.split()


def test_a_dead_letters_error_header_is_bounded_in_bytes_between_characters() -> None:
    header = error_header("ệ" * 4000)  # three bytes each
    assert len(header) <= 4000 and header.decode() == "ệ" * 1333
    assert error_header("short") == b"short"


def test_the_tool_reads_the_service_s_own_variables_as_its_deployment_sets_them(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """In a pod only WORKFLOW_DATABASE_URL is set: the tool went to the local development server."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert env_setting("workflow", "DATABASE_URL", "local") == "local"
    monkeypatch.setenv("DATABASE_URL", "shared")
    assert env_setting("workflow", "DATABASE_URL", "local") == "shared"
    monkeypatch.setenv("WORKFLOW_DATABASE_URL", "own")
    assert env_setting("workflow", "DATABASE_URL", "local") == "own"
    assert env_setting("registry_sync", "DATABASE_URL", "local") == "shared"
    monkeypatch.setenv("REGISTRY_SYNC_DATABASE_URL", "its own")
    assert env_setting("registry_sync", "DATABASE_URL", "local") == "its own"


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--schema", "Bad-Schema"], "dlq: ValueError: invalid schema name 'Bad-Schema'"),
        (["--schema", "workflow", "--database-url", "nonsense"], "dlq: ValueError: not a URL"),
        (["--schema", "workflow", "--database-url", "mysql://u@127.0.0.1:1/x"], "dlq: ValueError: mysql:// is not"),
        (["--schema", "workflow", "--database-url", "postgresql+asyncpg://u@127.0.0.1:1/x"], "dlq: ConnectionRefused"),
        # Taken as asyncpg's, as the services take it: it was a psycopg traceback here.
        (["--schema", "workflow", "--database-url", "postgresql://u@127.0.0.1:1/x"], "dlq: ConnectionRefused"),
    ],
)
def test_a_wrong_argument_or_an_unreachable_server_is_one_line_not_a_stack_trace(args, error, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["list", *args]) == 1
    err = capsys.readouterr().err
    assert err.startswith(error) and err.count("\n") == 1, err


NOWHERE = ["--database-url", "postgresql+asyncpg://u@127.0.0.1:1/x"]  # never started: a connection is refused


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["discard", "--reason", "test event"], "dlq: discard needs --id N (repeatable)"),
        (["discard", "--all", "--reason", "test event"], "dlq: discard takes no --all: name each dead letter by"),
        (["discard", "--id", "3"], 'dlq: discard needs --reason "why these are not to be replayed" (not empty)'),
        (["discard", "--id", "3", "--reason", ""], "dlq: discard needs --reason"),
        (["discard", "--id", "3", "--reason", "  \n"], "dlq: discard needs --reason"),
        (["list", "--reason", "test event"], "dlq: --reason is for discard only"),
        (["replay", "--id", "3", "--reason", "test event"], "dlq: --reason is for discard only"),
    ],
)
def test_a_discard_without_ids_or_a_reason_is_refused_in_one_line_before_connecting(args, error, capsys) -> None:  # type: ignore[no-untyped-def]
    """A letter not to be replayed could not be let go: it stayed listed, went out again with every
    `replay --all`, and kept DeadLettersWaiting firing. Discarding is for letters named one by one, and
    says why for the next operator: anything less is refused (exit 2) before the database is reached."""
    assert main([*args, "--schema", "workflow", *NOWHERE]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(error) and captured.err.count("\n") == 1, captured.err
    assert captured.out == ""


def test_a_discard_of_named_letters_with_a_reason_goes_on_to_the_database(capsys) -> None:  # type: ignore[no-untyped-def]
    args = ["discard", "--schema", "workflow", "--id", "3", "--id", "4", "--reason", " sent by a test ", *NOWHERE]
    assert main(args) == 1
    assert capsys.readouterr().err.startswith("dlq: ConnectionRefused")

"""Which failures of a submission's statement leave its connection unusable: those must take it out of
the pool and fail the rest of its batch; the others are the submission's own refusal."""

from __future__ import annotations

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
import pytest

from intake.adapters.submissions import connection_broke


@pytest.mark.parametrize(
    ("error", "broke"),
    [
        # A session the server ended: it may say so first (57P01), a PostgreSQL error like any refusal.
        (asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"), True),
        (asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"), True),
        (asyncpg.exceptions.InterfaceError("connection is closed"), True),
        (asyncpg.exceptions.InternalClientError("cannot switch to state 12; another operation is in progress"), True),
        (ConnectionResetError(104, "Connection reset by peer"), True),
        (asyncpg.exceptions.UniqueViolationError("duplicate key value violates unique constraint"), False),
        (asyncpg.exceptions.SerializationError("could not serialize access"), False),
        (asyncpg.exceptions.DeadlockDetectedError("deadlock detected"), False),
    ],
)
def test_what_breaks_a_connection(error: Exception, broke: bool) -> None:
    assert connection_broke(error) is broke

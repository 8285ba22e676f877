"""Telling an outage from a bad statement: consumers wait out the first and dead-letter the second;
HTTP answers 503 for the first."""

from __future__ import annotations

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from eventkit.db import is_unavailable


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
        ConnectionRefusedError(111, "Connection refused"),
        TimeoutError(),
        OperationalError("SELECT 1", {}, Exception("server closed the connection")),
        DBAPIError("SELECT 1", {}, Exception("gone"), connection_invalidated=True),
        DBAPIError("SELECT 1", {}, asyncpg.exceptions.CannotConnectNowError("starting up")),
    ],
)
def test_outages_are_unavailable(error: BaseException) -> None:
    assert is_unavailable(error)


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.UniqueViolationError("duplicate key value violates unique constraint"),
        asyncpg.exceptions.QueryCanceledError("canceling statement due to statement timeout"),
        IntegrityError("INSERT", {}, asyncpg.exceptions.UniqueViolationError("duplicate key")),
        DBAPIError("SELECT", {}, Exception("syntax error")),
        ValueError("a bug"),
    ],
)
def test_bad_work_is_not(error: BaseException) -> None:
    assert not is_unavailable(error)

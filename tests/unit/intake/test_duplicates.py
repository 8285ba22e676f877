"""A refused duplicate names the open dossier only to that dossier's own applicant: in the domain, in
the 409 body, and on the database's path (one submission alone or in the group commit), with a fake
driver connection. (Against the real database: tests/integration/intake.)"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
import httpx
import pytest
from fastapi import FastAPI

from intake.adapters import group_commit as group_commit_module
from intake.adapters.group_commit import GroupCommit
from intake.adapters.submissions import SUBMIT, write_submission
from intake.domain.errors import DuplicateDossier, applicant_key, duplicate_of
from intake.entrypoints.errors import install_error_handlers
from intake.service_layer.pending_codes import PendingCodes
from intake.service_layer.ports import NewDossier, NewSubmission
from tests.unit.intake.samples import FATHER_ID, STRANGER_ID

AT = datetime(2024, 6, 17, 2, 0, tzinfo=UTC)
PROCEDURE = "1.000656"  # death registration: its subject is the deceased's ID number
OPEN_CODE = "UBND-X-YENHOA-240617-0001"
NO_CODE = "an open dossier of this procedure already exists for this subject"
PHONE = "0912345678"
FAMILY = applicant_key(FATHER_ID, PHONE)
STRANGER = applicant_key(STRANGER_ID, PHONE)
IMPOSTOR = applicant_key(FATHER_ID, "0987654321")  # the family's ID number, not its phone


def test_an_applicant_is_known_by_id_number_and_phone_together() -> None:
    """The ID number alone is the subject's for most procedures (an ID card's holder, a resident): the
    number whoever asks knows already. The phone is compared by its last nine digits."""
    assert applicant_key(FATHER_ID, "+84 912 345 678") == applicant_key(FATHER_ID, "0912345678") == FAMILY
    assert None not in (FAMILY, STRANGER, IMPOSTOR) and len({FAMILY, STRANGER, IMPOSTOR}) == 3
    assert applicant_key(FATHER_ID, None) is None and applicant_key(FATHER_ID, "") is None
    assert applicant_key(None, PHONE) is None and applicant_key(FATHER_ID, "1234") is None


def test_the_open_dossier_is_named_only_to_its_own_applicant() -> None:
    named = duplicate_of(PROCEDURE, OPEN_CODE, FAMILY, FAMILY)
    assert named.existing_code == OPEN_CODE and OPEN_CODE in str(named)
    for holder, applicant in ((FAMILY, STRANGER), (FAMILY, IMPOSTOR), (None, FAMILY), (FAMILY, None), (None, None)):
        refused = duplicate_of(PROCEDURE, OPEN_CODE, holder, applicant)
        assert (refused.existing_code, str(refused)) == (None, NO_CODE), (holder, applicant)


async def test_the_409_names_no_dossier_to_someone_else() -> None:
    """The body carried the code of another person's open dossier to anyone who knew its subject's ID number."""
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/stranger")
    async def stranger() -> None:
        raise duplicate_of(PROCEDURE, OPEN_CODE, FAMILY, IMPOSTOR)

    @app.post("/family")
    async def family() -> None:
        raise duplicate_of(PROCEDURE, OPEN_CODE, FAMILY, FAMILY)

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake") as client:
        to_stranger = await client.post("/stranger")
        to_family = await client.post("/family")
    assert to_stranger.status_code == to_family.status_code == 409
    assert to_stranger.json() == {"error": "duplicate_dossier", "detail": NO_CODE, "existing_code": None}
    assert OPEN_CODE not in to_stranger.text
    assert to_family.json()["existing_code"] == OPEN_CODE and OPEN_CODE in to_family.json()["detail"]


def submission(applicant_id_number: str) -> NewSubmission:
    codes = PendingCodes(1)
    row = NewDossier(
        dossier_id=f"d-{applicant_id_number}", code=codes.placeholder(0), procedure_code=PROCEDURE,
        channel="counter", receiving_agency="UBND-X-YENHOA", competent_agency="UBND-X-YENHOA", status="received",
        status_code=2, subject_key="deceased", submitted_at=AT, received_at=AT, due_at=None, fee=0, timeline=[],
        applicant_key=applicant_key(applicant_id_number, PHONE),
    )  # fmt: skip
    return NewSubmission(
        agency="UBND-X-YENHOA", day=date(2024, 6, 17), codes=codes, dossiers=[row], bundle=None, envelopes=[],
        topic="intake.events", status_code=201, reply={"code": codes.placeholder(0)},
    )  # fmt: skip


class SubjectTaken:
    """A driver connection on which the unique index refuses every submission: the deceased's open
    death registration, filed by ``FATHER_ID``, holds the subject (its code and its applicant's ID
    number, as the database reads them back)."""

    def is_in_transaction(self) -> bool:
        return False

    async def fetch(self, query: str, *args: Any) -> list[tuple[str, ...]]:
        if query == SUBMIT:
            raise asyncpg.UniqueViolationError.new({"C": "23505", "M": "duplicate key", "n": "dossiers_open_subject"})
        return [(PROCEDURE, "deceased", OPEN_CODE, FATHER_ID, PHONE)]


async def test_a_refused_submission_names_the_open_dossier_only_to_its_own_applicant() -> None:
    """A production submission (one statement, refused by the unique index) told anyone the code."""
    with pytest.raises(DuplicateDossier) as stranger:
        await write_submission(SubjectTaken(), submission(STRANGER_ID))
    with pytest.raises(DuplicateDossier) as family:
        await write_submission(SubjectTaken(), submission(FATHER_ID))
    assert (stranger.value.existing_code, str(stranger.value)) == (None, NO_CODE)
    assert family.value.existing_code == OPEN_CODE


@asynccontextmanager
async def subject_taken(_engine: Any) -> AsyncIterator[SubjectTaken]:
    yield SubjectTaken()


async def test_the_group_commit_hands_each_submission_its_own_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refused together, the batch is written again one by one: each waiter hears its own answer,
    the stranger without the code."""
    monkeypatch.setattr(group_commit_module, "pooled_driver_connection", subject_taken)
    group_commit = GroupCommit(None, max_batch=2, writers=1)  # type: ignore[arg-type]
    try:
        outcomes = await asyncio.gather(
            group_commit.submit(submission(STRANGER_ID)), group_commit.submit(submission(FATHER_ID)),
            return_exceptions=True,
        )  # fmt: skip
    finally:
        await group_commit.stop()
    stranger, family = outcomes
    assert group_commit.stats.refused == 1  # they went together first
    assert isinstance(stranger, DuplicateDossier) and stranger.existing_code is None
    assert isinstance(family, DuplicateDossier) and family.existing_code == OPEN_CODE

"""The one-statement submission (codes taken as it commits): the in-memory fake and PostgreSQL alike,
then what only the real database can show — concurrency without gaps or repeats."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.envelope import Envelope
from contracts.ids import uuid7
from intake.adapters.memory import InMemoryIntakeUnitOfWork
from intake.adapters.postgres import SqlIntakeUnitOfWork
from intake.domain.errors import DuplicateDossier, applicant_key
from intake.service_layer.pending_codes import PendingCodes
from intake.service_layer.ports import NewBundle, NewDossier, NewSubmission, StoredReply

pytestmark = pytest.mark.integration

UowFactory = Callable[[], Any]
AT = datetime(2024, 6, 17, 2, 0, tzinfo=UTC)
DAY = date(2024, 6, 17)
AGENCY = "UBND-X-YENHOA"
#: Every submission's applicant: a refused one is told the open dossier's code (theirs).
APPLICANT, PHONE = "036190000123", "0912345678"


def dossier(code: str, subject: str | None, bundle_id: str | None = None, position: int | None = None) -> NewDossier:
    return NewDossier(
        dossier_id=str(uuid7()), code=code, procedure_code="1.001193", channel="counter", receiving_agency=AGENCY,
        competent_agency=AGENCY, status="received", status_code=2, subject_key=subject, submitted_at=AT,
        received_at=AT, due_at=None, fee=0, timeline=[{"at": AT.isoformat(), "event": "DossierSubmitted"}],
        bundle_id=bundle_id, bundle_step="step" if bundle_id else None, bundle_position=position,
        applicant_key=applicant_key(APPLICANT, PHONE),
    )


def numbered(key: str, codes: list[str]) -> Envelope:
    payload = {"code": codes[0], "codes": codes, "note": "Mã hồ sơ: " + " ".join(codes)}
    payload["applicant"] = {"id_number": APPLICANT, "phone": PHONE}  # where a refusal reads whose dossier it is
    return Envelope(
        event_id=uuid7(), type="TestDossierNumbered", version=1, occurred_at=AT, producer="tests", key=key,
        correlation_id=key, payload=payload,
    )


def submission(
    subjects: list[str | None], *, key: str | None = None, request_hash: str = "h", bundle: bool = False
) -> NewSubmission:
    codes = PendingCodes(len(subjects))
    bundle_id = str(uuid7()) if bundle else None
    rows = [
        dossier(p, subject, bundle_id, i if bundle else None)
        for i, (p, subject) in enumerate(zip(codes.placeholders, subjects, strict=True))
    ]
    envelopes = [numbered(r.dossier_id, [r.code]) for r in rows]
    if bundle_id:
        envelopes.append(numbered(bundle_id, codes.placeholders))
    return NewSubmission(
        agency=AGENCY, day=DAY, codes=codes, dossiers=rows,
        bundle=NewBundle(bundle_id, "birth", "counter", AGENCY, AT, None) if bundle_id else None,
        envelopes=envelopes, topic="intake.events", status_code=201,
        reply={"codes": codes.placeholders, "first": codes.placeholder(0)},
        idempotency_key=key, request_hash=request_hash,
    )  # fmt: skip


async def submit(new_uow: UowFactory, s: NewSubmission) -> list[str] | StoredReply:
    async with new_uow() as uow:
        result: list[str] | StoredReply = await uow.submit(s)
        return result


def code(n: int, day: str = "240617") -> str:
    return f"{AGENCY}-{day}-{n:04d}"


async def test_codes_are_taken_in_order_and_a_refused_submission_gives_its_number_back(new_uow: UowFactory) -> None:
    assert await submit(new_uow, submission(["s-1"])) == [code(1)]
    assert await submit(new_uow, submission([None, "s-2", None], bundle=True)) == [code(2), code(3), code(4)]
    with pytest.raises(DuplicateDossier) as refused:
        await submit(new_uow, submission(["s-9", "s-2"], bundle=True))
    assert refused.value.existing_code == code(3)
    assert await submit(new_uow, submission(["s-9"])) == [code(5)]  # no gap, and s-9 was not kept


async def test_the_codes_replace_every_placeholder(new_uow: UowFactory) -> None:
    s = submission([None, None], key="k-1", bundle=True)
    taken = await submit(new_uow, s)
    assert taken == [code(1), code(2)]
    async with new_uow() as uow:
        bundle_stream = await uow.events.load(s.envelopes[-1].key)
        first = await uow.dossiers.state(s.dossiers[0].dossier_id)
        stored = await uow.dossiers.claim_key("k-1", "h")
    assert bundle_stream.envelopes[0].payload == {
        "code": code(1), "codes": taken, "note": f"Mã hồ sơ: {code(1)} {code(2)}",
        "applicant": {"id_number": APPLICANT, "phone": PHONE},
    }
    assert first is not None and first.code == code(1)
    assert stored == StoredReply("h", 201, {"codes": taken, "first": code(1)})


async def test_a_retried_key_gets_the_stored_reply_and_takes_no_number(new_uow: UowFactory) -> None:
    first = await submit(new_uow, submission(["s-1"], key="k-2"))
    again = await submit(new_uow, submission(["s-1"], key="k-2", request_hash="other"))
    assert again == StoredReply("h", 201, {"codes": first, "first": code(1)})  # the caller compares the hashes
    assert await submit(new_uow, submission([None])) == [code(2)]


async def test_past_9999_a_day_the_number_widens(new_uow: UowFactory) -> None:
    async with new_uow() as uow:
        await uow.dossiers.next_sequence(AGENCY, DAY, 9998)
    assert await submit(new_uow, submission([None, None], bundle=True)) == [code(9999), code(10000)]
    async with new_uow() as uow:
        assert await uow.dossiers.state(code(10000)) is not None  # the row has the code the caller was told


async def test_a_submission_must_be_the_first_write_of_its_transaction(intake_tables: AsyncEngine) -> None:
    with pytest.raises(RuntimeError):
        async with SqlIntakeUnitOfWork(intake_tables) as uow:
            await uow.dossiers.next_sequence(AGENCY, DAY)
            await uow.submit(submission([None]))


async def test_concurrent_submissions_to_one_agency_leave_no_gaps_or_repeats(intake_tables: AsyncEngine) -> None:
    """40 at once, every fourth a duplicate of an open dossier (refused): the others get 1..30."""
    await submit(lambda: SqlIntakeUnitOfWork(intake_tables), submission(["taken"]))
    attempts = [submission(["taken" if i % 4 == 0 else f"s-{i}"]) for i in range(40)]

    async def one(s: NewSubmission) -> list[str] | None:
        try:
            return await submit(lambda: SqlIntakeUnitOfWork(intake_tables), s)  # type: ignore[return-value]
        except DuplicateDossier:
            return None

    results = await asyncio.gather(*(one(s) for s in attempts))
    numbers = sorted(int(r[0].rsplit("-", 1)[1]) for r in results if r is not None)
    assert numbers == list(range(2, 32))
    async with intake_tables.connect() as conn:
        rows = (await conn.execute(text("SELECT count(*), count(DISTINCT code), max(code) FROM dossiers"))).one()
        events = (await conn.execute(text("SELECT count(*) FROM events"))).scalar_one()
        outbox = (await conn.execute(text("SELECT count(*) FROM outbox"))).scalar_one()
    assert tuple(rows) == (31, 31, code(31)) and events == outbox == 31


async def test_the_fake_and_the_database_write_the_same_rows(intake_tables: AsyncEngine) -> None:
    s = submission(["s-1"], key="k-3")
    fake = InMemoryIntakeUnitOfWork()
    async with fake:
        assert await fake.submit(s) == [code(1)]
    assert await submit(lambda: SqlIntakeUnitOfWork(intake_tables), s) == [code(1)]
    async with intake_tables.connect() as conn:
        value = (await conn.execute(text("SELECT value FROM outbox"))).scalar_one()
    [message] = fake.outbox.messages
    assert bytes(value) == message.value  # the very bytes a consumer gets, from either adapter
    assert fake.dossiers.rows[s.dossiers[0].dossier_id]["code"] == code(1)


async def test_a_unit_of_work_not_entered_is_a_transaction_of_its_own(new_uow: UowFactory) -> None:
    """How the handlers submit: no SQLAlchemy connection or transaction around the statement."""
    assert await new_uow().submit(submission(["s-1"])) == [code(1)]
    with pytest.raises(DuplicateDossier):
        await new_uow().submit(submission(["s-2", "s-1"], bundle=True))
    assert await new_uow().submit(submission(["s-2"])) == [code(2)]  # the refused one took and wrote nothing


async def test_the_borrowed_connection_goes_back_to_the_pool(intake_tables: AsyncEngine) -> None:
    await SqlIntakeUnitOfWork(intake_tables).submit(submission(["s-1"]))
    with pytest.raises(DuplicateDossier):
        await SqlIntakeUnitOfWork(intake_tables).submit(submission(["s-1"]))
    assert intake_tables.pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_a_connection_that_broke_under_a_submission_is_not_reused(dead_connection_pool: AsyncEngine) -> None:
    with pytest.raises((asyncpg.PostgresConnectionError, asyncpg.InterfaceError, OSError)):
        await SqlIntakeUnitOfWork(dead_connection_pool).submit(submission(["s-1"]))
    assert await SqlIntakeUnitOfWork(dead_connection_pool).submit(submission(["s-1"])) == [code(1)]


async def test_a_new_submission_wakes_the_relay_and_a_replayed_one_does_not(intake_tables: AsyncEngine) -> None:
    """The submission commits by itself, outside SQLAlchemy: it signals its outbox rows itself."""
    woken: list[bool] = []

    def new_uow() -> SqlIntakeUnitOfWork:
        return SqlIntakeUnitOfWork(intake_tables, on_queued=lambda: woken.append(True))

    await submit(new_uow, submission(["s-1"], key="k-3"))  # entered: the driver connection of its transaction
    await new_uow().submit(submission(["s-2"]))  # not entered: a pooled connection of its own
    assert woken == [True, True]
    await submit(new_uow, submission(["s-1"], key="k-3"))  # the stored reply: nothing new to publish
    assert woken == [True, True]

"""One contract, two implementations: intake's in-memory tables must behave like its PostgreSQL ones,
so the handler tests that use the fake say something about production."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.envelope import Envelope
from contracts.events.common import DossierStatus
from contracts.ids import uuid7
from eventkit.db import TimeLimits, is_lock_not_granted, make_engine
from intake.adapters.postgres import SqlIntakeUnitOfWork
from intake.domain.errors import DuplicateDossier, applicant_key
from intake.domain.tracking import DossierChange, TimelineEntry
from intake.service_layer.ports import NewDossier
from tests.support.infra import Infra

pytestmark = pytest.mark.integration

UowFactory = Callable[[], Any]
AT = datetime(2024, 6, 17, 2, 0, tzinfo=UTC)
DAY = date(2024, 6, 17)
FAMILY, STRANGER = "036093000456", "001090000321"  # the applicants' ID numbers
PHONE = "0912345678"  # the applicants' phone: with the ID number, who may be told an open dossier's code


def row(n: int, subject: str | None = "s-1", applicant: str = FAMILY) -> NewDossier:
    return NewDossier(
        dossier_id=f"0190a000-0000-7000-8000-{n:012d}",
        code=f"UBND-X-YENHOA-240617-{n:04d}",
        procedure_code="1.001193",
        channel="online",
        receiving_agency="UBND-X-YENHOA",
        competent_agency="UBND-X-YENHOA",
        status="registered",
        status_code=1,
        subject_key=subject,
        submitted_at=AT,
        received_at=None,
        due_at=None,
        fee=0,
        timeline=[TimelineEntry(AT, "DossierSubmitted", DossierStatus.REGISTERED).as_dict()],
        applicant_key=applicant_key(applicant, PHONE),
    )


def submitted(n: int, applicant: str = FAMILY) -> Envelope:
    """Row ``n``'s first event, where the adapters read its applicant back (the table keeps none)."""
    return Envelope(
        event_id=uuid7(), type="TestDossierSubmitted", version=1, occurred_at=AT, producer="tests",
        key=row(n).dossier_id, correlation_id=row(n).dossier_id,
        payload={"applicant": {"id_number": applicant, "phone": PHONE}},
    )  # fmt: skip


async def test_sequences_count_per_agency_and_day_and_roll_back(new_uow: UowFactory) -> None:
    async with new_uow() as uow:
        assert await uow.dossiers.next_sequence("A", DAY) == 1
        assert await uow.dossiers.next_sequence("A", DAY, 3) == 4
        assert await uow.dossiers.next_sequence("B", DAY) == 1
    with pytest.raises(RuntimeError):
        async with new_uow() as uow:
            assert await uow.dossiers.next_sequence("A", DAY) == 5
            raise RuntimeError("the submission failed")
    async with new_uow() as uow:
        assert await uow.dossiers.next_sequence("A", DAY) == 5  # no gap
        assert await uow.dossiers.next_sequence("A", date(2024, 6, 18)) == 1


async def test_an_open_subject_is_taken_until_the_dossier_ends(new_uow: UowFactory) -> None:
    async with new_uow() as uow:
        await uow.dossiers.add_dossiers([row(1), row(2, subject=None), row(3, subject=None)])
        await uow.record(row(1).dossier_id, 0, [submitted(1)], [None])
    with pytest.raises(DuplicateDossier) as caught:
        async with new_uow() as uow:
            await uow.dossiers.add_dossiers([row(4)])
    assert caught.value.existing_code == row(1).code  # to its own applicant
    with pytest.raises(DuplicateDossier) as caught:
        async with new_uow() as uow:  # someone else who knows the subject: told it exists, not which
            await uow.dossiers.add_dossiers([row(4, applicant=STRANGER)])
    assert caught.value.existing_code is None and row(1).code not in str(caught.value)
    async with new_uow() as uow:
        ended = DossierChange(row(1).dossier_id, status=DossierStatus.REFUSED, handler=("UBND-X-YENHOA", "cb-1"))
        assert await uow.dossiers.apply(ended)
        await uow.dossiers.add_dossiers([row(4)])
        assert await uow.dossiers.state(row(4).code) is not None
        # Refused by workflow with nobody deciding (a failed bundle's waiting step): nobody handled it.
        quiet = DossierChange(row(2).dossier_id, status=DossierStatus.REFUSED, handler=("UBND-X-YENHOA", None))
        assert await uow.dossiers.apply(quiet)
        handled = {n: (await uow.dossiers.state(row(n).code)).handled for n in (1, 2, 4)}  # type: ignore[union-attr]
    assert handled == {1: True, 2: False, 4: False}  # an official refused 1; 4 awaits acceptance


async def test_a_step_takes_its_subject_once_known_unless_another_open_dossier_has_it(new_uow: UowFactory) -> None:
    async with new_uow() as uow:
        await uow.dossiers.add_dossiers([row(1), row(2, subject=None), row(3, subject=None), row(4, subject=None)])
        await uow.record(row(3).dossier_id, 0, [submitted(3)], [None])
        assert await uow.dossiers.key_subject(row(2).dossier_id, "1.001193", "s-1") == row(1).code
        assert await uow.dossiers.key_subject(row(3).dossier_id, "1.001193", "s-3") is None
        ended = DossierChange(row(4).dossier_id, status=DossierStatus.STOPPED, handler=("UBND-X-YENHOA", "cb-1"))
        assert await uow.dossiers.apply(ended)
        assert await uow.dossiers.key_subject(row(4).dossier_id, "1.001193", "s-4") is None  # ended: nothing to keep
    with pytest.raises(DuplicateDossier) as caught:
        async with new_uow() as uow:
            await uow.dossiers.add_dossiers([row(5, subject="s-3")])
    assert caught.value.existing_code == row(3).code
    async with new_uow() as uow:
        await uow.dossiers.add_dossiers([row(5, subject="s-4"), row(6, subject="s-2")])  # 2 kept none


async def test_changes_show_in_the_state(new_uow: UowFactory) -> None:
    async with new_uow() as uow:
        await uow.dossiers.add_dossiers([row(1)])
        entry = TimelineEntry(AT, "SupplementRequested", DossierStatus.SUPPLEMENT_REQUESTED, "UBND-X-YENHOA")
        change = DossierChange(row(1).dossier_id, entry, status=DossierStatus.SUPPLEMENT_REQUESTED,
                               awaiting_supplement=True, handler=("UBND-X-YENHOA", None))
        assert await uow.dossiers.apply(change)
        assert await uow.dossiers.apply(DossierChange(row(1).dossier_id, handler=("UBND-X-YENHOA", "cb-7")))
        assert await uow.dossiers.apply(DossierChange(row(1).dossier_id, handler=("UBND-X-YENHOA", None)))
        assert await uow.dossiers.apply(DossierChange(row(1).dossier_id, rating=4, paid=1000))
        assert not await uow.dossiers.apply(replace(change, dossier_id=row(9).dossier_id))
    async with new_uow() as uow:
        by_code = await uow.dossiers.state(row(1).code)
        by_id = await uow.dossiers.state(row(1).dossier_id)
        assert await uow.dossiers.state("UBND-X-YENHOA-240617-9999") is None
    assert by_code == by_id
    assert (by_code.status, by_code.awaiting_supplement, by_code.rated, by_code.withdrawal_requested) == (
        DossierStatus.SUPPLEMENT_REQUESTED, True, True, False,
    )


async def test_idempotency_keys_keep_the_first_reply(new_uow: UowFactory) -> None:
    async with new_uow() as uow:
        assert await uow.dossiers.claim_key("k", "h1") is None
        await uow.dossiers.store_reply("k", 201, {"code": "X"})
    async with new_uow() as uow:
        stored = await uow.dossiers.claim_key("k", "h2")
    assert (stored.request_hash, stored.status_code, stored.body) == ("h1", 201, {"code": "X"})
    with pytest.raises(RuntimeError):
        async with new_uow() as uow:
            assert await uow.dossiers.claim_key("lost", "h") is None
            raise RuntimeError("rolled back")
    async with new_uow() as uow:
        assert await uow.dossiers.claim_key("lost", "h") is None  # a rolled-back claim frees the key


async def test_changes_applied_together_keep_their_order_and_name_the_unknown_dossiers(new_uow: UowFactory) -> None:
    """The tracking consumer applies a transaction's changes in one call (fake and database alike)."""
    received = TimelineEntry(AT, "DossierReceived", DossierStatus.RECEIVED, "UBND-X-YENHOA")
    processing = TimelineEntry(AT, "DossierProcessingStarted", DossierStatus.PROCESSING, "UBND-X-YENHOA")
    async with new_uow() as uow:
        await uow.dossiers.add_dossiers([row(1), row(2, subject=None)])
        unknown = await uow.dossiers.apply_many([
            DossierChange(row(1).dossier_id, received, status=DossierStatus.RECEIVED),
            DossierChange(row(9).dossier_id, received, status=DossierStatus.RECEIVED),
            DossierChange(row(2).dossier_id, paid=500),
            DossierChange(row(1).dossier_id, processing, status=DossierStatus.PROCESSING),
            DossierChange(row(2).dossier_id, paid=700),
        ])  # fmt: skip
        assert await uow.dossiers.apply_many([]) == set()
    assert unknown == {row(9).dossier_id}
    async with new_uow() as uow:
        first = await uow.dossiers.state(row(1).code)
        second = await uow.dossiers.state(row(2).code)
    assert first is not None and first.status is DossierStatus.PROCESSING  # the later change won
    assert second is not None and second.status is DossierStatus.REGISTERED


async def test_a_bundle_s_step_is_handled_once_its_bundle_started_it(new_uow: UowFactory) -> None:
    """Received at the counter with its bundle, a later step stopped before its turn counted as handled:
    its rating was taken, then dropped by reporting."""
    steps = [replace(row(n, subject=None), received_at=AT, status="received", status_code=2,
                     bundle_id="0190a000-0000-7000-8000-b00000000001", bundle_step=f"s{n}", bundle_position=n)
             for n in (5, 6)]  # fmt: skip
    async with new_uow() as uow:
        await uow.dossiers.add_dossiers(steps)
        assert await uow.dossiers.apply(DossierChange(steps[0].dossier_id, step_started_at=AT))
        handled = [(await uow.dossiers.state(s.code)).handled for s in steps]  # type: ignore[union-attr]
        # Its own events may come before its bundle's (another partition): processed, it was handled.
        assert await uow.dossiers.apply(DossierChange(steps[1].dossier_id, status=DossierStatus.PROCESSED))
        handled.append((await uow.dossiers.state(steps[1].code)).handled)  # type: ignore[union-attr]
    assert handled == [True, False, True]


async def test_a_dossier_another_transaction_holds_past_the_lock_timeout_is_busy_not_retried(
    intake_tables: AsyncEngine, schema: str, infra: Infra
) -> None:
    """A lock not granted in time was taken for a conflict to run again: each of three attempts waited
    the whole lock_timeout behind the same holder, and the citizen got a 409 a minute later."""
    async with SqlIntakeUnitOfWork(intake_tables) as uow:
        await uow.dossiers.add_dossiers([row(1)])
    impatient = make_engine(infra.database_url, schema, pool_size=1, limits=TimeLimits(2.0, 0.2))
    try:
        async with intake_tables.connect() as holder, holder.begin():
            lock = text("SELECT 1 FROM dossiers WHERE dossier_id = :d FOR UPDATE")
            await holder.execute(lock, {"d": row(1).dossier_id})
            with pytest.raises(DBAPIError) as waited:
                async with SqlIntakeUnitOfWork(impatient) as uow:
                    await uow.dossiers.state(row(1).dossier_id)
        assert is_lock_not_granted(waited.value)  # the API's 503 "busy", not the 409 of a lost race
    finally:
        await impatient.dispose()

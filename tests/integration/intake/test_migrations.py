"""Migrations that put right what earlier builds wrote: run on rows as those builds left them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.events.common import DossierStatus
from eventkit.migrations import apply_migrations
from intake.adapters.postgres import SqlIntakeUnitOfWork
from intake.domain.tracking import DossierChange, TimelineEntry
from intake.service_layer.ports import NewBundle
from tests.integration.intake.test_dossiers_port import AT, row

pytestmark = pytest.mark.integration

ASKED = TimelineEntry(AT, "WithdrawalRequested")
REFUSED = TimelineEntry(AT, "WithdrawalRefused", DossierStatus.PROCESSING, "UBND-X-YENHOA")


async def test_0004_clears_the_flags_earlier_builds_left_set(intake_tables: AsyncEngine, schema: str) -> None:
    # As the build before 0004 left them: a withdrawal refused kept its flag, an end kept the wait.
    history = {
        1: [
            DossierChange(row(1).dossier_id, ASKED, withdrawal_requested=True),
            DossierChange(row(1).dossier_id, REFUSED),
        ],
        2: [DossierChange(row(2).dossier_id, ASKED, withdrawal_requested=True)],  # still pending
        3: [
            DossierChange(row(3).dossier_id, ASKED, withdrawal_requested=True),
            DossierChange(row(3).dossier_id, REFUSED),
            DossierChange(row(3).dossier_id, ASKED, withdrawal_requested=True),  # asked again: pending
        ],
        4: [
            DossierChange(row(4).dossier_id, status=DossierStatus.SUPPLEMENT_REQUESTED, awaiting_supplement=True),
            DossierChange(row(4).dossier_id, status=DossierStatus.STOPPED),
        ],
        5: [DossierChange(row(5).dossier_id, status=DossierStatus.SUPPLEMENT_REQUESTED, awaiting_supplement=True)],
        # Refused while a registry worked, processed since: its fee is still to be paid.
        6: [
            DossierChange(row(6).dossier_id, ASKED, withdrawal_requested=True),
            DossierChange(row(6).dossier_id, REFUSED),
            DossierChange(row(6).dossier_id, status=DossierStatus.PROCESSED),
        ],
    }
    async with SqlIntakeUnitOfWork(intake_tables) as uow:
        await uow.dossiers.add_dossiers([row(n, subject=None) for n in history])
        for changes in history.values():
            for change in changes:
                assert await uow.dossiers.apply(change)
    async with intake_tables.begin() as conn:
        await conn.execute(text(f'SET LOCAL search_path TO "{schema}"'))
        await conn.execute(text("DELETE FROM schema_migrations WHERE id LIKE 'intake:0004_%'"))
    assert await apply_migrations(intake_tables, schema, "intake") == ["intake:0004_views_after_ends_and_refusals.sql"]
    async with SqlIntakeUnitOfWork(intake_tables) as uow:
        states = {n: await uow.dossiers.state(row(n).code) for n in history}
    flags = {n: (s.withdrawal_requested, s.awaiting_supplement) for n, s in states.items() if s}
    assert flags == {
        1: (False, False),
        2: (True, False),
        3: (True, False),
        4: (False, False),
        5: (False, True),
        6: (False, False),
    }


async def test_0010_takes_a_registry_s_own_words_off_the_citizen_s_timeline(
    intake_tables: AsyncEngine, schema: str
) -> None:
    """Failures recorded before they were told by their cause: the system's answer, or our English
    words for it, with a card number anyone with the dossier code could read. An official's own reason
    stays as typed, numbers and all."""
    failed = TimelineEntry(AT, "RegistryCommandFailed", detail="Bảo hiểm xã hội Việt Nam: 409 card_exists: the"
                           " child already holds card TE1791234567890")  # fmt: skip
    stopped = TimelineEntry(AT, "DossierStopped", DossierStatus.STOPPED, "UBND-X-YENHOA",
                            detail="hệ thống quốc gia không thực hiện được: 400 Bad Request")  # fmt: skip
    gave_up = TimelineEntry(AT, "RegistryCommandFailed", detail="Cơ sở dữ liệu quốc gia về dân cư: gave up after"
                            " 6 attempts: 503 Service Unavailable")  # fmt: skip
    official = TimelineEntry(AT, "DossierRefused", DossierStatus.REFUSED, "UBND-X-YENHOA",
                             detail="Chưa đủ thời gian cư trú theo quy định: 180 ngày liên tục")  # fmt: skip
    fee = TimelineEntry(AT, "PaymentRequested", DossierStatus.PAYMENT_REQUESTED, detail="100 đồng")
    bundles = {"registry": "hệ thống quốc gia không thực hiện được: 409 card_exists: the child already holds card"
               " TE1791234567890", "official": "giấy chứng sinh không hợp lệ: 123 chữ ký"}  # fmt: skip
    async with SqlIntakeUnitOfWork(intake_tables) as uow:
        await uow.dossiers.add_dossiers([row(7, subject=None)])
        for entry in (failed, stopped, gave_up, official, fee):
            assert await uow.dossiers.apply(DossierChange(row(7).dossier_id, entry))
        for bundle_id, reason in bundles.items():
            await uow.dossiers.add_bundle(NewBundle(bundle_id, "birth", "counter", "UBND-X-YENHOA", AT, None))
            await uow.dossiers.end_bundle(bundle_id, "partially_completed", AT, "health_insurance_card", reason)
    async with intake_tables.begin() as conn:
        await conn.execute(text(f'SET LOCAL search_path TO "{schema}"'))
        await conn.execute(text("DELETE FROM schema_migrations WHERE id LIKE 'intake:0010_%'"))
    ran = await apply_migrations(intake_tables, schema, "intake")
    assert ran == ["intake:0010_registry_refusals_in_vietnamese.sql"]
    async with intake_tables.connect() as conn:
        await conn.execute(text(f'SET search_path TO "{schema}"'))
        timeline = (await conn.execute(text("SELECT timeline FROM dossiers WHERE dossier_id = :d"),
                                       {"d": row(7).dossier_id})).scalar_one()  # fmt: skip
    notes = [e["note"] for e in timeline if e["event"] != "DossierSubmitted"]
    neutral = "hệ thống không thực hiện được yêu cầu"
    assert notes[0].endswith(f"Bảo hiểm xã hội Việt Nam: {neutral}") and "TE179" not in notes[0]
    assert notes[1].endswith(f"hệ thống quốc gia không thực hiện được: {neutral}")
    assert notes[2].endswith(f"Cơ sở dữ liệu quốc gia về dân cư: {neutral}")  # no "refused": it gave up
    assert notes[3].endswith(": Chưa đủ thời gian cư trú theo quy định: 180 ngày liên tục")  # the official's
    assert notes[4].endswith(": 100 đồng")  # no registry's: as it was
    async with intake_tables.connect() as conn:
        await conn.execute(text(f'SET search_path TO "{schema}"'))
        reasons = dict((await conn.execute(text("SELECT bundle_id, reason FROM bundles"))).all())
    assert reasons["registry"] == f"hệ thống quốc gia không thực hiện được: {neutral}"
    assert reasons["official"] == bundles["official"]  # an official's reason, numbers and all, as typed


async def test_0011_gives_older_rows_the_times_late_events_are_judged_by(
    intake_tables: AsyncEngine, schema: str
) -> None:
    """Left NULL, the rows from before 0008 and 0009 took a late event as the newest: a reminder queued
    before the deploy and replayed after it set a returned dossier back to processing."""
    received = TimelineEntry(AT, "DossierReceived", DossierStatus.RECEIVED, "UBND-X-YENHOA")
    apology = TimelineEntry(AT + timedelta(hours=2), "ApologyLetterIssued", DossierStatus.PROCESSING, "UBND-X-YENHOA")
    returned = TimelineEntry(AT + timedelta(hours=3), "ResultReturned", DossierStatus.RETURNED, "UBND-X-YENHOA")
    rated = TimelineEntry(AT + timedelta(hours=5), "SatisfactionRated", DossierStatus.RETURNED)  # intake's own
    async with SqlIntakeUnitOfWork(intake_tables) as uow:
        await uow.dossiers.add_dossiers([row(8, subject=None)])
        for entry in (received, apology, returned, rated):
            assert await uow.dossiers.apply(DossierChange(row(8).dossier_id, entry))
    async with intake_tables.begin() as conn:
        await conn.execute(text(f'SET LOCAL search_path TO "{schema}"'))
        await conn.execute(text("UPDATE dossiers SET state_at = NULL, due_at_at = NULL"))  # as before 0008
        await conn.execute(text("DELETE FROM schema_migrations WHERE id LIKE 'intake:0011_%'"))
    assert await apply_migrations(intake_tables, schema, "intake") == ["intake:0011_state_at_backfill.sql"]
    async with intake_tables.connect() as conn:
        await conn.execute(text(f'SET search_path TO "{schema}"'))
        times = (await conn.execute(text("SELECT state_at, due_at_at FROM dossiers WHERE dossier_id = :d"),
                                    {"d": row(8).dossier_id})).one()  # fmt: skip
    assert (times.state_at, times.due_at_at) == (AT + timedelta(hours=3), AT + timedelta(hours=2))

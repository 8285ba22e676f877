"""Group commit: submissions waiting together are written as one statement, and each still gets the
answer it would have got alone — consecutive codes, its stored reply, its own refusal."""

from __future__ import annotations

import asyncio
from datetime import date

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from devstack.processes import free_port
from eventkit.db import is_unavailable, make_engine
from intake.adapters.group_commit import GroupCommit
from intake.adapters.submissions import connection_broke, write_submissions
from intake.domain.errors import DuplicateDossier
from intake.service_layer.ports import NewSubmission, StoredReply
from tests.integration.intake.test_submissions import DAY, code, submission
from tests.support.infra import Infra
from tests.support.kafka import eventually

pytestmark = pytest.mark.integration

OTHER = "UBND-X-DICHVONG"


def elsewhere(subjects: list[str | None], *, day: date = DAY, bundle: bool = False) -> NewSubmission:
    """A submission to another agency (or day): its own counter."""
    s = submission(subjects, bundle=bundle)
    rows = [r.__class__(**{**vars(r), "receiving_agency": OTHER}) for r in s.dossiers]
    return NewSubmission(**{**vars(s), "agency": OTHER, "day": day, "dossiers": rows})


async def count(engine: AsyncEngine, sql: str) -> object:
    async with engine.connect() as conn:
        return (await conn.execute(text(sql))).scalar_one()


async def test_one_statement_numbers_each_agency_in_batch_order(intake_tables: AsyncEngine) -> None:
    writer = GroupCommit(intake_tables)
    assert await writer.submit(submission(["s-0"])) == [code(1)]  # the counter row exists already
    batch = [
        submission(["s-1"]),
        elsewhere([None, None], bundle=True),
        submission([None, "s-2", None], key="k-1", bundle=True),
        elsewhere(["s-3"], day=date(2024, 6, 18)),
        submission(["s-4"]),
    ]
    raw = await intake_tables.raw_connection()
    try:
        written = await write_submissions(raw.driver_connection, batch)
    finally:
        raw.close()
    other = f"{OTHER}-240617-"
    assert written == [
        [code(2)],
        [other + "0001", other + "0002"],
        [code(3), code(4), code(5)],
        [f"{OTHER}-240618-0001"],
        [code(6)],
    ]
    async with intake_tables.connect() as conn:
        codes = dict((await conn.execute(text("SELECT dossier_id, code FROM dossiers"))).all())
        payloads = text("SELECT envelope->'payload' FROM events ORDER BY position")
        envelopes = (await conn.execute(payloads)).scalars().all()
        reply = (await conn.execute(text("SELECT response FROM idempotency_keys WHERE key = 'k-1'"))).scalar_one()
    for s, taken in zip(batch, written, strict=True):
        assert [codes[d.dossier_id] for d in s.dossiers] == taken
    assert reply == {"codes": written[2], "first": code(3)}
    bundle_payload = envelopes[1 + 1 + 2]  # after s-0, s-1 and the other agency's two dossiers
    assert bundle_payload["codes"] == written[1]
    assert not any("@@code-" in str(p) for p in envelopes)  # every placeholder replaced
    assert await count(intake_tables, "SELECT count(*) FROM outbox") == len(envelopes) == 1 + 1 + 3 + 4 + 1 + 1


async def test_concurrent_submissions_go_in_few_statements_without_gaps(intake_tables: AsyncEngine) -> None:
    woken: list[bool] = []
    writer = GroupCommit(intake_tables, max_batch=16, writers=2, on_written=lambda: woken.append(True))
    results = await asyncio.gather(*(writer.submit(submission([f"s-{i}"])) for i in range(60)))
    numbers = sorted(int(r[0].rsplit("-", 1)[1]) for r in results if isinstance(r, list))
    assert numbers == list(range(1, 61))
    assert writer.stats.batched + writer.stats.alone == 60 and writer.stats.refused == 0
    assert writer.stats.batches >= 3  # 60 waiting at once, at most 16 a statement
    assert len(woken) == writer.stats.batches + writer.stats.alone  # the relay woken once per commit
    assert await count(intake_tables, "SELECT count(*) FROM outbox") == 60


async def test_a_refused_batch_is_written_one_by_one_and_only_the_culprits_fail(intake_tables: AsyncEngine) -> None:
    """Every fourth duplicates an open dossier: those are refused, the others get 2..31."""
    writer = GroupCommit(intake_tables, max_batch=64, writers=1)
    assert await writer.submit(submission(["taken"])) == [code(1)]
    attempts = [submission(["taken" if i % 4 == 0 else f"s-{i}"]) for i in range(40)]

    async def one(s: NewSubmission) -> list[str] | StoredReply | None:
        try:
            return await writer.submit(s)
        except DuplicateDossier as refused:
            assert refused.existing_code == code(1)
            return None

    results = await asyncio.gather(*(one(s) for s in attempts))
    assert sum(r is None for r in results) == 10
    numbers = sorted(int(r[0].rsplit("-", 1)[1]) for r in results if isinstance(r, list))
    assert numbers == list(range(2, 32))
    assert writer.stats.refused >= 1
    rows = await count(intake_tables, "SELECT count(DISTINCT code) FROM dossiers")
    assert rows == await count(intake_tables, "SELECT count(*) FROM outbox") == 31


async def test_a_submission_the_database_cannot_store_fails_alone(intake_tables: AsyncEngine) -> None:
    """PostgreSQL stores no NUL in text (22021): that refusal fails the batch's statement, and used to
    fail every submission in it. Written again one by one, only the bad one fails."""
    writer = GroupCommit(intake_tables, max_batch=64, writers=1)
    assert await writer.submit(submission(["s-0"])) == [code(1)]
    attempts = [submission(["bad\x00" if i == 5 else f"s-{i}"]) for i in range(1, 12)]
    results = await asyncio.gather(*(writer.submit(s) for s in attempts), return_exceptions=True)
    [failed] = [r for r in results if isinstance(r, BaseException)]
    assert isinstance(failed, asyncpg.DataError) and not is_unavailable(failed)
    assert sorted(r[0] for r in results if isinstance(r, list)) == [code(n) for n in range(2, 12)]
    assert writer.stats.refused >= 1


async def test_a_key_sent_twice_at_once_is_written_once_and_replayed(intake_tables: AsyncEngine) -> None:
    writer = GroupCommit(intake_tables, writers=1)
    first, second, third = await asyncio.gather(
        writer.submit(submission(["s-1"], key="k-1")),
        writer.submit(submission(["s-1"], key="k-1")),
        writer.submit(submission(["s-2"])),
    )
    assert first == [code(1)]
    assert second == StoredReply("h", 201, {"codes": [code(1)], "first": code(1)})
    assert third == [code(2)]  # the replay took no number


async def test_a_broken_connection_fails_its_batch_and_the_next_one_gets_a_new_connection(
    dead_connection_pool: AsyncEngine,
) -> None:
    writer = GroupCommit(dead_connection_pool, writers=1)
    results = await asyncio.gather(*(writer.submit(submission([f"s-{i}"])) for i in range(3)), return_exceptions=True)
    assert all(isinstance(r, asyncpg.PostgresConnectionError | asyncpg.InterfaceError | OSError) for r in results)
    assert await writer.submit(submission(["s-9"])) == [code(1)]  # nothing of the failed batch was kept
    assert dead_connection_pool.pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_without_a_database_the_waiting_submissions_fail_instead_of_hanging(schema: str) -> None:
    nowhere = make_engine(f"postgresql+asyncpg://nobody:secret@127.0.0.1:{free_port()}/none", schema, pool_size=1)
    try:
        writer = GroupCommit(nowhere, writers=1)
        for _ in range(2):  # and the writer is still there for the next submissions
            results = await asyncio.wait_for(
                asyncio.gather(*(writer.submit(submission([f"s-{i}"])) for i in range(3)), return_exceptions=True),
                timeout=20,
            )
            assert all(isinstance(r, OSError) for r in results), results
    finally:
        await nowhere.dispose()


async def test_a_session_terminated_mid_statement_leaves_the_pool_and_fails_only_its_own_batch(
    infra: Infra, schema: str, intake_tables: AsyncEngine
) -> None:
    """A session the server ends while it runs a statement (an operator's pg_terminate_backend, a
    failover): the submission fails as the database being unavailable (a 503 in the API), and its
    connection leaves the pool, so the next submission is written on a new one."""
    engine = make_engine(infra.database_url, schema, pool_size=1)  # one pooled connection: the one terminated
    writer = GroupCommit(engine, writers=1)
    try:
        assert await writer.submit(submission(["s-0"])) == [code(1)]
        async with intake_tables.begin() as blocker:  # the agency's counter, held: the next submission waits
            await blocker.execute(text("SELECT 1 FROM dossier_sequences FOR UPDATE"))
            waiting = asyncio.create_task(writer.submit(submission(["s-1"])))

            async def blocked_pid() -> int | None:
                sql = (
                    "SELECT pid FROM pg_stat_activity"
                    " WHERE wait_event_type = 'Lock' AND query LIKE '%dossier_sequences%'"
                )
                return (await blocker.execute(text(sql))).scalar()  # type: ignore[no-any-return]

            pid = await eventually(blocked_pid, timeout=10)
            await blocker.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
            with pytest.raises(Exception) as failed:
                await waiting
            assert is_unavailable(failed.value) and connection_broke(failed.value), repr(failed.value)
        assert await writer.submit(submission(["s-2"])) == [code(2)]  # on a new connection
    finally:
        await engine.dispose()

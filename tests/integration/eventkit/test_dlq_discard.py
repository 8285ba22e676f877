"""``python -m eventkit.dlq discard`` against the real database: discarded letters leave the listing,
``replay --all`` and the waiting gauge, with the operator's reason kept; a discard naming a letter
that is not waiting changes nothing."""

from __future__ import annotations

import asyncio
import sys

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from eventkit import dlq
from eventkit.metrics import dead_letters_waiting
from tests.support.infra import Infra

pytestmark = pytest.mark.integration


async def dead_letters(engine: AsyncEngine, count: int) -> list[int]:
    """``count`` dead letters as the consumer records them; their ids."""
    ids = []
    async with engine.begin() as conn:
        for n in range(count):
            row = await conn.execute(
                text(
                    'INSERT INTO dead_letters (consumer, topic, partition, "offset", message_key, event_type, error,'
                    " attempts, value) VALUES ('tests.c', 'test.t', 0, :n, :key, 'SomethingHappened', :error, 3,"
                    " CAST(:value AS bytea)) RETURNING id"
                ),
                {"n": n, "key": f"d-{n}", "error": f"cannot handle n={n}", "value": b"{}"},
            )
            ids.append(row.scalar_one())
    return ids


async def discarded(engine: AsyncEngine) -> dict[int, str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT id, discard_reason FROM dead_letters WHERE discarded_at IS NOT NULL ORDER BY id")
        )
        return {row[0]: row[1] for row in rows}


async def run_cli(infra: Infra, schema: str, *args: str) -> tuple[int, str, str]:
    cli = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "eventkit.dlq", *args, "--schema", schema, "--database-url", infra.database_url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await cli.communicate()
    assert cli.returncode is not None
    return cli.returncode, out.decode(), err.decode()


async def test_discarded_dead_letters_leave_the_listing_the_replay_of_all_and_the_gauge_with_their_reason_kept(
    migrated: AsyncEngine,
) -> None:
    """A letter not to be replayed could not be let go: it stayed listed, went out again with every
    `replay --all`, and kept DeadLettersWaiting firing for as long as it was there."""
    first, second, third = await dead_letters(migrated, 3)
    assert await dead_letters_waiting(migrated) == 3

    gone = await dlq.discard(migrated, [third, first, first], "sent by a load test")

    assert [d.id for d in gone] == [first, third]
    assert [d.error for d in gone] == ["cannot handle n=0", "cannot handle n=2"]
    assert [d.id for d in await dlq.pending(migrated)] == [second]  # what list and replay --all read
    assert await dlq.pending(migrated, [first, third]) == []  # nor replayed when named
    assert await dead_letters_waiting(migrated) == 1
    assert await discarded(migrated) == {first: "sent by a load test", third: "sent by a load test"}
    async with migrated.connect() as conn:
        replayed = await conn.execute(text("SELECT count(*) FROM dead_letters WHERE replayed_at IS NOT NULL"))
        assert replayed.scalar_one() == 0  # discarded, not sent


async def test_a_discard_naming_a_letter_not_waiting_names_it_and_discards_none(migrated: AsyncEngine) -> None:
    """One wrong id among several must not leave the operator guessing which of the others went."""
    waiting, replayed, gone = await dead_letters(migrated, 3)
    async with migrated.begin() as conn:
        await conn.execute(text("UPDATE dead_letters SET replayed_at = now() WHERE id = :id"), {"id": replayed})
    await dlq.discard(migrated, [gone], "first reason")

    for ids in ([waiting, replayed], [waiting, gone], [waiting, 999_999]):
        with pytest.raises(dlq.NotWaiting) as refused:
            await dlq.discard(migrated, ids, "second reason")
        assert refused.value.ids == ids[1:]

    assert [d.id for d in await dlq.pending(migrated)] == [waiting]
    assert await discarded(migrated) == {gone: "first reason"}  # the first reason stays


async def test_the_tool_prints_what_it_discarded_and_refuses_a_letter_not_waiting_in_one_line(
    migrated: AsyncEngine, infra: Infra, schema: str
) -> None:
    first, second = await dead_letters(migrated, 2)

    code, out, err = await run_cli(infra, schema, "discard", "--id", str(first), "--reason", "  a test event  ")
    assert (code, err) == (0, "")
    assert f"{first:>6}" in out and "cannot handle n=0" in out
    assert out.splitlines()[-1] == "discarded 1 dead letter(s): a test event"
    assert await discarded(migrated) == {first: "a test event"}

    code, out, err = await run_cli(infra, schema, "discard", "--id", str(first), "--id", str(second), "--reason", "x")
    assert code == 1 and out == ""
    assert err.startswith(f"dlq: not waiting (no such dead letter, or replayed or discarded already): {first};")
    assert err.count("\n") == 1
    code, out, _ = await run_cli(infra, schema, "list")
    assert code == 0 and "1 dead letter(s) waiting" in out and "cannot handle n=1" in out

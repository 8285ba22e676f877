"""Workflow's SQL adapters on the real database: a claimed timer is invisible to a second poller until
its transaction ends, a busy dossier is not waited for, the tables follow the fakes' contract, and
transactions take the bundles they touch in one order."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.envelope import Envelope
from contracts.events.common import Document
from eventkit.migrations import apply_migrations
from eventkit.uow import SqlUnitOfWork
from tests.support.events import happened
from workflow.adapters.memory import InMemoryWorkflowUnitOfWork
from workflow.adapters.sql import SqlWorkflowUnitOfWork
from workflow.domain.saga import BundleSaga, StepRef
from workflow.entrypoints.consumers import BundlesFirst
from workflow.entrypoints.schemas import TaskPublic
from workflow.service_layer.ports import DueTimers, Task, Timer, UnitOfWorkFactory

pytestmark = pytest.mark.integration

NOW = datetime(2030, 6, 3, 2, 0, tzinfo=UTC)


async def test_a_claimed_timer_is_skipped_by_a_concurrent_poller(workflow_engine: AsyncEngine) -> None:
    async with SqlWorkflowUnitOfWork(SqlUnitOfWork(workflow_engine)) as setup:
        await setup.timers.arm(Timer("d-1", "overdue", NOW - timedelta(minutes=2)))
        await setup.timers.arm(Timer("d-2", "overdue", NOW - timedelta(minutes=1)))
        await setup.timers.arm(Timer("d-3", "overdue", NOW + timedelta(days=1)))

    async with SqlWorkflowUnitOfWork(SqlUnitOfWork(workflow_engine)) as first:
        claimed = await first.timers.claim_next(NOW, frozenset())
        assert claimed is not None and claimed.dossier_id == "d-1"
        async with SqlWorkflowUnitOfWork(SqlUnitOfWork(workflow_engine)) as second:
            other = await second.timers.claim_next(NOW, frozenset())
            assert other is not None and other.dossier_id == "d-2"  # d-1 is locked: skipped, not waited for
            assert await second.timers.claim_next(NOW, frozenset({("d-2", "overdue")})) is None
        await first.timers.mark_fired(claimed, NOW)

    async with SqlWorkflowUnitOfWork(SqlUnitOfWork(workflow_engine)) as later:
        again = await later.timers.claim_next(NOW, frozenset())
        assert again is not None and again.dossier_id == "d-2"  # d-1 fired; d-3 not due


async def test_a_busy_dossier_is_not_waited_for(workflow_engine: AsyncEngine) -> None:
    async with SqlWorkflowUnitOfWork(SqlUnitOfWork(workflow_engine)) as writer:
        assert await writer.lock_dossier("d-1")
        async with SqlWorkflowUnitOfWork(SqlUnitOfWork(workflow_engine)) as poller:
            assert await poller.lock_dossier("d-1", wait=False) is False
            assert await poller.lock_dossier("d-2", wait=False) is True


async def _contract(uow_factory: UnitOfWorkFactory) -> None:
    """The same expectations of both adapters."""
    async with uow_factory() as uow:
        await uow.timers.arm(Timer("d-9", "due_soon", NOW))
        await uow.timers.arm(Timer("d-9", "due_soon", NOW))  # same time: stays as it is
        claimed = await uow.timers.claim_next(NOW, frozenset())
        assert claimed == Timer("d-9", "due_soon", NOW)
        await uow.timers.mark_fired(claimed, NOW)
        assert await uow.timers.claim_next(NOW, frozenset()) is None
        await uow.timers.arm(Timer("d-9", "due_soon", NOW))  # unchanged: a fired timer does not fire again
        assert await uow.timers.claim_next(NOW, frozenset()) is None
        await uow.timers.arm(Timer("d-9", "due_soon", NOW + timedelta(hours=1)))  # moved: armed again
        assert await uow.timers.claim_next(NOW + timedelta(hours=1), frozenset()) is not None
        await uow.timers.disarm("d-9")
        assert await uow.timers.claim_next(NOW + timedelta(days=9), frozenset()) is None
        # Several at once (one statement on SQL): each armed, the unchanged fired one left alone.
        await uow.timers.arm(Timer("d-8", "due_soon", NOW), Timer("d-8", "overdue", NOW + timedelta(hours=2)))
        await uow.timers.arm()
        first = await uow.timers.claim_next(NOW + timedelta(hours=2), frozenset())
        assert first == Timer("d-8", "due_soon", NOW)
        await uow.timers.mark_fired(first, NOW)
        await uow.timers.arm(Timer("d-8", "due_soon", NOW), Timer("d-8", "overdue", NOW + timedelta(hours=3)))
        second = await uow.timers.claim_next(NOW + timedelta(hours=3), frozenset())
        assert second == Timer("d-8", "overdue", NOW + timedelta(hours=3))  # due_soon fired and unchanged
        await uow.timers.mark_fired(second, NOW)
        assert await uow.timers.claim_next(NOW + timedelta(days=9), frozenset()) is None
        # A timer that failed to fire is put back for later, unless a decision moved it meanwhile: the
        # retry in 10 minutes overwrote a warning an apology letter had moved days on (only the fake
        # was tested: the SQL guard could go unnoticed).
        failed = Timer("d-7", "due_soon", NOW)
        await uow.timers.arm(failed)
        await uow.timers.postpone(failed, NOW + timedelta(minutes=10))
        assert await uow.timers.claim_next(NOW + timedelta(minutes=9), frozenset()) is None
        assert await uow.timers.claim_next(NOW + timedelta(minutes=10), frozenset()) == Timer(
            "d-7", "due_soon", NOW + timedelta(minutes=10)
        )
        moved = Timer("d-7", "due_soon", NOW + timedelta(days=3))
        await uow.timers.arm(moved)  # a decision moved it
        await uow.timers.postpone(Timer("d-7", "due_soon", NOW + timedelta(minutes=10)), NOW + timedelta(minutes=20))
        assert await uow.timers.claim_next(NOW + timedelta(days=2), frozenset()) is None
        assert await uow.timers.claim_next(NOW + timedelta(days=3), frozenset()) == moved
    async with uow_factory() as uow:  # what GET /metrics reads: the due timers not fired, and the oldest
        assert await uow.timers.due_unfired(NOW) == DueTimers(0, None)
        assert await uow.timers.due_unfired(NOW + timedelta(days=3)) == DueTimers(1, moved.fire_at)
        await uow.timers.arm(Timer("d-6", "overdue", NOW + timedelta(days=1)))
        assert await uow.timers.due_unfired(NOW + timedelta(days=4)) == DueTimers(2, NOW + timedelta(days=1))


async def test_sql_and_memory_timers_keep_the_same_contract(workflow_engine: AsyncEngine) -> None:
    await _contract(lambda: SqlWorkflowUnitOfWork(SqlUnitOfWork(workflow_engine)))
    await _contract(InMemoryWorkflowUnitOfWork())


async def _numbers_contract(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        assert await uow.id_numbers.claim("036224000001", "d-1")
        assert await uow.id_numbers.claim("036224000001", "d-1")  # the same approval again
        assert not await uow.id_numbers.claim("036224000001", "d-2")
    with contextlib.suppress(RuntimeError):
        async with uow_factory() as uow:
            assert await uow.id_numbers.claim("036224000002", "d-3")
            raise RuntimeError("rolled back")
    async with uow_factory() as uow:
        assert await uow.id_numbers.claim("036224000002", "d-4")  # the rolled-back claim left nothing


async def test_sql_and_memory_issued_numbers_keep_the_same_contract(workflow_engine: AsyncEngine) -> None:
    await _numbers_contract(lambda: SqlWorkflowUnitOfWork(SqlUnitOfWork(workflow_engine)))
    await _numbers_contract(InMemoryWorkflowUnitOfWork())


async def _ended_contract(uow_factory: UnitOfWorkFactory) -> None:
    def saga(bundle_id: str, status: str) -> BundleSaga:
        step = StepRef(step_id="birth", procedure_code="1.001193", dossier_id=f"{bundle_id}-d", code="X-1")
        return BundleSaga(
            bundle_id=bundle_id, bundle_type="birth", channel="online", receiving_agency="X", form={},
            steps=[step], submitted_at=NOW, correlation_id="c-1", status=status,  # type: ignore[arg-type]
        )  # fmt: skip

    before = datetime.now(UTC) - timedelta(minutes=1)
    async with uow_factory() as uow:
        for bundle_id, status in [("e-2", "partially_completed"), ("e-1", "running"), ("e-3", "completed")]:
            assert await uow.bundles.add(saga(bundle_id, status))
        ended = saga("e-1", "partially_completed")
        await uow.bundles.save(ended)
        assert await uow.bundles.ended_since(before) == ["e-1", "e-2"]
        assert await uow.bundles.ended_since(datetime.now(UTC) + timedelta(minutes=1)) == []
        assert await uow.bundles.ended_since(None) == ["e-1", "e-2"]  # ever
        assert await uow.bundles.swept_until() is None  # never swept
        await uow.bundles.mark_swept(NOW)
        await uow.bundles.mark_swept(NOW - timedelta(hours=1))  # a replica's older round: the later mark stays
        assert await uow.bundles.swept_until() == NOW


async def test_sql_and_memory_bundles_list_the_ended_ones_alike(workflow_engine: AsyncEngine) -> None:
    await _ended_contract(lambda: SqlWorkflowUnitOfWork(SqlUnitOfWork(workflow_engine)))
    await _ended_contract(InMemoryWorkflowUnitOfWork())


async def test_of_two_transactions_claiming_one_number_only_the_first_gets_it(workflow_engine: AsyncEngine) -> None:
    first = SqlWorkflowUnitOfWork(SqlUnitOfWork(workflow_engine))
    async with first:
        assert await first.id_numbers.claim("036224000009", "d-1")

        async def second_claim() -> bool:
            async with SqlWorkflowUnitOfWork(SqlUnitOfWork(workflow_engine)) as second:
                return await second.id_numbers.claim("036224000009", "d-2")

        waiting = asyncio.create_task(second_claim())
        await asyncio.sleep(0.2)
        assert not waiting.done()  # it waits for the first transaction's insert
    assert await asyncio.wait_for(waiting, timeout=10) is False  # committed first: the first's number


def _about(bundle_id: str) -> Envelope:
    """An event of a bundle step, as far as locking goes: its payload names the bundle."""
    event = happened(bundle_id, 1)
    return event.model_copy(update={"payload": {**event.payload, "bundle_id": bundle_id}})


def _of_dossier(dossier_id: str) -> Envelope:
    """A citizen's event (a fee paid, a supplement): it names its dossier only."""
    event = happened(dossier_id, 1)
    return event.model_copy(update={"payload": {**event.payload, "dossier_id": dossier_id}})


@pytest.mark.parametrize("named", [True, False], ids=["bundles named", "a bundle known by its dossier"])
async def test_transactions_touching_the_same_bundles_take_them_in_one_order(
    workflow_engine: AsyncEngine, named: bool
) -> None:
    """Two consumers' transactions come to bundles A and B in opposite orders, each event locking its
    bundle when it comes to it. Taken first in id order, one waits for the other to commit; taken as
    they come, each held one and waited for the other until PostgreSQL failed one (deadlock)."""
    insert = "INSERT INTO bundles (bundle_id, bundle_type, status, state) VALUES (:b, 'birth', 'open', '{}')"
    async with SqlUnitOfWork(workflow_engine) as setup:
        for bundle_id in ("bundle-a", "bundle-b"):
            await setup.conn.execute(text(insert), {"b": bundle_id})
        await setup.record("dossier-of-b", 0, [_about("bundle-b")], "workflow.events")  # its opening event
    dispatcher = BundlesFirst({})
    first_locked, second_started = asyncio.Event(), asyncio.Event()
    b_first = _about("bundle-b") if named else _of_dossier("dossier-of-b")

    async def apply(batch: list[tuple[Envelope, str]], *, first: bool) -> None:
        async with SqlUnitOfWork(workflow_engine) as uow:
            if not first:
                await first_locked.wait()
            await dispatcher.prepare([envelope for envelope, _ in batch], uow)
            for step, (_, bundle_id) in enumerate(batch):  # what each event's handler does in its turn
                await uow.conn.execute(text("SELECT 1 FROM bundles WHERE bundle_id = :b FOR UPDATE"), {"b": bundle_id})
                if step == 0 and first:
                    first_locked.set()
                    with contextlib.suppress(TimeoutError):  # the other one's first lock, if it gets it
                        await asyncio.wait_for(second_started.wait(), 0.5)
                elif step == 0:
                    second_started.set()

    one = apply([(b_first, "bundle-b"), (_about("bundle-a"), "bundle-a")], first=True)
    other = apply([(_about("bundle-a"), "bundle-a"), (_about("bundle-b"), "bundle-b")], first=False)
    await asyncio.wait_for(asyncio.gather(one, other), 20)


async def test_a_saga_a_newer_build_stored_is_read_without_the_fields_this_one_lacks(
    workflow_engine: AsyncEngine,
) -> None:
    """During a rolling upgrade the previous build locks and rewrites bundles the new one stored."""
    saga = BundleSaga(
        bundle_id="b-1", bundle_type="birth", channel="online", receiving_agency="X", form={"child": {"name": "An"}},
        steps=[StepRef(step_id="birth", procedure_code="1.001193", dossier_id="d-1", code="X-1",
                       documents=[Document(kind="to_khai", digitized=True, reused=False)])],
        submitted_at=NOW, correlation_id="c-1",
    )  # fmt: skip
    newer = saga.model_dump(mode="json")
    newer["priority"] = "high"
    newer["steps"][0]["agency_hint"] = "UBND-X"
    newer["steps"][0]["documents"][0]["pages"] = 2
    store = "UPDATE bundles SET state = CAST(:j AS JSONB) WHERE bundle_id = 'b-1'"
    async with SqlUnitOfWork(workflow_engine) as base:
        uow = SqlWorkflowUnitOfWork.joined(base)
        assert await uow.bundles.add(saga)
        await base.conn.execute(text(store), {"j": json.dumps(newer)})
        assert await uow.bundles.lock("b-1") == saga
        del newer["steps"][0]["code"]  # anything else wrong still fails
        await base.conn.execute(text(store), {"j": json.dumps(newer)})
        with pytest.raises(ValidationError):
            await uow.bundles.get("b-1")


async def test_numbers_issued_before_the_table_are_taken_from_the_results_recorded(
    engine: AsyncEngine, schema: str
) -> None:
    """The migration that adds issued_id_numbers fills it from the ResultIssued events already stored,
    or a new draw could hand a child a number issued the day before the upgrade."""
    await apply_migrations(engine, schema)  # the event store alone, as before the upgrade
    issued = {"personal_id_number": "036224000123", "birth_certificate_number": "12/2024"}
    async with engine.begin() as conn:
        for dossier, data in [("d-old", issued), ("d-card", {"card_number": "TE1"})]:
            await conn.execute(
                text(
                    "INSERT INTO events (stream_id, stream_version, event_id, event_type, event_version, occurred_at,"
                    " envelope) VALUES (:s, 1, gen_random_uuid(), 'ResultIssued', 1, now(), CAST(:e AS JSONB))"
                ),
                {"s": dossier, "e": json.dumps({"type": "ResultIssued", "payload": {"data": data}})},
            )
    await apply_migrations(engine, schema, "workflow")
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT id_number, dossier_id FROM issued_id_numbers"))).all()
    assert [tuple(r) for r in rows] == [("036224000123", "d-old")]
    async with SqlWorkflowUnitOfWork(SqlUnitOfWork(engine)) as uow:
        assert not await uow.id_numbers.claim("036224000123", "d-new")


async def test_a_return_task_an_older_build_wrote_is_listed_under_today_s_name(workflow_engine: AsyncEngine) -> None:
    """Builds before migration 0004 wrote 'return' (one may run beside this one in a deploy): filtered
    by 'result_return', a counter's list left it out; read, it failed the whole list."""
    def task(dossier_id: str, waiting_for: str) -> Task:
        return Task(dossier_id=dossier_id, agency="A", code=f"A-300603-{dossier_id[-1]}", procedure_code="2.001610",
                    status="processed", status_code=9, waiting_for=waiting_for, due_at=NOW, appointment_at=None,
                    since=NOW, bundle_id=None, overdue=False)  # fmt: skip

    async with SqlWorkflowUnitOfWork(SqlUnitOfWork(workflow_engine)) as uow:
        await uow.tasks.put(task("d-1", "return"))
        await uow.tasks.put(task("d-2", "result_return"))
        await uow.tasks.put(task("d-3", "decision"))
        listed = await uow.tasks.for_agency("A", 10, waiting_for=["result_return"])
    assert sorted(t.dossier_id for t in listed) == ["d-1", "d-2"]
    assert {TaskPublic.of(t).waiting_for for t in listed} == {"result_return"}

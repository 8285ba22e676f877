"""Registry commands end to end through the real handlers, with in-memory stores and a scripted
registry: recorded as pending, executed once, retried with backoff, failed with the reason."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest

from contracts.events.registry import RegistryCommandFailed, RegistryCommandSucceeded
from registry_sync.adapters.http_client import ExternalHttpClient
from registry_sync.adapters.memory import InMemoryRegistry
from registry_sync.adapters.operations import OperationCall, OperationTable
from registry_sync.domain.breaker import BreakerState
from registry_sync.domain.commands import CommandStatus
from registry_sync.domain.outcomes import CallOutcome, Rejected, Succeeded, Transient
from registry_sync.service_layer.commands import CommandExecutor, record_command
from registry_sync.service_layer.portal_sync import record_dossier_event
from registry_sync.settings import ExternalSystemSettings
from tests.support.kafka import eventually
from tests.unit.registry_sync.events import command, received, submitted
from tests.unit.registry_sync.fakes import Clock, DatabaseGoesAway, FakeOperations, guards

TOPIC = "registry.events"
DATA = {"person": {"id_number": "036085000001", "full_name": "A"}, "address": "Số 1"}


@pytest.fixture
def registry() -> InMemoryRegistry:
    return InMemoryRegistry()


async def receive(registry: InMemoryRegistry, operations: FakeOperations, clock: Clock, cid: str = "c1") -> None:
    """The command, after its dossier's submission (as it comes in production, on another topic)."""
    async with registry.unit_of_work() as uow:
        if "d1" not in registry.dossiers.rows:
            await record_dossier_event(submitted("d1", "CAXANPHU-240710-0001"), uow, now=clock())
        await record_command(command(cid, "d1", DATA), uow, operations=operations, topic=TOPIC, now=clock())


async def run_due(executor: CommandExecutor) -> int:
    claimed = await executor.claim("population_db", 10)
    for item in claimed:
        await executor.execute(item)
    return len(claimed)


def executor_for(registry: InMemoryRegistry, operations: FakeOperations, clock: Clock, **knobs) -> CommandExecutor:  # type: ignore[no-untyped-def]
    return CommandExecutor(registry.unit_of_work, operations, guards(**knobs), TOPIC, clock, rand=lambda: 1.0)


async def test_a_command_is_recorded_pending_and_succeeds_once(registry: InMemoryRegistry) -> None:
    clock, operations = Clock(), FakeOperations()
    async with registry.unit_of_work() as uow:
        await record_dossier_event(submitted("d1", "CAXANPHU-240710-0001"), uow, now=clock())
    await receive(registry, operations, clock)
    await receive(registry, operations, clock)  # redelivered under a new event id: still one command
    assert registry.commands.rows["c1"].status is CommandStatus.PENDING
    assert registry.published() == []  # nothing is called inside the consumer's transaction

    executor = executor_for(registry, operations, clock)
    assert await run_due(executor) == 1
    assert await run_due(executor) == 0
    assert len(operations.calls) == 1
    call = operations.calls[0]
    assert call.idempotency_key == "c1" and call.applicant_full_name == "Trần Thị Bình"
    (outcome,) = registry.published(RegistryCommandSucceeded.event_type)
    assert outcome.payload["result"] == {"residence_address": "Số 1"} and outcome.payload["attempts"] == 1
    assert outcome.key == "d1" and outcome.correlation_id == "corr-d1"
    assert registry.dossiers.rows["d1"].record.national_databases == ("population",)


async def test_transient_failures_back_off_then_succeed(registry: InMemoryRegistry) -> None:
    clock = Clock()
    operations = FakeOperations(Transient("503", 503), Transient("429", 429, retry_after=30))
    executor = executor_for(registry, operations, clock)
    await receive(registry, operations, clock)
    await run_due(executor)
    assert registry.commands.rows["c1"].next_attempt_at == clock.now + timedelta(seconds=1)  # 1 s step, rand 1.0
    assert await run_due(executor) == 0  # not due yet
    clock.advance(1)
    await run_due(executor)  # the 429: its Retry-After beats our 2 s step
    clock.advance(29)
    assert await run_due(executor) == 0
    clock.advance(1)
    await run_due(executor)
    (outcome,) = registry.published(RegistryCommandSucceeded.event_type)
    assert outcome.payload["attempts"] == 3
    # Each call knows it is a retry: a system that forgot the key may have made the first one.
    assert [call.attempt for call in operations.calls] == [1, 2, 3]


async def test_a_refusal_fails_the_command_at_once_with_the_reason(registry: InMemoryRegistry) -> None:
    clock = Clock()
    operations = FakeOperations(Rejected("404 not_found: no citizens record 036085000001", 404, "not_found"))
    await receive(registry, operations, clock)
    await run_due(executor_for(registry, operations, clock))
    (failed,) = registry.published(RegistryCommandFailed.event_type)
    assert failed.payload["reason"] == "404 not_found: no citizens record 03********01"
    assert (failed.payload["http_status"], failed.payload["error"], failed.payload["attempts"]) == (404, "not_found", 1)


async def test_a_refusal_is_published_in_the_system_s_words_for_operators_and_its_cause_for_citizens(
    registry: InMemoryRegistry,
) -> None:
    """The citizen's timeline, the stop reason and the bundle's reason read the operators' text: '409
    card_exists: the child already holds card TE1791234567890', in English, with the card number."""
    refusal = {"error": "card_exists", "message": "the child already holds card TE1791234567890", "field": "id_number"}
    transport = httpx.MockTransport(lambda _: httpx.Response(409, json=refusal))
    client = ExternalHttpClient("population_db", ExternalSystemSettings(), "http://x", transport=transport)

    async def register(call: OperationCall) -> CallOutcome:
        return await client.call("POST", "/cards", json=call.data, idempotency_key=call.idempotency_key)

    clock, operations = Clock(), OperationTable({("population_db", "register_permanent_residence"): register})
    await receive(registry, operations, clock)  # type: ignore[arg-type]
    await run_due(executor_for(registry, operations, clock))  # type: ignore[arg-type]
    await client.aclose()
    (failed,) = registry.published(RegistryCommandFailed.event_type)
    assert failed.payload["reason"] == "409 card_exists: the child already holds card TE1791234567890"
    event = failed.parse_payload()
    assert isinstance(event, RegistryCommandFailed)
    assert event.reason_vi == "trẻ đã được cấp thẻ bảo hiểm y tế"


async def test_a_refusal_whose_error_is_no_code_is_published_with_no_code_and_the_words_masked_in_the_reason(
    registry: InMemoryRegistry,
) -> None:
    """The system's error was published as the machine-readable code word for word, and reporting's
    live feed (no personal data, it says) showed "Citizen 036190000123 (Nguyen Van An) already holds
    card TE1791234567890" on every dashboard."""
    card = "TE1791234567890"
    refusal = {"error": f"Citizen 036190000123 (Nguyen Van An) already holds card {card}"}
    transport = httpx.MockTransport(lambda _: httpx.Response(409, json=refusal))
    client = ExternalHttpClient("population_db", ExternalSystemSettings(), "http://x", transport=transport)

    async def register(call: OperationCall) -> CallOutcome:
        return await client.call("POST", "/citizens", json=call.data, idempotency_key=call.idempotency_key)

    clock, operations = Clock(), OperationTable({("population_db", "register_permanent_residence"): register})
    await receive(registry, operations, clock)  # type: ignore[arg-type]
    await run_due(executor_for(registry, operations, clock))  # type: ignore[arg-type]
    await client.aclose()
    (failed,) = registry.published(RegistryCommandFailed.event_type)
    assert (failed.payload["error"], failed.payload["http_status"]) == (None, 409)
    assert failed.payload["reason"] == f"409 error: Citizen 03********23 (Nguyen Van An) already holds card {card}"
    event = failed.parse_payload()
    assert isinstance(event, RegistryCommandFailed)
    assert event.reason_vi == "hệ thống từ chối thực hiện yêu cầu"


async def test_giving_up_after_the_last_attempt(registry: InMemoryRegistry) -> None:
    clock = Clock()
    operations = FakeOperations(*[Transient("504 gateway_timeout", 504)] * 3)
    executor = executor_for(registry, operations, clock, threshold=10, max_attempts=3)
    await receive(registry, operations, clock)
    for _ in range(3):
        await run_due(executor)
        clock.advance(60)
    (failed,) = registry.published(RegistryCommandFailed.event_type)
    assert failed.payload["error"] == "gave_up" and failed.payload["attempts"] == 3
    assert failed.payload["reason"].startswith("gave up after 3 attempts: 504")


async def test_a_registry_down_for_longer_than_the_give_up_time_fails_the_command_a_day_after_its_first_attempt(
    registry: InMemoryRegistry,
) -> None:
    """The day is counted from the first attempt: counted from each attempt instead, no attempt is ever
    a day after the one before, so a registry answering 503 for thirty hours left the command pending,
    retried every five minutes, and the bundle waiting on it was never told."""
    clock = Clock()
    operations = FakeOperations(*[Transient("503 service_unavailable", 503)] * 2000)
    executor = executor_for(registry, operations, clock, threshold=10**6)  # the breaker stays out of it
    policy = executor.guards.policy
    assert (policy.give_up_after_seconds, policy.max_attempts) == (24 * 3600, 1000)  # the defaults
    await receive(registry, operations, clock)
    first_attempt, outage_ends = clock.now, clock.now + timedelta(hours=30)
    while registry.commands.rows["c1"].status is CommandStatus.PENDING and clock.now < outage_ends:
        assert await run_due(executor) == 1
        clock.now = max(clock.now, registry.commands.rows["c1"].next_attempt_at)
    row = registry.commands.rows["c1"]
    assert row.status is CommandStatus.FAILED and row.completed_at is not None
    given_up_after = (row.completed_at - first_attempt).total_seconds()
    assert policy.give_up_after_seconds <= given_up_after <= policy.give_up_after_seconds + policy.max_delay_seconds
    (failed,) = registry.published(RegistryCommandFailed.event_type)
    assert (failed.payload["error"], failed.payload["http_status"]) == ("gave_up", 503)
    assert failed.payload["attempts"] < policy.max_attempts  # the time gave up, not the count


async def test_unsupported_operations_fail_when_received(registry: InMemoryRegistry) -> None:
    clock = Clock()
    async with registry.unit_of_work() as uow:
        envelope = command("c9", "d1", {}, system="civil_status", operation="record_marriage")
        await record_command(envelope, uow, operations=FakeOperations(), topic=TOPIC, now=clock())
    (failed,) = registry.published(RegistryCommandFailed.event_type)
    assert failed.payload["error"] == "unsupported_operation" and failed.payload["attempts"] == 0


async def test_an_open_breaker_postpones_without_calling(registry: InMemoryRegistry) -> None:
    clock = Clock()
    operations = FakeOperations()
    executor = executor_for(registry, operations, clock, threshold=1)
    await receive(registry, operations, clock)
    claimed = await executor.claim("population_db", 10)
    breaker = executor.guards["population_db"].breaker
    breaker.acquire()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    await executor.execute(claimed[0])
    row = registry.commands.rows["c1"]
    assert operations.calls == [] and row.attempts == 0 and row.status is CommandStatus.PENDING


async def test_a_failed_transaction_leaves_nothing_behind(registry: InMemoryRegistry) -> None:
    clock = Clock()
    with pytest.raises(RuntimeError):
        async with registry.unit_of_work() as uow:
            await record_command(command("c1", "d1", DATA), uow, operations=FakeOperations(), topic=TOPIC, now=clock())
            raise RuntimeError("the consumer's transaction rolls back")
    assert registry.commands.rows == {}


async def test_recording_names_the_system_whose_worker_has_new_work(registry: InMemoryRegistry) -> None:
    """The consumer wakes that system's worker after its commit; a duplicate or an at-once failure wakes none."""
    clock, operations = Clock(), FakeOperations()
    async with registry.unit_of_work() as uow:
        first = await record_command(command("c1", "d1", DATA), uow, operations=operations, topic=TOPIC, now=clock())
        again = await record_command(command("c1", "d1", DATA), uow, operations=operations, topic=TOPIC, now=clock())
        unsupported = command("c2", "d1", {}, system="civil_status", operation="record_marriage")
        failed = await record_command(unsupported, uow, operations=operations, topic=TOPIC, now=clock())
    assert (first, again, failed) == ("population_db", None, None)


async def test_an_outage_during_the_call_does_not_cost_the_call(registry: InMemoryRegistry) -> None:
    clock, database = Clock(), DatabaseGoesAway(registry)

    class OutageDuringCall(FakeOperations):
        async def perform(self, system: str, operation: str, call: OperationCall) -> CallOutcome:
            database.go_away(2)  # the database is gone when the registry answers
            return await super().perform(system, operation, call)

    operations = OutageDuringCall()
    await receive(registry, operations, clock)
    executor = CommandExecutor(database, operations, guards(), TOPIC, clock, rand=lambda: 1.0)
    assert await run_due(executor) == 1
    assert database.refused == 2
    assert registry.commands.rows["c1"].status is CommandStatus.SUCCEEDED  # recorded once it was back
    assert len(registry.published(RegistryCommandSucceeded.event_type)) == 1
    clock.advance(3600)  # long after any lease: nothing left to do, nothing called again
    assert await run_due(executor) == 0 and len(operations.calls) == 1


class HeldCall(FakeOperations):
    """A call that runs until the test lets it answer."""

    def __init__(self, *script: CallOutcome) -> None:
        super().__init__(*script)
        self.answer = asyncio.Event()

    async def perform(self, system: str, operation: str, call: OperationCall) -> CallOutcome:
        await self.answer.wait()
        return await super().perform(system, operation, call)


async def test_a_long_call_keeps_its_lease_so_no_second_call_overtakes_it(registry: InMemoryRegistry) -> None:
    clock, operations = Clock(), HeldCall()
    await receive(registry, operations, clock)
    executor = CommandExecutor(registry.unit_of_work, operations, guards(), TOPIC, clock, lease_seconds=0.3)
    (claimed,) = await executor.claim("population_db", 10)
    running = asyncio.create_task(executor.execute(claimed))
    first_lease = registry.commands.rows["c1"].next_attempt_at
    for _ in range(3):  # the call outlives its first lease three times over
        clock.advance(0.2)

        async def renewed(since=registry.commands.rows["c1"].next_attempt_at) -> bool:  # type: ignore[no-untyped-def]
            return registry.commands.rows["c1"].next_attempt_at > since

        await eventually(renewed, timeout=5, interval=0.01)
    assert clock() > first_lease
    assert await executor.claim("population_db", 10) == []  # still held by the running call
    operations.answer.set()
    await running
    assert len(operations.calls) == 1 and registry.commands.rows["c1"].status is CommandStatus.SUCCEEDED


async def test_a_call_that_lost_its_lease_leaves_a_retry_to_the_new_holder(registry: InMemoryRegistry) -> None:
    """A worker stalled past its lease answers 'try later' after another worker took the command:
    the holder's lease stands (else the command would be claimable again while the holder calls)."""
    clock, operations = Clock(), FakeOperations(Transient("503", 503))
    await receive(registry, operations, clock)
    executor = CommandExecutor(registry.unit_of_work, operations, guards(), TOPIC, clock, lease_seconds=5)
    (stalled,) = await executor.claim("population_db", 10)
    clock.advance(6)
    (holder,) = await executor.claim("population_db", 10)
    await executor.execute(stalled)
    row = registry.commands.rows["c1"]
    assert row.next_attempt_at == holder.next_attempt_at and row.attempts == 0
    await executor.execute(holder)  # the holder's answer (a success) is recorded
    assert registry.commands.rows["c1"].status is CommandStatus.SUCCEEDED


@pytest.mark.parametrize("before", ["nothing", "workflow's events"])
async def test_a_command_that_overtook_its_dossier_waits_for_the_applicant(
    registry: InMemoryRegistry, before: str
) -> None:
    """Commands (from workflow) and the dossier's details (from intake) come on different topics: a
    command first was called without the applicant and refused for good ("missing_data"). Workflow's
    own events about the dossier may have come already: they make a record without the applicant."""
    clock, operations = Clock(), FakeOperations()
    async with registry.unit_of_work() as uow:
        if before == "workflow's events":
            await record_dossier_event(received("d1", "CAXANPHU-240710-0001"), uow, now=clock())
        await record_command(command("c1", "d1", DATA), uow, operations=operations, topic=TOPIC, now=clock())
    executor = executor_for(registry, operations, clock)
    assert await run_due(executor) == 1
    row = registry.commands.rows["c1"]
    assert operations.calls == [] and row.status is CommandStatus.PENDING and row.attempts == 0
    assert await run_due(executor) == 0  # it waits a while before looking again
    async with registry.unit_of_work() as uow:
        await record_dossier_event(submitted("d1", "CAXANPHU-240710-0001"), uow, now=clock())
    clock.advance(1)
    assert await run_due(executor) == 1
    assert [c.applicant_full_name for c in operations.calls] == ["Trần Thị Bình"]


async def test_an_operation_that_needs_the_applicant_waits_for_it_until_the_give_up(
    registry: InMemoryRegistry,
) -> None:
    """After ten minutes without the dossier's details, the command went without them; an operation
    that needs the applicant (a death record, a funeral allowance) was then refused for good,
    "missing_data", for a lag of our own consumer of intake's events."""
    clock, called = Clock(), []

    async def record_death(call: OperationCall) -> CallOutcome:
        called.append(call.applicant(None)["full_name"])
        return Succeeded({})

    operations = OperationTable({("population_db", "register_permanent_residence"): record_death})
    async with registry.unit_of_work() as uow:
        await record_command(command("c1", "d1", DATA), uow, operations=operations, topic=TOPIC, now=clock())
    executor = executor_for(registry, operations, clock)  # type: ignore[arg-type]
    clock.advance(executor.dossier_wait_seconds)
    assert await run_due(executor) == 1
    row = registry.commands.rows["c1"]
    assert row.status is CommandStatus.PENDING and row.attempts == 0 and registry.published() == []
    assert row.next_attempt_at == clock.now + timedelta(seconds=executor.guards.policy.max_delay_seconds)
    assert executor.guards["population_db"].breaker.state is BreakerState.CLOSED  # no call: no failure of the system

    async with registry.unit_of_work() as uow:  # the lag ends
        await record_dossier_event(submitted("d1", "CAXANPHU-240710-0001"), uow, now=clock())
    clock.advance(executor.guards.policy.max_delay_seconds)
    assert await run_due(executor) == 1
    assert called == ["Trần Thị Bình"] and registry.commands.rows["c1"].status is CommandStatus.SUCCEEDED


async def test_an_applicant_that_never_comes_fails_the_command_at_the_give_up(registry: InMemoryRegistry) -> None:
    clock = Clock()

    async def record_death(call: OperationCall) -> CallOutcome:
        call.applicant(None)
        return Succeeded({})

    operations = OperationTable({("population_db", "register_permanent_residence"): record_death})
    async with registry.unit_of_work() as uow:
        await record_command(command("c1", "d1", DATA), uow, operations=operations, topic=TOPIC, now=clock())
    executor = executor_for(registry, operations, clock)  # type: ignore[arg-type]
    clock.advance(executor.guards.policy.give_up_after_seconds)
    assert await run_due(executor) == 1
    (failed,) = registry.published(RegistryCommandFailed.event_type)
    assert failed.payload["error"] == "missing_data"
    assert failed.payload["reason"].startswith("data.applicant.full_name: required")


async def test_a_dossier_that_never_comes_is_not_waited_for_for_ever(registry: InMemoryRegistry) -> None:
    clock, operations = Clock(), FakeOperations()
    async with registry.unit_of_work() as uow:
        await record_command(command("c1", "d1", DATA), uow, operations=operations, topic=TOPIC, now=clock())
    executor = executor_for(registry, operations, clock)
    await run_due(executor)
    clock.advance(executor.dossier_wait_seconds)
    await run_due(executor)
    assert len(operations.calls) == 1 and operations.calls[0].applicant_full_name is None

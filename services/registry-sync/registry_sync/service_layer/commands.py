"""Registry commands: recorded as pending by the consumer (inbox-protected, no external call in
the consumer's transaction), then executed by a worker through the system's guard; the outcome
event goes to the outbox in the same transaction that marks the command done."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

from contracts.envelope import Envelope
from contracts.events.registry import (
    ExternalSystem,
    RegistryCommandFailed,
    RegistryCommandRequested,
    RegistryCommandSucceeded,
)
from eventkit.db import outlasting_outages
from eventkit.logging import get_logger
from registry_sync.adapters.operations import OperationCall, RegistryOperations
from registry_sync.domain.commands import CommandStatus, RegistryCommand
from registry_sync.domain.outcomes import CallOutcome, Rejected, Succeeded, Transient
from registry_sync.domain.portal_record import apply_consulted
from registry_sync.domain.portal_record import utc as as_utc
from registry_sync.service_layer.guard import Guards, SystemGuard
from registry_sync.service_layer.leases import lease_kept, left_to_holder
from registry_sync.service_layer.unit_of_work import Clock, RegistryUnitOfWork, UnitOfWorkFactory

log = get_logger(__name__)

PRODUCER = "registry-sync"
#: How the portal names the national databases a dossier used ("national_databases").
CONSULTED = {
    "population_db": "population",
    "civil_status": "civil_status",
    "social_insurance": "social_insurance",
    "social_welfare": "social_welfare",
}


def command_stream(command_id: str) -> str:
    """One stream per command: version 0 → its single outcome, so it can never have two."""
    return f"registry-command-{command_id}"


async def record_command(
    envelope: Envelope, uow: RegistryUnitOfWork, *, operations: RegistryOperations, topic: str, now: datetime
) -> str | None:
    """Consumer handler: keep the command as pending (or fail it at once if we cannot perform it).

    Returns the system whose worker now has the command to perform, if any."""
    event = envelope.parse_payload()
    assert isinstance(event, RegistryCommandRequested)  # the consumer routes this type here
    command = RegistryCommand(
        command_id=event.command_id,
        system=event.system,
        operation=event.operation,
        dossier_id=event.dossier_id,
        bundle_id=event.bundle_id,
        step_id=event.step_id,
        agency=event.agency,
        data=event.data,
        requested_at=as_utc(event.requested_at),
        received_at=now,
        next_attempt_at=now,
        correlation_id=envelope.correlation_id,
        causation_id=str(envelope.event_id),
    )
    if not operations.supports(command.system, command.operation):
        reason = f"unsupported operation {command.operation!r} on {command.system}"
        command.fail(reason, now, error_code="unsupported_operation")
    if not await uow.commands.add(command):
        log.info("command already known; ignored", command_id=command.command_id, dossier_id=command.dossier_id)
        return None
    if command.done:
        await _publish_outcome(uow, command, topic)
        return None
    return command.system


@dataclass
class CommandExecutor:
    """Executes one claimed command: the call through its system's guard, then the outcome."""

    uow: UnitOfWorkFactory
    operations: RegistryOperations
    guards: Guards
    topic: str
    clock: Clock
    #: A claim's lease; renewed every third of it while the call runs (see ``leases``).
    lease_seconds: float = 15.0
    #: How long recording an answered call waits out a database outage (then the call is made
    #: again, idempotently, once its lease has run out).
    outage_seconds: float = 120.0
    #: A command can overtake its dossier's submission (they travel on different topics): it waits
    #: for the dossier's details (the applicant) this long, checking every ``dossier_poll_seconds``;
    #: then it is performed without them, and one that needs the applicant waits on, checking every
    #: ``policy.max_delay_seconds``, until the policy's give-up.
    dossier_wait_seconds: float = 600.0
    dossier_poll_seconds: float = 0.5
    rand: Callable[[], float] = field(default=random.random)
    #: Units of work for one statement (the claim, the read before a call): no BEGIN and COMMIT.
    one_statement: UnitOfWorkFactory | None = None

    async def claim(self, system: str, limit: int) -> list[RegistryCommand]:
        now = self.clock()
        lease = now + timedelta(seconds=self.lease_seconds)
        async with (self.one_statement or self.uow)() as uow:
            return await uow.commands.claim_due(system, now, limit, lease)

    async def execute(self, command: RegistryCommand) -> None:
        call = await self._call_for(command)
        guard = self.guards[command.system]
        if call is None:  # the dossier's details have not arrived: wait for them, no attempt counted
            await self._record(command, None, guard, wait=self.dossier_poll_seconds)
            return
        async with lease_kept(lambda: self._renew(command), every=self.lease_seconds / 3, what=command.command_id):
            outcome = await guard.call(lambda: self.operations.perform(command.system, command.operation, call))
        if isinstance(outcome, Rejected) and outcome.awaits_dossier and not self._waited_too_long(command):
            # The operation needs the applicant: a lag of our own consumer of intake's events is no
            # refusal, so the command waits on (no call was made, no attempt counted), as a registry
            # outage is waited out, and fails "missing_data" only at the retry policy's give-up.
            await self._record(command, None, guard, wait=self.guards.policy.max_delay_seconds)
            return
        # The call is made: a database outage now must not cost it (it would be made again once
        # the lease ran out), so recording waits the outage out.
        await outlasting_outages(
            lambda: self._record(command, outcome, guard),
            for_seconds=self.outage_seconds,
            what="registry command outcome",
        )

    def _waited_too_long(self, command: RegistryCommand) -> bool:
        return (self.clock() - command.received_at).total_seconds() >= self.guards.policy.give_up_after_seconds

    async def _renew(self, command: RegistryCommand) -> bool:
        until = self.clock() + timedelta(seconds=self.lease_seconds)
        async with (self.one_statement or self.uow)() as uow:
            renewed = await uow.commands.renew([(command.command_id, command.next_attempt_at)], until)
        if command.command_id in renewed:
            command.lease(until)
        return command.command_id in renewed

    async def _record(
        self, command: RegistryCommand, outcome: CallOutcome | None, guard: SystemGuard, *, wait: float | None = None
    ) -> None:
        """The outcome of an attempt; ``None``: not attempted, tried again after ``wait`` seconds
        (default: when the system's breaker lets a probe through)."""
        now = self.clock()
        async with self.uow() as uow:
            current = await uow.commands.get(command.command_id, for_update=True)
            if current is None or current.done:
                return
            if left_to_holder(current.next_attempt_at, command.next_attempt_at, outcome):
                log.info("lease lost; outcome left to the holder", command_id=command.command_id)
                return
            if outcome is None:
                wait = max(guard.breaker.seconds_until_probe(), 0.05) if wait is None else wait
                current.postpone(now + timedelta(seconds=wait))
                await uow.commands.save(current)
                return
            current.attempted(now)
            if isinstance(outcome, Succeeded):
                current.succeed(outcome.body, now)
                await self._note_consulted(uow, current, now)
            elif isinstance(outcome, Rejected):
                current.fail(outcome.reason, now, error_code=outcome.error, http_status=outcome.status)
            elif isinstance(outcome, Transient):
                current.retry_later(outcome, self.guards.policy, now, self.rand)
            await uow.commands.save(current)
            if current.done:
                await _publish_outcome(uow, current, self.topic)
        self._log(current, outcome)

    async def _call_for(self, command: RegistryCommand) -> OperationCall | None:
        """The call, with what we know of the dossier; None while the dossier's details (folded
        from intake's events, another topic than the command's) have not arrived and may still."""
        async with (self.one_statement or self.uow)() as uow:
            dossier = await uow.dossiers.get(command.dossier_id)
        waited = (self.clock() - command.received_at).total_seconds()
        # Known once intake's submission is folded in: workflow's events alone (they can come first,
        # on their own topic) make a record without the applicant.
        known = dossier is not None and dossier.record.submitted_at is not None
        if not known and waited < self.dossier_wait_seconds:
            if command.attempts == 0 and waited < 2 * self.dossier_poll_seconds:  # once, not every poll
                log.info("dossier details not here yet; the command waits", command_id=command.command_id,
                         dossier_id=command.dossier_id)  # fmt: skip
            return None
        if not known:
            log.warning("dossier details never came; the command goes without them", command_id=command.command_id,
                        dossier_id=command.dossier_id, waited_seconds=round(waited))  # fmt: skip
        record = dossier.record if dossier else None
        return OperationCall(
            data=command.data,
            idempotency_key=command.command_id,
            correlation_id=command.correlation_id,
            attempt=command.attempts + 1,
            applicant_full_name=record.applicant_full_name if record else None,
            applicant_id_number=record.applicant_id_number if record else None,
            agency_code=command.agency or (record.agency_code if record else None),
        )

    async def _note_consulted(self, uow: RegistryUnitOfWork, command: RegistryCommand, now: datetime) -> None:
        """The portal reports which national databases a dossier used: add this one."""
        database = CONSULTED.get(command.system)
        sync = await uow.dossiers.get(command.dossier_id, for_update=True)
        if database is None or sync is None:
            return
        record = apply_consulted(sync.record, database)
        if record is not None and sync.change(
            record, at=now, now=now, correlation_id=command.correlation_id, causation_id=command.causation_id
        ):
            await uow.dossiers.save(sync)

    @staticmethod
    def _log(command: RegistryCommand, outcome: object) -> None:
        fields = {
            "command_id": command.command_id,
            "dossier_id": command.dossier_id,
            "correlation_id": command.correlation_id,
            "system": command.system,
            "operation": command.operation,
            "attempts": command.attempts,
        }
        if command.done:
            log.info("registry command finished", status=command.status.value, **fields)
        elif isinstance(outcome, Transient):
            log.info("registry command will be retried", status_code=outcome.status, **fields)


async def _publish_outcome(uow: RegistryUnitOfWork, command: RegistryCommand, topic: str) -> None:
    assert command.completed_at is not None
    payload: RegistryCommandSucceeded | RegistryCommandFailed
    if command.status is CommandStatus.SUCCEEDED:
        payload = RegistryCommandSucceeded(
            command_id=command.command_id,
            system=cast(ExternalSystem, command.system),
            operation=command.operation,
            dossier_id=command.dossier_id,
            bundle_id=command.bundle_id,
            step_id=command.step_id,
            result=command.result or {},
            attempts=max(command.attempts, 1),
            completed_at=command.completed_at,
        )
    else:
        payload = RegistryCommandFailed(
            command_id=command.command_id,
            system=cast(ExternalSystem, command.system),
            operation=command.operation,
            dossier_id=command.dossier_id,
            bundle_id=command.bundle_id,
            step_id=command.step_id,
            reason=command.last_error or "failed",
            attempts=command.attempts,
            failed_at=command.completed_at,
            http_status=command.last_http_status,
            error=command.error_code,
        )
    envelope = Envelope.wrap(
        payload,
        key=command.dossier_id,
        producer=PRODUCER,
        correlation_id=command.correlation_id,
        causation_id=command.causation_id,
    )
    await uow.record(command_stream(command.command_id), 0, [envelope], topic)

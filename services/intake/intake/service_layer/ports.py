"""The ports intake's handlers depend on, beyond eventkit's event store and outbox."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from types import TracebackType
from typing import Any, Protocol

from contracts.envelope import Envelope
from eventkit.eventstore import EventStore
from eventkit.outbox import Outbox
from intake.domain.actions import DossierState
from intake.domain.tracking import DossierChange
from intake.service_layer.pending_codes import PendingCodes


@dataclass(frozen=True)
class StoredReply:
    """The first answer given under an Idempotency-Key."""

    request_hash: str
    status_code: int
    body: dict[str, Any]


@dataclass(frozen=True)
class NewDossier:
    """A row of the citizen view, written with the DossierSubmitted event."""

    dossier_id: str
    code: str
    procedure_code: str
    channel: str
    receiving_agency: str
    competent_agency: str
    status: str
    status_code: int
    subject_key: str | None
    submitted_at: datetime
    received_at: datetime | None
    due_at: datetime | None
    fee: int
    timeline: list[dict[str, Any]]
    bundle_id: str | None = None
    bundle_step: str | None = None
    bundle_position: int | None = None
    delivery: str = "counter"  # how the result is received (the method; the postal address is not kept)
    # Not a column: the view keeps no personal data (the dossier's DossierSubmitted event has it). Only
    # to tell whether an open dossier of the same subject is this applicant's own (domain.errors.duplicate_of).
    applicant_key: str | None = None


@dataclass(frozen=True)
class NewBundle:
    bundle_id: str
    bundle_type: str
    channel: str
    receiving_agency: str
    submitted_at: datetime
    due_at: datetime | None


@dataclass(frozen=True)
class NewSubmission:
    """Everything one submission writes, committed together or not at all.

    ``codes.count`` consecutive numbers of the receiving agency's day are taken for the dossiers, in
    order; until then ``dossiers``, ``envelopes`` and ``reply`` carry the placeholders of ``codes``.
    Each envelope is the first event of the stream named by its key (a new dossier or bundle); all go
    to ``topic``. With an ``idempotency_key`` the reply is kept under it.
    """

    agency: str
    day: date
    codes: PendingCodes
    dossiers: list[NewDossier]
    bundle: NewBundle | None
    envelopes: list[Envelope]
    topic: str
    status_code: int
    reply: dict[str, Any]
    idempotency_key: str | None = None
    request_hash: str | None = None


class Dossiers(Protocol):
    """Intake's own tables: sequences, idempotency keys, the dossier and bundle views."""

    async def claim_key(self, key: str, request_hash: str) -> StoredReply | None:
        """Take the key for this request (None), or the reply stored by whoever took it first.

        A concurrent request holding the key makes this wait until that one commits or rolls back."""
        ...

    async def store_reply(self, key: str, status_code: int, body: dict[str, Any]) -> None: ...

    async def next_sequence(self, agency: str, day: date, count: int = 1) -> int:
        """Reserve ``count`` numbers of the agency's daily sequence; returns the last one."""
        ...

    async def add_dossiers(self, rows: Sequence[NewDossier]) -> None:
        """Insert the rows; DuplicateDossier if one's subject has an open dossier already (named only
        to its own applicant: see :func:`intake.domain.errors.duplicate_of`)."""
        ...

    async def add_bundle(self, row: NewBundle) -> None: ...

    async def state(self, ref: str) -> DossierState | None:
        """The dossier by code or id, as the action rules see it (locked until the transaction ends)."""
        ...

    async def apply(self, change: DossierChange) -> bool:
        """Apply a change to the view; False when the dossier is unknown."""
        ...

    async def apply_many(self, changes: Sequence[DossierChange]) -> set[str]:
        """Apply changes in the order given (one round trip for them all); returns the unknown dossiers' ids."""
        ...

    async def key_subject(self, dossier_id: str, procedure_code: str, key: str) -> str | None:
        """Give an open dossier that has none the subject digest ``key`` (a bundle step whose subject
        an earlier step produced). Another open dossier of the procedure with that digest: its code,
        and this one stays without."""
        ...

    async def end_bundle(
        self, bundle_id: str, status: str, at: datetime, failed_step: str | None, reason: str | None
    ) -> None: ...

    async def reopen_bundle(self, bundle_id: str, at: datetime) -> None:
        """A step of the bundle started at ``at``: if that is after the bundle ended partially, the
        bundle is processing again (its end cleared, its failed step and reason kept: it ends again for
        them), until its next end. Workflow runs such a bundle again to start the step an older replica
        left held when it ended it during a rolling deploy. A start from before the end (replayed late
        from the dead letters) changes nothing."""
        ...


class IntakeUnitOfWork(Protocol):
    """One transaction: event streams, outbox and intake's tables together."""

    # Read-only properties: any concrete store, outbox and tables satisfy them.
    @property
    def events(self) -> EventStore: ...

    @property
    def outbox(self) -> Outbox: ...

    @property
    def dossiers(self) -> Dossiers: ...

    async def record(
        self, stream_id: str, expected_version: int, envelopes: Sequence[Envelope], topic: str
    ) -> int: ...

    async def submit(self, submission: NewSubmission) -> list[str] | StoredReply:
        """Write the submission: the codes it took, in order; or the reply stored under its
        Idempotency-Key by an earlier request (and nothing written). DuplicateDossier if a dossier's
        subject has an open dossier already (named as by ``add_dossiers``). The first and only write
        of its unit of work; on a unit of work that was not entered, a transaction of its own."""
        ...

    async def __aenter__(self) -> IntakeUnitOfWork: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

"""In-memory twins of intake's tables and unit of work, for unit tests of the handlers."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import asdict, replace
from datetime import date, datetime
from types import TracebackType
from typing import Any, Self

from contracts.envelope import Envelope
from contracts.events.common import DossierStatus
from eventkit.eventstore import InMemoryEventStore
from eventkit.uow import InMemoryUnitOfWork
from intake.domain.actions import DossierState, taken_on
from intake.domain.codes import dossier_code
from intake.domain.errors import applicant_key, duplicate_of
from intake.domain.tracking import ENDED, DossierChange, Shown, as_applied
from intake.service_layer.ports import NewBundle, NewDossier, NewSubmission, StoredReply


class InMemoryDossiers:
    """Same contract as PostgresDossiers; rows are plain dicts. Like the table, a row keeps no applicant:
    a duplicate's is read from its first event in ``events`` (the unit of work's store)."""

    def __init__(self, events: InMemoryEventStore) -> None:
        self._events = events
        self.keys: dict[str, dict[str, Any]] = {}
        self.sequences: dict[tuple[str, date], int] = {}
        self.rows: dict[str, dict[str, Any]] = {}
        self.bundles: dict[str, dict[str, Any]] = {}

    def snapshot(self) -> tuple[Any, ...]:
        return copy.deepcopy((self.keys, self.sequences, self.rows, self.bundles))

    def restore(self, saved: tuple[Any, ...]) -> None:
        self.keys, self.sequences, self.rows, self.bundles = saved

    async def claim_key(self, key: str, request_hash: str) -> StoredReply | None:
        if key not in self.keys:
            self.keys[key] = {"hash": request_hash, "status": None, "body": None}
            return None
        held = self.keys[key]
        return StoredReply(held["hash"], held["status"], held["body"])

    async def store_reply(self, key: str, status_code: int, body: dict[str, Any]) -> None:
        self.keys[key].update(status=status_code, body=copy.deepcopy(body))

    async def next_sequence(self, agency: str, day: date, count: int = 1) -> int:
        self.sequences[(agency, day)] = self.sequences.get((agency, day), 0) + count
        return self.sequences[(agency, day)]

    async def add_dossiers(self, rows: Sequence[NewDossier]) -> None:
        for row in rows:
            if row.subject_key is not None:
                for other in self.rows.values():
                    if (other["procedure_code"], other["subject_key"]) == (row.procedure_code, row.subject_key):
                        holder = self._applicant_key(other["dossier_id"])
                        raise duplicate_of(row.procedure_code, other["code"], holder, row.applicant_key)
            values = asdict(row)
            del values["applicant_key"]  # not a column
            self.rows[row.dossier_id] = {
                **values,
                "current_agency": row.receiving_agency,
                "official_id": None,
                "overdue": False,
                "awaiting_supplement": False,
                "requested_documents": (),
                "results": [],
                "paid_amount": 0,
                "requested_amount": 0,
                "rating": None,
                "withdrawal_requested": False,
                "step_started_at": None,
                "portal_sync": None,
            }

    def _applicant_key(self, dossier_id: str) -> str | None:
        """As PostgresDossiers reads it: from the dossier's first event (DossierSubmitted)."""
        stream = self._events.streams.get(dossier_id)
        applicant = stream[0].envelope.payload.get("applicant") if stream else None
        if not isinstance(applicant, dict):
            return None
        return applicant_key(applicant.get("id_number"), applicant.get("phone"))

    async def add_bundle(self, row: NewBundle) -> None:
        self.bundles[row.bundle_id] = {**asdict(row), "status": "submitted", "failed_step": None, "reason": None}

    def find(self, ref: str) -> dict[str, Any] | None:
        return self.rows.get(ref) or next((r for r in self.rows.values() if r["code"] == ref), None)

    async def state(self, ref: str) -> DossierState | None:
        row = self.find(ref)
        if row is None:
            return None
        return DossierState(
            row["dossier_id"], row["code"], row["procedure_code"], DossierStatus(row["status"]),
            row["awaiting_supplement"], row["rating"] is not None, row["withdrawal_requested"],
            row["fee"], row["paid_amount"], row["requested_amount"],
            _handled(row), tuple(row["requested_documents"]),
        )

    async def apply(self, change: DossierChange) -> bool:
        row = self.rows.get(change.dossier_id)
        if row is None:
            return False
        shown = Shown(row.get("state_at"), row["status_code"], row.get("due_at_at"))
        change = as_applied(change, shown)
        after = shown.after(change, due_applies=(row["received_at"] or change.received_at) is not None)
        row["state_at"], row["due_at_at"] = after.state_at, after.due_at_at
        if change.status:
            row["status"], row["status_code"] = change.status.value, change.status.code
        if change.handler:
            agency, official = change.handler
            if official is None and agency == row["current_agency"] and not change.handover:
                official = row["official_id"]  # a timer event keeps the official holding the dossier
            row["current_agency"], row["official_id"] = agency, official
        row["received_at"] = row["received_at"] or change.received_at
        for key, value in (("due_at", change.due_at), ("overdue", change.overdue),
                           ("awaiting_supplement", change.awaiting_supplement), ("rating", change.rating),
                           ("withdrawal_requested", change.withdrawal_requested),
                           ("step_started_at", change.step_started_at), ("portal_sync", change.portal_sync),
                           ("requested_documents", change.requested_documents)):
            if value is not None and (key != "due_at" or row["received_at"] is not None):  # appointment: received only
                row[key] = value
        row["paid_amount"] += change.paid
        row["requested_amount"] += change.requested
        row["results"] += [change.result] if change.result else []
        row["timeline"] += [change.timeline.as_dict()] if change.timeline else []
        if change.ends:
            row["subject_key"] = None
        return True

    async def apply_many(self, changes: Sequence[DossierChange]) -> set[str]:
        return {c.dossier_id for c in changes if not await self.apply(c)}

    async def key_subject(self, dossier_id: str, procedure_code: str, key: str) -> str | None:
        row = self.rows.get(dossier_id)
        for other in self.rows.values():
            if (other["procedure_code"], other["subject_key"]) == (procedure_code, key) and other is not row:
                return str(other["code"])
        if row is not None and row["subject_key"] is None and DossierStatus(row["status"]) not in ENDED:
            row["subject_key"] = key
        return None

    async def end_bundle(
        self, bundle_id: str, status: str, at: datetime, failed_step: str | None, reason: str | None
    ) -> None:
        self.bundles[bundle_id].update(status=status, ended_at=at, failed_step=failed_step, reason=reason)

    async def reopen_bundle(self, bundle_id: str, at: datetime) -> None:
        bundle = self.bundles.get(bundle_id)
        if bundle is not None and bundle["status"] == "partially_completed" and bundle["ended_at"] < at:
            bundle.update(status="processing", ended_at=None)


class InMemoryIntakeUnitOfWork(InMemoryUnitOfWork):
    """eventkit's in-memory unit of work plus intake's tables, rolled back together."""

    def __init__(self) -> None:
        super().__init__()
        self.dossiers = InMemoryDossiers(self.events)
        self._entered = False

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self._saved = self.dossiers.snapshot()
        self._entered = True
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._entered = False
        await super().__aexit__(exc_type, exc, tb)
        if exc_type is not None:
            self.dossiers.restore(self._saved)

    async def submit(self, submission: NewSubmission) -> list[str] | StoredReply:
        if not self._entered:  # as in PostgreSQL: a transaction of its own
            async with self:
                return await self.submit(submission)
        s, dossiers = submission, self.dossiers
        if s.idempotency_key is not None:
            stored = await dossiers.claim_key(s.idempotency_key, s.request_hash or "")
            if stored is not None:
                return stored
        last = await dossiers.next_sequence(s.agency, s.day, s.codes.count)
        codes = [dossier_code(s.agency, s.day, n) for n in range(last - s.codes.count + 1, last + 1)]
        if s.bundle is not None:
            await dossiers.add_bundle(s.bundle)
        await dossiers.add_dossiers([replace(d, code=s.codes.fill(d.code, codes)) for d in s.dossiers])
        for envelope in s.envelopes:
            filled = Envelope.model_validate_json(s.codes.fill(envelope.model_dump_json(), codes))
            await self.record(filled.key, 0, [filled], s.topic)
        if s.idempotency_key is not None:
            await dossiers.store_reply(s.idempotency_key, s.status_code, s.codes.fill_json(s.reply, codes))
        return codes


def _handled(row: dict[str, Any]) -> bool:
    """As PostgresDossiers.state decides it: taken on by an agency, or refused by an official."""
    return taken_on(row) or (row["status"] == "refused" and row["official_id"] is not None)

"""The path every call to a simulated system takes: faults first, then the idempotency check,
then the effect, counted exactly when it happens.

Nothing awaits between the idempotency lookup, the effect and remembering the answer, so on the
single event loop two concurrent requests with one key cannot both take effect.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from typing import Annotated

import structlog
from fastapi import Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from registry_sim.errors import SimError
from registry_sim.faults import System
from registry_sim.idempotency import StoredAnswer, fingerprint
from registry_sim.state import Record, SimulatorState

log = structlog.get_logger(__name__)


def get_sim(request: Request) -> SimulatorState:
    """The state the app factory built (never a module-level singleton)."""
    state: SimulatorState = request.app.state.sim
    return state


SimDep = Annotated[SimulatorState, Depends(get_sim)]

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Client-chosen key (printable ASCII, no spaces): a retry with it never acts twice.",
    ),
]


def fault_gate(system: System) -> Callable[[SimulatorState], Awaitable[None]]:
    """A router dependency that delays or fails every call to ``system`` before it does anything."""

    async def gate(sim: SimDep) -> None:
        await sim.faults.before_call(system, sim.counters)

    return gate


class Mutation:
    """One mutating call: runs its effect at most once per idempotency key."""

    def __init__(self, sim: SimulatorState, system: System, key: str | None, path: str) -> None:
        self.sim = sim
        self.system = system
        self.key = key
        self.path = path

    async def run(
        self,
        operation: str,
        body: BaseModel | None,
        effect: Callable[[], Record],
        *,
        status_code: int = 201,
        unchanged: Callable[[], Record | None] | None = None,
    ) -> JSONResponse:
        """Apply ``effect`` (which raises :class:`SimError` before changing anything, if it must
        refuse) and answer with its record, or replay the answer remembered under the key.

        ``unchanged`` recognises a request the system already holds by its natural key: its record
        is answered with 200 and nothing is applied or counted as an effect."""
        digest = fingerprint(operation, self.path, body.model_dump(mode="json") if body else None)
        counters = self.sim.counters
        if self.key is not None:
            stored = self.sim.idempotency.get(self.system.value, self.key)
            if stored is not None:
                if stored.fingerprint != digest:
                    raise SimError(
                        409,
                        "idempotency_key_reused",
                        "this Idempotency-Key was used for a different request",
                        field="Idempotency-Key",
                    )
                counters.record_replay(self.system.value)
                return JSONResponse(stored.body, stored.status, headers={"Idempotent-Replayed": "true"})
        held = unchanged() if unchanged is not None else None
        record = held if held is not None else effect()
        status = 200 if held is not None else status_code
        if self.key is not None:
            # A snapshot: the stored record may change later, the first answer must not.
            answer = StoredAnswer(fingerprint=digest, status=status, body=copy.deepcopy(record))
            self.sim.idempotency.remember(self.system.value, self.key, answer)
        if held is None:
            counters.record_effect(self.system.value, operation)
            log.info("effect applied", system=self.system.value, operation=operation)
            await self.sim.faults.after_effect(self.system, counters)
        return JSONResponse(record, status)


def mutation(system: System) -> Callable[..., Mutation]:
    """A route dependency giving the handler a :class:`Mutation` bound to ``system``."""

    def build(request: Request, sim: SimDep, idempotency_key: IdempotencyKeyHeader = None) -> Mutation:
        return Mutation(sim, system, idempotency_key, request.url.path)

    return build


#: A person's number as a look-up's query parameter (:func:`holding`).
IdQuery = Annotated[str, Query(pattern=r"^[0-9]{12}$", description="12-digit personal identification number.")]


def holding(sim: SimulatorState, system: System, collection: str, path: str, value: str) -> dict[str, list[Record]]:
    """The records whose field at dotted ``path`` is ``value``: a look-up by natural key, as
    ``{"items": [...]}``."""

    def at(record: Record) -> object:
        found: object = record
        for key in path.split("."):
            found = found.get(key) if isinstance(found, dict) else None
        return found

    return {"items": [r for r in sim.records.collection(system, collection).values() if at(r) == value]}


def lookup(sim: SimulatorState, system: System, collection: str, key: str, field: str) -> Record:
    """A stored record, or a 404 naming the field that identified it."""
    record = sim.records.collection(system, collection).get(key)
    if record is None:
        raise SimError(404, "not_found", f"no {collection} record {key}", field=field)
    return record

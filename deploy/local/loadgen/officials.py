"""The officials: they poll their agency's task list and decide, after a configurable delay.

What to decide is a pure function of the task (:func:`choose`), so the policy is unit-tested;
:class:`Officials` is the polling loop around it, bounded by a stop event and a deadline.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from contracts.catalogue import Catalogue, Procedure
from loadgen.api import Api

SUPPLEMENT_REASON = "Bổ sung bản sao giấy tờ tùy thân có chứng thực"
REJECT_REASON = "Hồ sơ không đủ điều kiện giải quyết theo quy định"


@dataclass(frozen=True)
class OfficialPolicy:
    """How officials behave. Delays are uniform in [min, max] seconds."""

    delay: tuple[float, float] = (0.0, 0.0)
    supplement_rate: float = 0.05  # share of dossiers sent back once for a supplement
    # Share of fee-charging dossiers whose fee an official asks for before deciding. The request is
    # refused (409) when the citizen has already paid, as most have: it then costs one round trip.
    payment_request_rate: float = 0.05
    # Chance that an official who takes a dossier up rejects it: refused at reception (registered or
    # received), stopped in processing. Once at most per dossier.
    reject_rate: float = 0.01
    # Whether the receiving counter hands each result over (the citizen comes to collect it): the
    # dossier ends as returned. Off, results stay ready (processed) and return tasks are not polled.
    returns: bool = True
    poll_interval: float = 0.25
    max_parallel: int = 32  # decisions in flight at once


@dataclass(frozen=True)
class Decision:
    decision: str
    reason: str | None = None


def choose(
    task: Mapping[str, Any],
    rng: random.Random,
    policy: OfficialPolicy,
    *,
    made: Collection[str] = (),
    charges: bool = False,
) -> Decision | None:
    """The next decision on a task, or None when it waits for the citizen.

    ``made`` holds the decisions already made on the dossier and ``charges`` whether its procedure
    has a fee. An online dossier is first accepted (registered → received); a dossier in hand is
    approved, or first — once at most each, since a second supplement request makes it overdue —
    sent back for a supplement or asked for its fee (only in processing, as the lifecycle allows).
    Each time an official takes a dossier up in one of those states, it is rejected instead at
    ``reject_rate`` (refused at reception, stopped in processing); a rejection is tried once at most.
    A processed dossier's result is handed over, if the policy returns results.
    """
    status = task.get("status", "processing")
    if status == "processed":
        return Decision("return_result") if policy.returns else None
    if status in ("registered", "received", "processing") and "reject" not in made:
        if rng.random() < policy.reject_rate:
            return Decision("reject", REJECT_REASON)
    if status == "registered":
        return Decision("accept")
    if status in ("received", "processing"):
        if "request_supplement" not in made and rng.random() < policy.supplement_rate:
            return Decision("request_supplement", SUPPLEMENT_REASON)
        asks_fee = charges and status == "processing" and "request_payment" not in made
        if asks_fee and rng.random() < policy.payment_request_rate:
            return Decision("request_payment")
        return Decision("approve")
    return None


class Officials:
    """One polling loop over every agency that has been given work."""

    def __init__(self, api: Api, catalogue: Catalogue, policy: OfficialPolicy, rng: random.Random) -> None:
        self.api = api
        self.catalogue = catalogue
        self.policy = policy
        self.rng = rng
        self.agencies: set[str] = set()
        self.decided = 0
        self._in_hand: set[str] = set()
        self._made: dict[str, set[str]] = {}  # dossier id → decisions made (or refused): never twice
        self._slots = asyncio.Semaphore(policy.max_parallel)
        self._tasks: set[asyncio.Task[None]] = set()
        # Results nobody hands over are not asked for: their tasks would crowd the lists for ever.
        self._waiting_for = () if policy.returns else ("acceptance", "decision")

    def watch(self, agencies: tuple[str, ...]) -> None:
        self.agencies.update(agencies)

    async def run(self, stop: asyncio.Event, deadline: float) -> None:
        """Poll until ``stop`` is set or the monotonic ``deadline`` passes."""
        while not stop.is_set() and time.monotonic() < deadline:
            for agency in sorted(self.agencies):
                for task in await self.api.tasks(agency, self._waiting_for):
                    self._take(task, agency)
            try:
                await asyncio.wait_for(stop.wait(), self.policy.poll_interval)
            except TimeoutError:
                pass
        for handling in list(self._tasks):
            handling.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _take(self, task: Mapping[str, Any], agency: str) -> None:
        """Decide on ``task``, from ``agency``'s list, as one of its officials (unless it is in hand)."""
        dossier_id = str(task.get("dossier_id", ""))
        if not dossier_id or dossier_id in self._in_hand:
            return
        made = self._made.get(dossier_id, set())
        procedure = self.catalogue.procedures.get(str(task.get("procedure_code", "")))
        charges = procedure is not None and procedure.fee > 0
        decision = choose(task, self.rng, self.policy, made=made, charges=charges)
        if decision is None or decision.decision in made:
            return
        self._in_hand.add(dossier_id)
        handling = asyncio.create_task(self._decide(dossier_id, agency, decision, procedure))
        self._tasks.add(handling)
        handling.add_done_callback(self._tasks.discard)

    async def _decide(self, dossier_id: str, agency: str, decision: Decision, procedure: Procedure | None) -> None:
        try:
            low, high = self.policy.delay
            if high > 0:
                await asyncio.sleep(self.rng.uniform(low, high))
            async with self._slots:
                official = f"CB-{self.rng.randrange(1, 40):03d}"
                documents: list[str] = []
                if decision.decision == "request_supplement":
                    documents = await self._to_bring(dossier_id, agency, procedure)
                answer = await self.api.decide(
                    dossier_id, decision.decision, official, agency, decision.reason, documents
                )
            # 409: someone (or something) already moved it on, or the fee asked for is already paid;
            # not a 409 "conflict" (the dossier kept changing): that one is decided again next poll.
            conflict = isinstance(answer.body, dict) and answer.body.get("error") == "conflict"
            if answer.ok or (answer.status == 409 and not conflict):
                self._made.setdefault(dossier_id, set()).add(decision.decision)
                self.decided += answer.ok
        finally:
            self._in_hand.discard(dossier_id)

    async def _to_bring(self, dossier_id: str, agency: str, procedure: Procedure | None) -> list[str]:
        """What a supplement request names (form 02): what the dossier lacks, else one of the
        procedure's documents it does not have yet; nothing if the dossier cannot be looked at."""
        view = await self.api.dossier(dossier_id, agency)
        if not view.ok or not isinstance(view.body, dict):
            return []
        if view.body.get("missing_documents"):
            return [str(kind) for kind in view.body["missing_documents"]]
        held = {d.get("kind") for d in view.body.get("documents") or [] if isinstance(d, dict)}
        kinds = [d.kind for d in procedure.required_documents] if procedure else []
        absent = [kind for kind in kinds if kind not in held]
        return [self.rng.choice(absent)] if absent else []

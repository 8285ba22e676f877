"""The officials: they poll their agency's task list and decide, after a configurable delay.

What to decide is a pure function of the task (:func:`choose`), so the policy is unit-tested;
:class:`Officials` is the polling loop around it, bounded by a stop event and a deadline.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from loadgen.api import Api

SUPPLEMENT_REASON = "Bổ sung bản sao giấy tờ tùy thân có chứng thực"


@dataclass(frozen=True)
class OfficialPolicy:
    """How officials behave. Delays are uniform in [min, max] seconds."""

    delay: tuple[float, float] = (0.0, 0.0)
    supplement_rate: float = 0.05  # share of dossiers sent back once for a supplement
    poll_interval: float = 0.25
    max_parallel: int = 32  # decisions in flight at once


@dataclass(frozen=True)
class Decision:
    decision: str
    reason: str | None = None


def choose(
    task: Mapping[str, Any], rng: random.Random, policy: OfficialPolicy, *, asked_before: bool
) -> Decision | None:
    """The next decision on a task, or None when it waits for the citizen.

    An online dossier is first accepted (registered → received); a dossier in hand is approved,
    or — once at most, since a second request makes it overdue — sent back for a supplement.
    """
    status = task.get("status", "processing")
    if status == "registered":
        return Decision("accept")
    if status in ("received", "processing"):
        if not asked_before and rng.random() < policy.supplement_rate:
            return Decision("request_supplement", SUPPLEMENT_REASON)
        return Decision("approve")
    return None


class Officials:
    """One polling loop over every agency that has been given work."""

    def __init__(self, api: Api, policy: OfficialPolicy, rng: random.Random) -> None:
        self.api = api
        self.policy = policy
        self.rng = rng
        self.agencies: set[str] = set()
        self.decided = 0
        self._in_hand: set[str] = set()
        self._done: set[tuple[str, str]] = set()  # (dossier id, decision): never the same twice
        self._asked: set[str] = set()
        self._slots = asyncio.Semaphore(policy.max_parallel)
        self._tasks: set[asyncio.Task[None]] = set()

    def watch(self, agencies: tuple[str, ...]) -> None:
        self.agencies.update(agencies)

    async def run(self, stop: asyncio.Event, deadline: float) -> None:
        """Poll until ``stop`` is set or the monotonic ``deadline`` passes."""
        while not stop.is_set() and time.monotonic() < deadline:
            for agency in sorted(self.agencies):
                for task in await self.api.tasks(agency):
                    self._take(task)
            try:
                await asyncio.wait_for(stop.wait(), self.policy.poll_interval)
            except TimeoutError:
                pass
        for handling in list(self._tasks):
            handling.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _take(self, task: Mapping[str, Any]) -> None:
        dossier_id = str(task.get("dossier_id", ""))
        if not dossier_id or dossier_id in self._in_hand:
            return
        decision = choose(task, self.rng, self.policy, asked_before=dossier_id in self._asked)
        if decision is None or (dossier_id, decision.decision) in self._done:
            return
        self._in_hand.add(dossier_id)
        handling = asyncio.create_task(self._decide(dossier_id, decision))
        self._tasks.add(handling)
        handling.add_done_callback(self._tasks.discard)

    async def _decide(self, dossier_id: str, decision: Decision) -> None:
        try:
            low, high = self.policy.delay
            if high > 0:
                await asyncio.sleep(self.rng.uniform(low, high))
            async with self._slots:
                official = f"CB-{self.rng.randrange(1, 40):03d}"
                answer = await self.api.decide(dossier_id, decision.decision, official, decision.reason)
            if answer.ok or answer.status == 409:  # 409: someone (or something) already moved it on
                self._done.add((dossier_id, decision.decision))
                self.decided += answer.ok
                if decision.decision == "request_supplement":
                    self._asked.add(dossier_id)
        finally:
            self._in_hand.discard(dossier_id)

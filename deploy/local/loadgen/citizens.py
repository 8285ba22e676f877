"""The citizens after submission: they pay fees, answer supplement requests, rate the service, and
a few withdraw a dossier once it has been received.

They react to what the workflow tells them (the events a notification would carry), except for
fees, which online portals and counters collect with the submission; an online applicant who does
not pay online pays in cash when collecting the result (or when an official asks). An action whose endpoint the intake
service does not have (404/405) is switched off after its first refusal and reported, so a
missing feature shows up as one line in the report, not as thousands of errors.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Any

from contracts.catalogue import Catalogue
from loadgen.api import Api
from loadgen.mix import Payment, Rating, Submission
from loadgen.tracking import SeenEvent


@dataclass(frozen=True)
class CitizenPolicy:
    supplement_delay: tuple[float, float] = (0.0, 0.0)  # seconds before the supplement is sent
    max_parallel: int = 32


@dataclass
class _Plan:
    procedure_code: str
    payment: Payment | None
    rating: Rating | None
    paid: bool = False
    withdraws: bool = False


class Citizens:
    def __init__(self, api: Api, catalogue: Catalogue, policy: CitizenPolicy, rng: random.Random) -> None:
        self.api = api
        self.catalogue = catalogue
        self.policy = policy
        self.rng = rng
        self.disabled: dict[str, int | str] = {}  # action → the status that switched it off
        self._plans: dict[str, _Plan] = {}
        self._slots = asyncio.Semaphore(policy.max_parallel)
        self._tasks: set[asyncio.Task[None]] = set()

    def submitted(self, submission: Submission, answer: dict[str, Any]) -> None:
        """Remember each created dossier's plan and pay its fee now if the citizen pays at once."""
        dossiers = answer.get("dossiers") or [{"dossier_id": answer.get("dossier_id"),
                                                "procedure_code": submission.body.get("procedure_code")}]  # fmt: skip
        for dossier in dossiers:
            dossier_id, code = dossier.get("dossier_id"), dossier.get("procedure_code")
            if not dossier_id or not code:
                continue
            plan = _Plan(code, submission.payment, submission.rating, withdraws=submission.withdraws)
            self._plans[dossier_id] = plan
            if plan.payment is not None and plan.payment.at_submission:
                self._pay(dossier_id, plan)

    def on_event(self, event: SeenEvent) -> None:
        dossier_id = str(event.payload.get("dossier_id", event.key))
        plan = self._plans.get(dossier_id)
        if plan is None:
            return
        if event.type == "DossierReceived" and plan.withdraws:
            plan.withdraws = False  # once
            body = {"reason": "Không còn nhu cầu giải quyết"}
            self._spawn(self._act("withdrawals", dossier_id, body))
        elif event.type == "SupplementRequested":
            asked = [str(d.get("kind")) for d in event.payload.get("documents") or [] if isinstance(d, dict)]
            self._spawn(self._supplement(dossier_id, plan, asked))
        elif event.type == "PaymentRequested":
            self._pay(dossier_id, plan, amount=int(event.payload.get("amount") or 0))
        elif event.type == "ResultIssued":
            if plan.payment is not None:
                self._pay(dossier_id, plan)  # collecting the result: the fee, if still unpaid
            if plan.rating is not None:
                self._spawn(self._rate(dossier_id, plan.rating))

    def _pay(self, dossier_id: str, plan: _Plan, amount: int = 0) -> None:
        fee = amount or self.catalogue.procedure(plan.procedure_code).fee
        if plan.paid or fee <= 0:
            return
        plan.paid = True
        payment = plan.payment or Payment(fee, "cash", False)
        body = {"amount": fee, "method": payment.method, "online": payment.online}
        self._spawn(self._act("payments", dossier_id, body))

    async def _supplement(self, dossier_id: str, plan: _Plan, asked: list[str]) -> None:
        """Bring what the official asked for (form 02), or else one of the procedure's documents."""
        low, high = self.policy.supplement_delay
        if high > 0:
            await asyncio.sleep(self.rng.uniform(low, high))
        kinds = [d.kind for d in self.catalogue.procedure(plan.procedure_code).required_documents]
        documents = [{"kind": kind, "digitized": True, "reused": False} for kind in asked or [self.rng.choice(kinds)]]
        await self._act("supplements", dossier_id, {"documents": documents, "note": "Đã bổ sung theo yêu cầu"})

    async def _rate(self, dossier_id: str, rating: Rating) -> None:
        body: dict[str, Any] = {"score": rating.score}
        if rating.complaint:
            body["complaint"] = rating.complaint
        await self._act("ratings", dossier_id, body)

    async def _act(self, action: str, dossier_id: str, body: dict[str, Any]) -> None:
        if action in self.disabled:
            return
        async with self._slots:
            answer = await self.api.citizen(action, dossier_id, body)
        # "Not Found": no such route (the framework's 404), not a dossier unknown to that route.
        route_missing = isinstance(answer.body, dict) and answer.body.get("detail") == "Not Found"
        if answer.status == 405 or (answer.status == 404 and route_missing):
            self.disabled[action] = answer.status

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

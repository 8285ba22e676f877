"""The linked-bundle saga's own state: which steps started, what each produced, how the bundle ended.

One per bundle, keyed by bundle id. Every method is idempotent: starting a step twice, recording a
result twice or ending an ended bundle decides nothing the second time, so duplicate or reordered
events cannot start a step twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.envelope import EventPayload
from contracts.events import workflow as wf
from contracts.events.common import Delivery, Document


class StepRef(BaseModel):
    """A step of this bundle and the dossier intake created for it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    step_id: str
    procedure_code: str
    dossier_id: str
    code: str
    documents: list[Document] = Field(default_factory=list)


class BundleSaga(BaseModel):
    """The saga's state, stored as one row per bundle."""

    model_config = ConfigDict(extra="forbid")

    bundle_id: str
    bundle_type: str
    channel: str
    receiving_agency: str
    form: dict[str, Any]
    steps: list[StepRef]
    submitted_at: datetime
    correlation_id: str
    started: list[str] = Field(default_factory=list)
    results: dict[str, dict[str, Any]] = Field(default_factory=dict)
    #: Steps that ended without a result besides the one the bundle stops at (see ``fail``).
    ended: list[str] = Field(default_factory=list)
    status: Literal["running", "completed", "partially_completed"] = "running"
    failed_step: str | None = None
    reason: str | None = None
    version: int = Field(0, description="Version of the bundle's event stream.")
    applicant_id_number: str | None = None  # the steps' results carry it in their QR codes
    delivery: Delivery = Field(default_factory=Delivery)  # how every step's result reaches the citizen

    @property
    def running(self) -> bool:
        return self.status == "running"

    def step_of(self, dossier_id: str) -> StepRef | None:
        return next((s for s in self.steps if s.dossier_id == dossier_id), None)

    def index_of(self, step_id: str) -> int:
        return next(i for i, s in enumerate(self.steps) if s.step_id == step_id)

    def before_failure(self, step_id: str) -> bool:
        """Whether ``step_id`` may still run: no step failed, or only a later one (a step the citizen
        withdrew before its turn ends the bundle there, not at the steps before it)."""
        return self.failed_step is None or self.index_of(step_id) < self.index_of(self.failed_step)

    def next_step(self) -> StepRef | None:
        """The step to start now: the first not started, once every step at work has its result, if
        it comes before any step that failed."""
        if not self.running or self._outstanding():
            return None
        step = next((s for s in self.steps if s.step_id not in self.started and s.step_id not in self.ended), None)
        return step if step is not None and self.before_failure(step.step_id) else None

    def stranded_step(self) -> StepRef | None:
        """The step an older release left behind when it ended this bundle: the first neither started
        nor ended, before the failure, once no step is at work. Such a release ended a bundle at once
        when the step at work finished after a later step was withdrawn; this one ends a bundle only
        once every step before its failure ran, so a bundle it ended has none (nor has a running one)."""
        if self.status != "partially_completed" or self.failed_step is None or self._outstanding():
            return None
        step = next((s for s in self.steps if s.step_id not in self.started and s.step_id not in self.ended), None)
        if step is None or not self.before_failure(step.step_id):
            return None
        # Only once every step before it has its result: one that ended without (refused by an older
        # release, which kept its first failure as the bundle's and stopped nothing) is the failure the
        # steps after it stop at; run again, the step failed for want of that step's data, and the bundle
        # was ended a second time blaming it.
        earlier = self.steps[: self.index_of(step.step_id)]
        return step if all(s.step_id in self.results for s in earlier) else None

    def first_failure(self) -> StepRef | None:
        """The earliest step that ended without a result: the bundle's failure, or one an older release
        recorded among the ``ended`` after it (it kept the first failure in time, not in order)."""
        failed = {self.failed_step, *self.ended} - {None}
        return next((s for s in self.steps if s.step_id in failed and s.step_id not in self.results), None)

    def reopen(self) -> None:
        """Run again, to start the :meth:`stranded_step`; the bundle ends again, as this release ends
        it, once the steps before its failure have run (a second ``BundlePartiallyCompleted``)."""
        self.status = "running"

    def _outstanding(self) -> list[str]:
        """Started steps still at work: no result, and not the step that failed."""
        return [s for s in self.started if s not in self.results and s != self.failed_step and s not in self.ended]

    def start(self, step: StepRef, inputs: dict[str, Any], now: datetime) -> list[EventPayload]:
        if not self.running or step.step_id in self.started or not self.before_failure(step.step_id):
            return []
        self.started.append(step.step_id)
        return [
            wf.BundleStepStarted(
                bundle_id=self.bundle_id,
                bundle_type=self.bundle_type,
                at=now,
                step_id=step.step_id,
                dossier_id=step.dossier_id,
                inputs=inputs,
            )
        ]

    def record_result(self, step_id: str, data: dict[str, Any], now: datetime) -> list[EventPayload]:
        """Keep a step's result; the bundle completes when every step has one, or ends partially once
        a step failed and the steps already at work have their results."""
        if not self.running or step_id in self.results:
            return []
        self.results[step_id] = dict(data)
        if self.failed_step is not None:
            return self._end_when_done(now)
        if all(s.step_id in self.results for s in self.steps):
            self.status = "completed"
            return [
                wf.BundleCompleted(
                    bundle_id=self.bundle_id, bundle_type=self.bundle_type, at=now, results=dict(self.results)
                )
            ]
        return []

    def fail(self, step_id: str, reason: str, now: datetime) -> list[EventPayload]:
        """A step ended without its result: no step after it starts. The steps before it still run (a
        later step the citizen withdrew must not stop an earlier one, at work or not started yet: the
        registry may already have acted, and the citizen chose which steps apply), and the bundle ends
        with the steps done once they have. The bundle stops at the earliest step that failed, with its
        reason: an earlier step refused after a later one was withdrawn is why the bundle stopped, and
        the citizen read "you withdrew the card" when the birth registration was refused. Any other
        step ending meanwhile counts as finished without a result."""
        if not self.running:
            return []
        if self.failed_step is None or self.index_of(step_id) < self.index_of(self.failed_step):
            if self.failed_step is not None:
                self.ended.append(self.failed_step)
            self.failed_step, self.reason = step_id, reason
        elif step_id != self.failed_step and step_id not in self.ended:
            self.ended.append(step_id)
        return self._end_when_done(now)

    def skip(self, step_id: str, now: datetime) -> list[EventPayload]:
        """Go on without a step before the failure whose dossier ended before its turn, stopped with
        the bundle by a release that stopped every step not started at the first failure."""
        if step_id not in self.ended:
            self.ended.append(step_id)
        return self._end_when_done(now)

    def _end_when_done(self, now: datetime) -> list[EventPayload]:
        """After a failure: end partially once no step is at work and none before the failure is left."""
        if self._outstanding() or self.next_step() is not None:
            return []
        return self._end_partially(now)

    def _end_partially(self, now: datetime) -> list[EventPayload]:
        self.status = "partially_completed"
        assert self.failed_step is not None and self.reason is not None
        step_id, reason = self.failed_step, self.reason
        done = [s.step_id for s in self.steps if s.step_id in self.results]
        return [
            wf.BundlePartiallyCompleted(
                bundle_id=self.bundle_id,
                bundle_type=self.bundle_type,
                at=now,
                failed_step=step_id,
                reason=reason,
                completed_steps=done,
            )
        ]

"""Per-system fault injection: latency, random errors, outages, and "timeout after effect".

Faults are decided before a call has any effect, so a failed call never changed anything;
the one exception is the opt-in timeout-after-effect mode, which applies the effect and then
answers too late for the caller. That is the case idempotency keys exist for: the caller saw a
failure, retries, and must not create twice.
"""

from __future__ import annotations

import asyncio
import random
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from registry_sim.counters import Counters
from registry_sim.errors import SimError

FaultStatus = Literal["429", "500", "502", "503", "504"]

_ERROR_NAMES: dict[str, str] = {
    "429": "rate_limited",
    "500": "internal_error",
    "502": "bad_gateway",
    "503": "service_unavailable",
    "504": "gateway_timeout",
}

_DEFAULT_MIX: dict[FaultStatus, float] = {"503": 1.0}


class System(StrEnum):
    """The external national systems the simulator stands in for (path segment of /admin routes)."""

    POPULATION = "population_db"
    CIVIL_STATUS = "civil_status"
    SOCIAL_INSURANCE = "social_insurance"
    SOCIAL_WELFARE = "social_welfare"
    PORTAL = "national_portal"


class FaultConfig(BaseModel):
    """How one system misbehaves. The default is a perfectly healthy system."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    latency_ms: int = Field(0, ge=0, le=600_000, description="Added to every call before it is answered.")
    jitter_ms: int = Field(0, ge=0, le=600_000, description="Up to this much more, uniformly at random.")
    error_rate: float = Field(0.0, ge=0.0, le=1.0, description="Fraction of calls answered with an error.")
    error_mix: dict[FaultStatus, float] = Field(
        default_factory=lambda: dict(_DEFAULT_MIX),
        description="Relative weights of the error statuses drawn when a call fails.",
    )
    retry_after_seconds: int = Field(1, ge=0, le=86_400, description="Retry-After sent with 429 answers.")
    outage: bool = Field(False, description="Answer every call with 503 at once (no latency).")
    timeout_after_effect_rate: float = Field(
        0.0, ge=0.0, le=1.0, description="Fraction of successful mutating calls answered late."
    )
    timeout_after_effect_ms: int = Field(
        30_000, ge=0, le=600_000, description="How late: longer than the caller's timeout."
    )

    @field_validator("error_mix", mode="before")
    @classmethod
    def _status_keys_as_strings(cls, value: Any) -> Any:
        # JSON object keys are strings; Python callers naturally write {503: 1.0}.
        return {str(k): v for k, v in value.items()} if isinstance(value, dict) else value

    @field_validator("error_mix")
    @classmethod
    def _some_weight(cls, value: dict[str, float]) -> dict[str, float]:
        if any(w < 0 for w in value.values()) or sum(value.values()) <= 0:
            raise ValueError("weights must be non-negative and not all zero")
        return value


class Faults:
    """The fault configuration of every system and the seeded generator that draws faults.

    The generator is separate from the one that makes identifiers, so turning faults on does
    not change which numbers a reproducible run assigns.
    """

    def __init__(self, rng: random.Random, initial: dict[System, FaultConfig] | None = None) -> None:
        self.rng = rng
        self.configs: dict[System, FaultConfig] = {s: FaultConfig() for s in System}
        self.configs.update(initial or {})

    async def before_call(self, system: System, counters: Counters) -> None:
        """Count the call, then delay it or fail it as configured; raises :class:`SimError`."""
        config = self.configs[system]
        counters.record_call(system)
        if config.outage:
            counters.record_fault(system, "503")
            raise SimError(503, "service_unavailable", f"{system.value} is down (simulated outage)")
        delay_ms = config.latency_ms + (self.rng.uniform(0, config.jitter_ms) if config.jitter_ms else 0)
        if delay_ms:
            await asyncio.sleep(delay_ms / 1000)
        if config.error_rate and self.rng.random() < config.error_rate:
            statuses = list(config.error_mix)
            status = self.rng.choices(statuses, weights=[config.error_mix[s] for s in statuses])[0]
            counters.record_fault(system, status)
            headers = {"Retry-After": str(config.retry_after_seconds)} if status == "429" else {}
            raise SimError(int(status), _ERROR_NAMES[status], "simulated fault", headers=headers)

    async def after_effect(self, system: System, counters: Counters) -> None:
        """Sleep past the caller's timeout for the configured fraction of effects."""
        config = self.configs[system]
        if config.timeout_after_effect_rate and self.rng.random() < config.timeout_after_effect_rate:
            counters.record_late_answer(system)
            await asyncio.sleep(config.timeout_after_effect_ms / 1000)

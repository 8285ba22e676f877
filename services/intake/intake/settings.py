"""Settings of the intake service (environment prefix ``INTAKE_``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from eventkit.settings import ServiceSettings
from workcal import CalendarConfig


class IntakeSettings(ServiceSettings):
    """Intake: the REST API the national portal calls."""

    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore", frozen=True)

    service_name: ClassVar[str] = "intake"
    port: int = 8001
    calendar: CalendarConfig = Field(
        default_factory=CalendarConfig,
        description="Working-day calendar: office hours, 15:00 cut-off, extra days off / working days (JSON)."
        " Every service that counts working days must use the same: set CALENDAR once.",
    )
    max_body_bytes: int = Field(1_000_000, ge=1024, description="Larger request bodies get 413.")
    idempotency_retention_hours: float = Field(
        48, gt=0, description="Idempotency-Key replies are kept this long, then purged."
    )
    submit_batch_max: int = Field(
        64,
        ge=1,
        description="Group commit: at most this many waiting submissions go in one statement (1: never batch).",
    )
    submit_writers: int = Field(
        2, ge=1, le=16, description="Group commit: submission statements in flight at once (pooled connections)."
    )

"""Settings of the intake service (environment prefix ``INTAKE_``)."""

from __future__ import annotations

from typing import ClassVar

from eventkit.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class IntakeSettings(ServiceSettings):
    """Intake: the REST API the national portal calls."""

    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore", frozen=True)

    service_name: ClassVar[str] = "intake"
    port: int = 8001

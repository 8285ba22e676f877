"""Settings of the reporting service (environment prefix ``REPORTING_``)."""

from __future__ import annotations

from typing import ClassVar

from eventkit.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class ReportingSettings(ServiceSettings):
    """Reporting: metrics, the citizen-service index, live events."""

    model_config = SettingsConfigDict(env_prefix="REPORTING_", extra="ignore", frozen=True)

    service_name: ClassVar[str] = "reporting"
    port: int = 8004

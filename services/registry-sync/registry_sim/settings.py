"""Settings of the registry simulator (environment prefix ``REGISTRY_SIM_``).

Benefit amounts are configuration, not code: the statutory base levels change by decree, and
the values below are our reading of the rules in force in 2024 (unconfirmed).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from registry_sim.faults import FaultConfig, System


class SimulatorSettings(BaseSettings):
    """How the simulator listens, what it seeds its random generators with, and benefit levels."""

    model_config = SettingsConfigDict(env_prefix="REGISTRY_SIM_", extra="ignore", frozen=True)

    host: str = Field("127.0.0.1", description="HTTP bind address.")
    port: int = Field(8009, ge=1, le=65_535, description="HTTP port.")
    seed: int = Field(0, description="Seed of the generators of identifiers and faults (reproducible runs).")
    log_level: str = Field("INFO", description="Python logging level.")
    log_format: Literal["console", "json"] = Field("console", description="json in production-like runs.")
    idempotency_capacity: int = Field(
        200_000, ge=1, description="Idempotency keys each system remembers; the oldest are forgotten first."
    )
    faults: dict[System, FaultConfig] = Field(
        default_factory=dict,
        description='Faults at start, JSON per system: {"national_portal": {"latency_ms": 50}}.',
    )
    base_salary_vnd: int = Field(
        2_340_000, ge=0, description="Statutory base salary (mức lương cơ sở) from 1 July 2024."
    )
    funeral_allowance_multiplier: int = Field(
        10, ge=0, description="Funeral allowance = this × base salary (Law on Social Insurance)."
    )
    social_assistance_base_vnd: int = Field(
        500_000, ge=0, description="Social-assistance standard level (mức chuẩn trợ giúp xã hội), 2024."
    )
    burial_support_multiplier: int = Field(
        20, ge=0, description="Burial support = this × social-assistance level (Decree 20/2021)."
    )

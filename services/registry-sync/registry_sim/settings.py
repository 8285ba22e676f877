"""Settings of the registry simulator (environment prefix ``REGISTRY_SIM_``).

Benefit amounts are configuration, not code: the statutory base levels change by decree, and
the values below are our reading of the decrees up to 2024 (unconfirmed). A benefit takes the level
in force when the person died, not on the day it is paid.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from eventkit.settings import LogLevel
from registry_sim.faults import FaultConfig, System


class SimulatorSettings(BaseSettings):
    """How the simulator listens, what it seeds its random generators with, and benefit levels."""

    model_config = SettingsConfigDict(env_prefix="REGISTRY_SIM_", extra="ignore", frozen=True)

    host: str = Field("127.0.0.1", description="HTTP bind address.")
    port: int = Field(8009, ge=1, le=65_535, description="HTTP port.")
    seed: int = Field(0, description="Seed of the generators of identifiers and faults (reproducible runs).")
    log_level: LogLevel = Field("INFO", description="Python logging level (DEBUG, INFO, WARNING, ERROR, CRITICAL).")
    log_format: Literal["console", "json"] = Field("console", description="json in production-like runs.")
    idempotency_capacity: int = Field(
        200_000, ge=1, description="Idempotency keys each system remembers; the oldest are forgotten first."
    )
    faults: dict[System, FaultConfig] = Field(
        default_factory=dict,
        description='Faults at start, JSON per system: {"national_portal": {"latency_ms": 50}}.',
    )
    base_salary_vnd: dict[date, int] = Field(
        default_factory=lambda: {date(2019, 7, 1): 1_490_000, date(2023, 7, 1): 1_800_000, date(2024, 7, 1): 2_340_000},
        description="Statutory base salary (mức lương cơ sở) by the day it took effect (Decrees 38/2019, 24/2023,"
        ' 73/2024), JSON: {"2024-07-01": 2340000}. A funeral allowance takes the one of the month of death.',
    )
    funeral_allowance_multiplier: int = Field(
        10, ge=0, description="Funeral allowance = this × base salary (Law on Social Insurance)."
    )
    social_assistance_base_vnd: dict[date, int] = Field(
        default_factory=lambda: {date(2021, 7, 1): 360_000, date(2024, 7, 1): 500_000},
        description="Social-assistance standard level (mức chuẩn trợ giúp xã hội) by the day it took effect"
        " (Decrees 20/2021, 76/2024). Burial support takes the one in force on the day of death.",
    )
    burial_support_multiplier: int = Field(
        20, ge=0, description="Burial support = this × social-assistance level (Decree 20/2021)."
    )

    @field_validator("base_salary_vnd", "social_assistance_base_vnd")
    @classmethod
    def _a_level_in_force(cls, levels: dict[date, int]) -> dict[date, int]:
        if not levels:
            raise ValueError("needs at least one level, by the day it took effect")
        if any(amount < 0 for amount in levels.values()):
            raise ValueError("a level is not negative")
        return levels

"""Settings of the registry-sync service (environment prefix ``REGISTRY_SYNC_``).

Every external system has its own block (base URL, timeouts, concurrency, credentials); nested
values come from ``REGISTRY_SYNC_<SYSTEM>__<FIELD>``, e.g. ``REGISTRY_SYNC_NATIONAL_PORTAL__BASE_URL``.
By default all systems live on the registry simulator (``REGISTRY_SYNC_REGISTRIES_URL`` plus
each system's path prefix).
"""

from __future__ import annotations

import os
from typing import ClassVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from contracts import citizen_id
from eventkit.settings import ServiceSettings

#: The registry simulator's host name in the compose stack (deploy/docker-compose.yml).
SIMULATOR_HOST = "registry-simulator"


def local_registries_url() -> str:
    """The registry simulator of the local stack: its port follows REGISTRY_SIM_PORT, as `make run`
    and the end-to-end tests move it."""
    return f"http://127.0.0.1:{os.environ.get('REGISTRY_SIM_PORT', '8009')}"


def _http_url(url: str) -> str:
    """A URL the HTTP client can call, kept as given (trailing slashes are dropped where it is used).
    Without a scheme (``registry-simulator:8009``) or with a misspelt one, every call failed as a
    transient "connection failed" for a whole day before its command was given up."""
    try:
        parts = urlsplit(url)
        callable_url = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # a port that is not a number up to 65535, a broken [IPv6] host
        callable_url = False
    shown = f"…@{url.rpartition('@')[2]}" if "@" in url else url  # its password stays out of the error
    if not callable_url:
        raise ValueError(f"{shown!r} is not an http:// or https:// URL with a host (and a port from 1 to 65535)")
    if parts.query or parts.fragment:
        raise ValueError(f"{shown!r} has a query or fragment: the systems' paths are appended to it")
    return url



#: Where each system's API lives under ``registries_url`` (the registry simulator's layout).
DEFAULT_PATHS: dict[str, str] = {
    "population_db": "/population/v1",
    "civil_status": "/civil-status/v1",
    "social_insurance": "/social-insurance/v1",
    "social_welfare": "/social-welfare/v1",
    "national_portal": "/portal/v1",
}


class ExternalSystemSettings(BaseModel):
    """How to reach one external system and how hard to lean on it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str | None = Field(None, description="Path prefix under registries_url; default: DEFAULT_PATHS.")
    base_url: str | None = Field(None, description="Full base URL; overrides registries_url + path.")
    connect_timeout_seconds: float = Field(2.0, gt=0, description="TCP/TLS connect timeout.")
    read_timeout_seconds: float = Field(10.0, gt=0, description="Wait for the answer (per read).")
    write_timeout_seconds: float = Field(5.0, gt=0, description="Sending the request.")
    pool_timeout_seconds: float = Field(5.0, gt=0, description="Waiting for a pooled connection.")
    max_concurrency: int = Field(8, ge=1, le=256, description="Calls in flight to this system at most.")
    api_key: SecretStr | None = Field(None, description="Sent as 'Authorization: Bearer <key>' when set.")

    @field_validator("base_url")
    @classmethod
    def _a_callable_base_url(cls, url: str | None) -> str | None:
        return url if url is None else _http_url(url)

    @property
    def call_budget_seconds(self) -> float:
        """The longest one call can take (pool wait, connect, send, answer)."""
        return (
            self.pool_timeout_seconds
            + self.connect_timeout_seconds
            + self.write_timeout_seconds
            + self.read_timeout_seconds
        )


class RegistrySyncSettings(ServiceSettings):
    """Registry sync: national registries and portal synchronisation."""

    model_config = SettingsConfigDict(
        env_prefix="REGISTRY_SYNC_", extra="ignore", frozen=True, env_nested_delimiter="__"
    )

    service_name: ClassVar[str] = "registry-sync"
    people_api: ClassVar[bool] = True  # operators' endpoints
    port: int = 8003

    registries_url: str = Field(
        default_factory=local_registries_url,
        description="Default http:// or https:// URL of every external system (default: the local registry simulator).",
    )
    population_db: ExternalSystemSettings = ExternalSystemSettings()
    civil_status: ExternalSystemSettings = ExternalSystemSettings()
    social_insurance: ExternalSystemSettings = ExternalSystemSettings()
    social_welfare: ExternalSystemSettings = ExternalSystemSettings()
    national_portal: ExternalSystemSettings = ExternalSystemSettings()

    province_code: str = Field(
        "036",
        description="3-digit code (contracts.citizen_id) of the province this deployment serves: where births "
        "and residences registered here are, when a command's data does not say.",
        examples=["036"],
    )
    retry_base_seconds: float = Field(0.5, gt=0, description="First backoff step; doubles per attempt.")
    retry_max_delay_seconds: float = Field(300.0, gt=0, description="Longest backoff step.")
    retry_max_attempts: int = Field(
        1000,
        ge=1,
        description="Calls per command (or portal push) before giving up: a safety net; with the default backoff,"
        " retry_give_up_after_seconds ends the retries first.",
    )
    retry_give_up_after_seconds: float = Field(
        24 * 3600.0, gt=0, description="Give up a command this long after its first attempt."
    )
    breaker_failure_threshold: int = Field(5, ge=1, description="Consecutive failures that open a breaker.")
    breaker_cooldown_seconds: float = Field(15.0, ge=0, description="Open time before a probe call.")
    worker_poll_seconds: float = Field(0.2, gt=0, description="How often idle workers look for due work.")
    worker_lease_seconds: float = Field(
        15.0,
        gt=0,
        description="How long a claimed item stays reserved without renewal; renewed every third of it while its"
        " call runs, so a crashed worker's items are taken over this long after.",
    )
    worker_outage_seconds: float = Field(
        120.0,
        gt=0,
        description="How long a worker waits out a database outage to record an answered call; after that the"
        " call is made again (with the same idempotency key) once its lease has run out.",
    )
    dossier_wait_seconds: float = Field(
        600.0,
        ge=0,
        description="A registry command that arrives before its dossier's details (the applicant, from intake's"
        " events on another topic) waits for them this long before it is performed without them; one that needs the"
        " applicant then waits on, checked every retry_max_delay_seconds, until retry_give_up_after_seconds.",
    )
    portal_settle_seconds: float = Field(
        0.5,
        ge=0,
        description="A dossier with no portal push queued is pushed this long after its first new change, so a"
        " burst of changes costs one push; adds up to this much to the portal lag. 0: push at once.",
    )
    reconciliation_interval_seconds: float = Field(
        900.0, ge=0, description="Periodic reconciliation with the portal; 0 disables it."
    )
    reconciliation_page_size: int = Field(500, ge=1, le=5000, description="Portal listing page size.")
    reconciliation_max_pages: int = Field(10_000, ge=1, description="Bound on pages read in one run.")
    reconciliation_clock_skew_seconds: float = Field(
        5.0,
        ge=0,
        description="How far the replicas' clocks may differ: a dossier pushed that long before a reconciliation"
        " started is left to the next run (the listing may be older than its push).",
    )
    reconciliation_refused_retry_seconds: float = Field(
        24 * 3600.0,
        ge=0,
        description="A push the portal refused (a 4xx: the same body would be refused again) is pushed again by"
        " reconciliation only this long after; a new change to the dossier pushes it at once. Pushes that failed for"
        " want of an answer are pushed again every run.",
    )

    @field_validator("registries_url")
    @classmethod
    def _a_callable_registries_url(cls, url: str) -> str:
        return _http_url(url)

    @model_validator(mode="after")
    def _check(self) -> RegistrySyncSettings:
        if self.province_code not in citizen_id.PROVINCES:
            raise ValueError(f"province_code: {self.province_code} is not a known province code")
        if self.environment == "production" and "province_code" not in self.model_fields_set:
            # Left at the development default, another province's births and residences were filed
            # under Nam Định, silently.
            raise ValueError("province_code: must be set in production (the province this deployment serves)")
        if self.environment == "production":
            local = [name for name, system in self.systems().items() if system.base_url is None]
            if "registries_url" not in self.model_fields_set and local:
                raise ValueError(f"production needs real base URLs, not the simulator, for: {', '.join(local)}")
        return self

    def simulated_systems(self) -> list[str]:
        """The systems whose calls go to the registry simulator (by its host name in compose, or the
        local stack's address): fine in development and staging, never for a province's real work."""
        local = local_registries_url().rstrip("/")
        return [
            name
            for name in self.systems()
            if (url := self.base_url(name)).startswith(local) or urlsplit(url).hostname == SIMULATOR_HOST
        ]

    def systems(self) -> dict[str, ExternalSystemSettings]:
        return {
            "population_db": self.population_db,
            "civil_status": self.civil_status,
            "social_insurance": self.social_insurance,
            "social_welfare": self.social_welfare,
            "national_portal": self.national_portal,
        }

    def base_url(self, name: str) -> str:
        """Where system ``name`` answers: its own base URL, or registries_url + its path."""
        system = self.systems()[name]
        path = system.path if system.path is not None else DEFAULT_PATHS[name]
        return (system.base_url or f"{self.registries_url.rstrip('/')}{path}").rstrip("/")

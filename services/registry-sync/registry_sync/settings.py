"""Settings of the registry-sync service (environment prefix ``REGISTRY_SYNC_``)."""

from __future__ import annotations

from typing import ClassVar

from eventkit.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class RegistrySyncSettings(ServiceSettings):
    """Registry sync: national registries and portal synchronisation."""

    model_config = SettingsConfigDict(env_prefix="REGISTRY_SYNC_", extra="ignore", frozen=True)

    service_name: ClassVar[str] = "registry-sync"
    port: int = 8003

"""Settings of the workflow service (environment prefix ``WORKFLOW_``)."""

from __future__ import annotations

from typing import ClassVar

from eventkit.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class WorkflowSettings(ServiceSettings):
    """Workflow: dossier lifecycle, deadlines, officials' tasks, sagas."""

    model_config = SettingsConfigDict(env_prefix="WORKFLOW_", extra="ignore", frozen=True)

    service_name: ClassVar[str] = "workflow"
    port: int = 8002

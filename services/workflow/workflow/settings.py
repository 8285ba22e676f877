"""Settings of the workflow service (environment prefix ``WORKFLOW_``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from contracts import citizen_id
from eventkit.settings import ServiceSettings
from workcal import CalendarConfig


class WorkflowSettings(ServiceSettings):
    """Workflow: dossier lifecycle, deadlines, officials' tasks, sagas."""

    model_config = SettingsConfigDict(env_prefix="WORKFLOW_", extra="ignore", frozen=True)

    service_name: ClassVar[str] = "workflow"
    people_api: ClassVar[bool] = True
    port: int = 8002
    calendar: CalendarConfig = Field(
        default_factory=CalendarConfig,
        description="Working-day calendar (office hours, 15:00 cut-off, extra days off / working days) as JSON."
        " Every service that counts working days must use the same: set CALENDAR once.",
    )
    due_soon_working_hours: float = Field(
        8.0, ge=0, description="DossierDueSoon fires this much office time before the appointment (8 = 1 day)."
    )
    timer_poll_seconds: float = Field(1.0, gt=0, description="How often the SLA timer poller looks for due timers.")
    timer_batch_size: int = Field(100, ge=1, description="Timers fired per poll at most.")
    bundle_sweep_seconds: float = Field(
        600.0, gt=0, description="How often ended bundles are swept for steps they left open (rolling deploys)."
    )
    id_province_code: str = Field(
        "036",
        pattern=r"^[0-9]{3}$",
        description="Province code of the personal identification numbers birth registrations issue.",
        examples=["036"],
    )
    tasks_page_size: int = Field(
        100, ge=1, le=1000, description="Tasks per GET /v1/tasks unless the request says (up to 1000)."
    )

    @field_validator("id_province_code")
    @classmethod
    def _known_province(cls, code: str) -> str:
        if code not in citizen_id.PROVINCES:  # every birth registration would fail to draw a number
            raise ValueError(f"{code} is not a known province code")
        return code

    @model_validator(mode="after")
    def _province_named_in_production(self) -> WorkflowSettings:
        # Left at the development default, another province's births got Nam Định's numbers, silently.
        if self.environment == "production" and "id_province_code" not in self.model_fields_set:
            raise ValueError("id_province_code: must be set in production (the province this deployment serves)")
        return self

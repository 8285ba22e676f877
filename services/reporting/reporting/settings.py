"""Settings of the reporting service (environment prefix ``REPORTING_``)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from eventkit.settings import ServiceSettings
from reporting.domain.index import IndexConfig
from workcal import CalendarConfig


class ReportingSettings(ServiceSettings):
    """Reporting: metrics, the citizen-service index, live events."""

    model_config = SettingsConfigDict(env_prefix="REPORTING_", extra="ignore", frozen=True)

    service_name: ClassVar[str] = "reporting"
    people_api: ClassVar[bool] = True  # operators' endpoints
    port: int = 8004
    index_config_path: Path | None = Field(
        None, description="JSON file with the 766 index weights, thresholds and bands; default: the packaged one."
    )
    calendar: CalendarConfig = Field(
        default_factory=CalendarConfig,
        description="Working-day calendar (JSON), as workflow uses it."
        " Every service that counts working days must use the same: set CALENDAR once.",
    )
    include_subordinate_agencies: bool = Field(
        True, description="agency= also covers the agencies under it (reporting line or area)."
    )
    metrics_cache_seconds: float = Field(
        30.0,
        ge=0,
        description="/metrics reads the read models at most once per this many seconds (a pass over every"
        " dossier); scrapes after it get the last numbers while the next read runs. 0: every scrape reads.",
    )
    sse_queue_size: int = Field(1000, ge=1, description="Feed items buffered per live subscriber before dropping.")
    sse_max_subscribers: int = Field(100, ge=1, description="Live subscribers per process; more get 503.")
    sse_keepalive_seconds: float = Field(15.0, gt=0, description="Comment line sent on an idle stream.")
    rebuild_batch_size: int = Field(2000, ge=1, description="Events per rebuild transaction.")
    rebuild_cache_size: int = Field(
        20_000, ge=1, description="Dossiers (and bundles) a rebuild keeps in memory between batches."
    )
    rebuild_fetch_max_bytes: int = Field(
        4 * 1024 * 1024, ge=65_536, description="Bytes a rebuild fetches from the broker ahead of parsing."
    )
    rebuild_stall_seconds: float = Field(60.0, gt=0, description="A rebuild fails after this long without records.")
    rebuild_progress_seconds: float = Field(
        5.0, ge=0, description="A long rebuild logs its progress this often (0: after every batch)."
    )
    event_log_retention_days: float = Field(
        400,
        ge=0,
        description="The live feed's event log (recent events, ?dossier=, Last-Event-ID resumes) keeps events"
        " this many days after they occurred; 0 keeps them for ever. No metric reads it.",
    )

    def index_config(self) -> IndexConfig:
        """The index configuration: the file named by ``index_config_path``, else the packaged default."""
        if self.index_config_path is not None:
            raw = self.index_config_path.read_bytes()
        else:
            raw = resources.files("reporting").joinpath("config/index_766.json").read_bytes()
        return IndexConfig.model_validate_json(raw)

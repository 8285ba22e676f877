"""Settings: one service prefix, shared unprefixed connection variables, no defaults in production."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from intake.settings import IntakeSettings
from registry_sync.settings import RegistrySyncSettings
from reporting.settings import ReportingSettings
from workflow.settings import WorkflowSettings


def test_shared_variables_reach_every_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://u:p@db.example:5432/prod")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092,kafka-2:9092")
    monkeypatch.setenv("CATALOGUE_DIR", "/srv/catalogue/2027")  # one edition for the whole stack
    for settings in (IntakeSettings(), WorkflowSettings(), RegistrySyncSettings(), ReportingSettings()):
        assert settings.database_url.get_secret_value().endswith("@db.example:5432/prod")
        assert settings.kafka_bootstrap_servers == "kafka-1:9092,kafka-2:9092"
        assert settings.catalogue_dir == "/srv/catalogue/2027"


def test_one_calendar_reaches_every_service_that_counts_working_days(monkeypatch: pytest.MonkeyPatch) -> None:
    """Set for one service only, a bridge day off made intake's dates, workflow's pauses and reporting's
    resolution times disagree."""
    monkeypatch.setenv("CALENDAR", '{"extra_days_off": ["2026-04-27"]}')
    for settings in (IntakeSettings(), WorkflowSettings(), ReportingSettings()):
        assert [d.isoformat() for d in settings.calendar.extra_days_off] == ["2026-04-27"]


def test_a_prefixed_variable_wins_over_the_shared_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://shared/db")
    monkeypatch.setenv("INTAKE_DATABASE_URL", "postgresql+asyncpg://intake-only/db")
    assert IntakeSettings().database_url.get_secret_value() == "postgresql+asyncpg://intake-only/db"
    assert WorkflowSettings().database_url.get_secret_value() == "postgresql+asyncpg://shared/db"


def test_unprefixed_variables_other_than_the_shared_ones_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "1")
    assert IntakeSettings().port == 8001
    monkeypatch.setenv("INTAKE_PORT", "18001")
    assert IntakeSettings().port == 18001


def test_each_service_has_its_own_schema() -> None:
    assert IntakeSettings().schema_name == "intake"
    assert WorkflowSettings().schema_name == "workflow"


def test_production_refuses_development_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="DATABASE_URL must be set"):
        IntakeSettings()
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://u:p@db/prod")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    assert IntakeSettings().environment == "production"


def test_services_people_call_refuse_to_run_in_production_without_the_identity_provider(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Officials' decisions are legal records of who decided, and operators' endpoints show personal
    data or start rebuilds: in production they must be authenticated."""
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://u:p@db/prod")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    for service in (WorkflowSettings, ReportingSettings):
        with pytest.raises(ValidationError, match="AUTH_JWKS must be set"):
            service()
    assert IntakeSettings().auth_jwks is None  # only the national portal calls it
    monkeypatch.setenv("AUTH_JWKS", "https://sso.example.invalid/certs")
    for service in (WorkflowSettings, RegistrySyncSettings, ReportingSettings):
        with pytest.raises(ValidationError, match="AUTH_ISSUER must be set"):  # else any issuer's token passes
            service()
    monkeypatch.setenv("AUTH_ISSUER", "https://sso.example.invalid")
    with pytest.raises(ValidationError, match="id_province_code: must be set in production"):
        WorkflowSettings()  # births would get Nam Định's numbers, the development default
    monkeypatch.setenv("WORKFLOW_ID_PROVINCE_CODE", "001")
    settings = WorkflowSettings()
    assert (settings.auth_jwks, settings.auth_issuer) == (
        "https://sso.example.invalid/certs",
        "https://sso.example.invalid",
    )


def test_the_database_url_is_a_secret_in_reprs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://u:hunter2@db/prod")
    assert "hunter2" not in repr(IntakeSettings())


def test_workflow_issues_identification_numbers_of_a_known_province_only() -> None:
    """003 has the shape of a province code but no province: every birth registration would fail."""
    with pytest.raises(ValidationError, match="003 is not a known province code"):
        WorkflowSettings(id_province_code="003")
    assert WorkflowSettings(id_province_code="001").id_province_code == "001"

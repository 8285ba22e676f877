"""The configuration reference is generated from the settings classes, and the facts it states
(variable names, what production requires) are read from the classes, not copied."""

from __future__ import annotations

from typing import ClassVar

import pytest
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from deploy.tools import config_reference
from deploy.tools.settings_facts import env_name, production_refusals, production_required, variables
from deploy.tools.stack import processes
from eventkit.settings import ServiceSettings


def test_the_readme_reference_matches_the_settings_classes() -> None:
    current = config_reference.README.read_text(encoding="utf-8")
    assert config_reference.splice(current, config_reference.render()) == current, "run `make config-docs`"


def test_the_reference_names_every_variable_of_every_process() -> None:
    reference = config_reference.render()
    for process in processes():
        for variable in variables(process.settings_cls):
            generic = config_reference.PREFIX + variable.name.removeprefix(process.env_prefix)
            assert f"`{variable.name}`" in reference or f"`{generic}`" in reference, variable.name


def test_the_check_mode_fails_on_a_stale_readme(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    stale = config_reference.splice(config_reference.README.read_text(encoding="utf-8"), "stale\n")
    readme = tmp_path / "README.md"  # type: ignore[operator]
    readme.write_text(stale, encoding="utf-8")
    monkeypatch.setattr(config_reference, "README", readme)
    assert config_reference.main(["--check"]) == 1
    assert config_reference.main(["--write"]) == 0
    assert config_reference.main(["--check"]) == 0


def test_splicing_needs_both_markers() -> None:
    with pytest.raises(ValueError, match="markers"):
        config_reference.splice("no markers here", "x")


def test_every_service_requires_the_database_and_the_broker_in_production() -> None:
    for process in processes():
        if issubclass(process.settings_cls, ServiceSettings):
            assert {"database_url", "kafka_bootstrap_servers"} <= production_required(process.settings_cls)


class _WithToken(ServiceSettings):
    """A service that adds a credential production must not leave at its development value."""

    model_config = SettingsConfigDict(env_prefix="EXAMPLE_", extra="ignore", frozen=True)
    service_name: ClassVar[str] = "example"
    portal_token: SecretStr = Field(SecretStr("dev-token"), description="Bearer token for the portal.")
    portal_url: str = Field("http://127.0.0.1:1", description="Portal.", examples=["https://portal.example"])
    threshold: int = 3

    @model_validator(mode="after")
    def _refuse(self) -> _WithToken:
        if self.environment == "production":
            if self.portal_token.get_secret_value() == "dev-token":
                raise ValueError("EXAMPLE_PORTAL_TOKEN must be set in production")
            if self.portal_url.startswith("http://127."):
                raise ValueError("portal_url: the development portal cannot be used in production")
        return self


class _Mute(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MUTE_", extra="ignore", frozen=True)
    service_name: ClassVar[str] = "mute"

    @model_validator(mode="after")
    def _refuse(self) -> _Mute:
        if self.environment == "production":
            raise ValueError("not today")
        return self


def test_a_new_production_requirement_is_found_by_asking_the_class() -> None:
    assert production_required(_WithToken) == {"database_url", "kafka_bootstrap_servers", "portal_token", "portal_url"}
    messages = [r.message for r in production_refusals(_WithToken)]
    assert "EXAMPLE_PORTAL_TOKEN must be set in production" in messages
    assert env_name(_WithToken, "portal_token") == "EXAMPLE_PORTAL_TOKEN"
    row = next(v for v in variables(_WithToken) if v.field == "portal_token")
    assert row.required_in_production and row.kind == "secret" and "dev-token" not in row.default


def test_a_refusal_that_names_no_field_is_reported_not_guessed() -> None:
    with pytest.raises(LookupError, match="without naming a field"):
        production_required(_Mute)

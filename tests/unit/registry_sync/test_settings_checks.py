"""Registry URLs that cannot be called are refused when the settings are read, naming the setting."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from registry_sim import SimulatorSettings
from registry_sync.settings import RegistrySyncSettings

NOT_CALLABLE = [
    "registry-simulator:8009",  # no scheme
    "htp://registry-simulator:8009",  # a misspelt one
    "ftp://registry-simulator",
    "http://",
    "http://registry-simulator:80x9",
    "http://registry-simulator:70000",
    "http://registry-simulator:0",
    "https://gateway.example.gov.vn/api?key=1",  # the systems' paths would go after the query
]


@pytest.mark.parametrize("url", NOT_CALLABLE)
def test_a_registries_url_that_is_not_http_with_a_host_is_refused(url: str) -> None:
    """'registry-simulator:8009' was accepted: every call then failed as a transient "connection failed:
    UnsupportedProtocol" for 24 h, and every command was failed."""
    with pytest.raises(ValidationError) as refused:
        RegistrySyncSettings(registries_url=url)
    assert [e["loc"] for e in refused.value.errors()] == [("registries_url",)]
    assert repr(url) in str(refused.value)


@pytest.mark.parametrize("url", NOT_CALLABLE)
def test_a_systems_base_url_that_is_not_http_with_a_host_is_refused(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGISTRY_SYNC_SOCIAL_WELFARE__BASE_URL", url)
    with pytest.raises(ValidationError) as refused:
        RegistrySyncSettings()
    assert [e["loc"] for e in refused.value.errors()] == [("social_welfare", "base_url")]


@pytest.mark.parametrize(
    "url",
    [
        "ftp://gateway:hunter2@registries.example.invalid",
        "http://gateway:hun/ter2@registries.example.invalid:99999/",  # a "/" in it, unencoded
        "http://gateway:hun@ter2@registries.example.invalid?q=1",  # an "@" in it
        "gateway:hunter2@registries.example.invalid:8009",  # no scheme: what the check is for
    ],
)
def test_a_refused_url_s_password_stays_out_of_the_error(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGISTRY_SYNC_POPULATION_DB__BASE_URL", url)
    with pytest.raises(ValidationError) as refused:
        RegistrySyncSettings()
    assert "ter2" not in str(refused.value) and "registries.example.invalid" in str(refused.value)


@pytest.mark.parametrize(
    ("registries_url", "population_db"),
    [
        ("http://127.0.0.1:8009", "http://127.0.0.1:8009/population/v1"),  # `make run`'s simulator
        ("http://registry-simulator:8009", "http://registry-simulator:8009/population/v1"),  # compose's
        ("https://gateway.example.gov.vn", "https://gateway.example.gov.vn/population/v1"),  # Kubernetes' example
        ("https://gateway.example.gov.vn/registries/", "https://gateway.example.gov.vn/registries/population/v1"),
        ("HTTP://[::1]:8009", "HTTP://[::1]:8009/population/v1"),
    ],
)
def test_http_and_https_registries_urls_are_taken_as_given(registries_url: str, population_db: str) -> None:
    settings = RegistrySyncSettings(registries_url=registries_url)
    assert settings.registries_url == registries_url
    assert settings.base_url("population_db") == population_db


def test_a_systems_own_base_url_is_taken_with_its_trailing_slash_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGISTRY_SYNC_NATIONAL_PORTAL__BASE_URL", "https://portal.example.gov.vn/api/v1/")
    settings = RegistrySyncSettings()
    assert settings.base_url("national_portal") == "https://portal.example.gov.vn/api/v1"
    assert settings.population_db.base_url is None


def test_the_simulator_refuses_a_log_level_logging_does_not_know() -> None:
    """'verbose' was accepted, then configure_logging raised a KeyError at start-up."""
    with pytest.raises(ValidationError, match="is not a logging level"):
        SimulatorSettings(log_level="verbose")
    assert SimulatorSettings(log_level="debug").log_level == "DEBUG"

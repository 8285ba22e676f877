"""Settings that cannot work are refused when the settings are read, naming the setting, instead of
failing later, deep in start-up or on every call."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka.conn import collect_hosts
from pydantic import ValidationError

from eventkit.db import check_schema_name
from eventkit.settings import ServiceSettings
from intake.settings import IntakeSettings
from reporting.settings import ReportingSettings
from workflow.settings import WorkflowSettings

PRODUCTION: dict[str, Any] = {
    "environment": "production",
    "database_url": "postgresql+asyncpg://u:p@db.example.invalid/prod",
    "kafka_bootstrap_servers": "kafka:9092",
}


def refusal(cls: type[ServiceSettings], **values: Any) -> tuple[set[str], str]:
    """The settings an error names (by location) and the error's text, for ``values`` refused."""
    with pytest.raises(ValidationError) as refused:
        cls(**values)
    return {str(e["loc"][0]) for e in refused.value.errors() if e["loc"]}, str(refused.value)


@pytest.mark.parametrize(
    ("servers", "bad_entry"),
    [
        ("kafka-0:9092,kafka-1:9O92", "kafka-1:9O92"),  # a letter O for a zero
        ("kafka-0:9092,", ""),  # a stray comma
        ("kafka-0:9092,,kafka-1:9092", ""),
        ("", ""),
        (":9092", ":9092"),
        ("kafka:0", "kafka:0"),
        ("kafka:70000", "kafka:70000"),
        ("kafka:-1", "kafka:-1"),  # aiokafka would quietly take 9092 for it
        ("kafka:", "kafka:"),
        ("[::1", "[::1"),
        ("[::1]9092", "[::1]9092"),
    ],
)
def test_a_bootstrap_list_aiokafka_cannot_read_is_refused_naming_the_entry(servers: str, bad_entry: str) -> None:
    """'kafka-1:9O92' was accepted; aiokafka's ValueError in the consumer's connect then crashed the
    service into a restart loop."""
    named, text = refusal(ServiceSettings, kafka_bootstrap_servers=servers)
    assert named == {"kafka_bootstrap_servers"}
    assert repr(bad_entry) in text


@pytest.mark.parametrize(
    "servers",
    [
        "127.0.0.1:9092",  # the local default, and the tests' broker
        "kafka:9092",  # compose
        "dossier-kafka-bootstrap:9092",  # Kubernetes
        "kafka-1:9092,kafka-2:9092",
        "kafka-1:9092, kafka-2:9092",
        "kafka",  # aiokafka's default port, 9092
        "[::1]:9092",
        "[::1]",
        "::1",
    ],
)
def test_a_bootstrap_list_aiokafka_reads_is_taken_as_given(servers: str) -> None:
    assert ServiceSettings(kafka_bootstrap_servers=servers).kafka_bootstrap_servers == servers
    assert all(port > 0 for _, port, _ in collect_hosts(servers))


def test_a_heartbeat_as_long_as_the_session_is_refused_naming_both() -> None:
    """A heartbeat as long as the session was accepted: the member was taken for dead between two
    heartbeats and its partitions reassigned, again and again. A third of the session is Kafka's advice,
    not its rule: 2500 ms in a 6000 ms session works, and was refused once."""
    for session, heartbeat in ((6000, 6000), (6000, 9000), (2000, 2000)):
        _, text = refusal(
            ServiceSettings, consumer_session_timeout_ms=session, consumer_heartbeat_ms=heartbeat, environment="test"
        )
        assert "consumer_heartbeat_ms" in text and "consumer_session_timeout_ms" in text
    assert ServiceSettings(consumer_session_timeout_ms=6000, consumer_heartbeat_ms=2500).consumer_heartbeat_ms == 2500


def test_production_refuses_a_session_shorter_than_kafkas_minimum() -> None:
    """Kafka's brokers refuse a session under group.min.session.timeout.ms (6000 by default), which
    aiokafka takes as fatal: the consumers stopped as soon as they joined."""
    _, text = refusal(ServiceSettings, **PRODUCTION, consumer_session_timeout_ms=5999, consumer_heartbeat_ms=1000)
    assert "consumer_session_timeout_ms must be at least 6000 in production" in text
    named, _ = refusal(ServiceSettings, consumer_session_timeout_ms=1_800_001)  # Kafka's default maximum
    assert named == {"consumer_session_timeout_ms"}
    assert ServiceSettings(**PRODUCTION).consumer_session_timeout_ms == 6000  # the default is fine


def test_the_tests_short_sessions_still_run_outside_production() -> None:
    """The tests' Tansu broker takes a 2 s session (tests/support/services.py): joins are quicker."""
    settings = IntakeSettings(environment="test", consumer_session_timeout_ms=2000, consumer_heartbeat_ms=500)
    assert (settings.consumer_session_timeout_ms, settings.consumer_heartbeat_ms) == (2000, 500)


@pytest.mark.parametrize("level", ["verbose", "10", "", "NOTICE"])  # not TRACE: a uvicorn.Config adds it
def test_a_log_level_logging_does_not_know_is_refused(level: str) -> None:
    """'verbose' was accepted, then configure_logging raised a KeyError once start-up had begun."""
    named, text = refusal(ServiceSettings, log_level=level)
    assert named == {"log_level"}
    assert "is not a logging level" in text


@pytest.mark.parametrize("level", ["debug", "Info", "WARNING", "warn", "error", "CRITICAL"])
def test_a_log_level_is_taken_in_any_case(level: str) -> None:
    assert ServiceSettings(log_level=level).log_level == level.upper()  # as configure_logging takes it


@pytest.mark.parametrize("schema", ["Intake-Prod", "intake prod", "1intake", "x" * 64])
def test_a_schema_name_make_engine_would_refuse_is_refused_with_the_settings(schema: str) -> None:
    """'Intake-Prod' was accepted, then make_engine raised a ValueError at start-up."""
    with pytest.raises(ValueError):
        check_schema_name(schema)  # the rule applied is make_engine's
    named, _ = refusal(IntakeSettings, db_schema=schema)
    assert named == {"db_schema"}


def test_a_plain_schema_name_or_none_is_taken() -> None:
    assert IntakeSettings(db_schema="intake_prod").schema_name == "intake_prod"
    assert IntakeSettings(db_schema="").schema_name == "intake"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:hunter2@db.example.invalid:5432/prod",
        "postgres://u:hunter2@db.example.invalid:5432/prod",  # Heroku's spelling
        "postgresql+asyncpg://u:hunter2@db.example.invalid:5432/prod",
    ],
)
def test_a_postgresql_url_without_a_driver_is_taken_as_asyncpgs(url: str) -> None:
    """Without '+asyncpg' SQLAlchemy chose psycopg2, which is not installed: ModuleNotFoundError at start-up."""
    settings = ServiceSettings(database_url=url)
    assert settings.database_url.get_secret_value() == "postgresql+asyncpg://u:hunter2@db.example.invalid:5432/prod"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://u:hunter2@db.example.invalid/prod",
        "mysql://u:hunter2@db.example.invalid/prod",
        "u:hunter2@db.example.invalid/prod",
        "postgresql://u:hunter2@db.example.invalid:54x2/prod",
    ],
)
def test_a_database_url_the_engine_cannot_use_is_refused_without_showing_it(url: str) -> None:
    named, text = refusal(ServiceSettings, database_url=url)
    assert named == {"database_url"}
    assert "hunter2" not in text  # the refusal goes to the logs


@pytest.mark.parametrize("service", [ServiceSettings, IntakeSettings, WorkflowSettings, ReportingSettings])
def test_a_port_outside_1_to_65535_is_refused(service: type[ServiceSettings]) -> None:
    """The services declare port again with their own default, which dropped any bounds."""
    for port in (0, -1, 65_536):
        named, _ = refusal(service, port=port)
        assert named == {"port"}
    assert service(port=65_535).port == 65_535


def test_the_defaults_and_the_tests_environment_are_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://postgres:pw@127.0.0.1:54329/dossier_tests")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:39092")
    monkeypatch.setenv("LOG_LEVEL", "INFO")
    for service in (ServiceSettings, IntakeSettings, WorkflowSettings, ReportingSettings):
        assert service().kafka_bootstrap_servers == "127.0.0.1:39092"


#: What a service officials call needs in production besides the connections (workflow's own setting too).
PEOPLE_API = {**PRODUCTION, "auth_issuer": "https://sso.example.invalid/realms/province", "id_province_code": "001"}


@pytest.mark.parametrize(
    "jwks",
    [
        "http://sso.example.invalid/realms/province/protocol/openid-connect/certs",
        "HTTP://sso.example.invalid/certs",
        "http://reader:hunter2@sso.example.invalid/certs",
        "ftp://sso.example.invalid/certs",
    ],
)
def test_production_refuses_identity_provider_keys_fetched_in_clear_without_showing_the_url(jwks: str) -> None:
    """An http:// AUTH_JWKS was taken in production: whoever sat on the path could hand the service a
    key of their own and sign operators' tokens with it."""
    for service, values in ((WorkflowSettings, PEOPLE_API), (IntakeSettings, PRODUCTION)):
        _, text = refusal(service, **values, auth_jwks=jwks)
        assert "AUTH_JWKS must be an https URL or a file path in production" in text
        assert "sso.example.invalid" not in text and "hunter2" not in text  # the refusal goes to the logs


@pytest.mark.parametrize(
    "jwks",
    [
        "https://sso.example.invalid/realms/province/protocol/openid-connect/certs",
        "HTTPS://sso.example.invalid/certs",
        "/run/identity/jwks.json",  # the compose tests' provider stand-in, mounted into the container
        "identity/jwks.json",
    ],
)
def test_production_takes_the_keys_from_an_https_url_or_a_file(jwks: str) -> None:
    """A file that is missing is not refused here but by the token verifier, which reads it at start."""
    assert WorkflowSettings(**PEOPLE_API, auth_jwks=jwks).auth_jwks == jwks


def test_development_still_takes_the_keys_from_a_plain_http_url() -> None:
    """A local stand-in of the provider is served over http (the unit tests' key server does so)."""
    jwks = "http://127.0.0.1:8080/certs"
    assert WorkflowSettings(auth_jwks=jwks).auth_jwks == jwks
    assert WorkflowSettings(environment="test", auth_jwks=jwks).auth_jwks == jwks

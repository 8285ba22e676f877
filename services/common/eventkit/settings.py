"""Settings shared by every service. Each service subclasses :class:`ServiceSettings` with its
own ``env_prefix`` (``INTAKE_``, ``WORKFLOW_`` …); the connection settings also accept the
unprefixed ``DATABASE_URL`` and ``KAFKA_BOOTSTRAP_SERVERS`` so one pair of variables can point
the whole stack at external servers."""

from __future__ import annotations

import logging
import re
import socket
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from contracts.topics import Topics
from eventkit.auth import TokenVerifier
from eventkit.db import TimeLimits, asyncpg_url, check_schema_name

#: Where `make run` puts the embedded PostgreSQL and the broker; see deploy/local/devstack.
LOCAL_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5433/dossiers"
LOCAL_KAFKA = "127.0.0.1:9092"

#: Kafka's default ``group.min.session.timeout.ms``: a broker refuses a consumer that asks for a
#: shorter session, and aiokafka takes that refusal as fatal (the consumer stops).
KAFKA_MIN_SESSION_MS = 6000
_PORT = re.compile(r"[0-9]+")
_URL_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")


def _known_log_level(level: str) -> str:
    """``configure_logging`` takes a level's name in any case; any other word (``verbose``, a number)
    failed there with a KeyError, once start-up had begun."""
    names = logging.getLevelNamesMapping()
    if level.upper() not in names:
        raise ValueError(f"{level!r} is not a logging level: one of {', '.join(sorted(names, key=names.__getitem__))}")
    return level.upper()


#: A Python logging level's name, in any case (kept upper case).
LogLevel = Annotated[str, AfterValidator(_known_log_level)]


def _bootstrap_entry_problem(entry: str) -> str | None:
    """What is wrong with one ``host[:port]`` of a bootstrap list, or None. Takes what aiokafka's
    parser takes: ``host``, ``host:port``, ``[v6]``, ``[v6]:port`` and a bare IPv6 address (no
    port given: 9092), but not the ports it would fail on (a ValueError in the consumer, which
    crashed the service over and over) or connect nowhere with."""
    if not entry:
        return "is empty (a stray comma?)"
    if entry.startswith("["):
        host, bracket, rest = entry[1:].partition("]")
        if not bracket or not host or (rest and not rest.startswith(":")):
            return "is not [IPv6 address] or [IPv6 address]:port"
        port = rest[1:] if rest else None
    elif ":" not in entry:
        return None
    else:
        try:
            socket.inet_pton(socket.AF_INET6, entry)
            return None  # a bare IPv6 address, without a port
        except (OSError, ValueError):
            host, _, port = entry.rpartition(":")
        if not host:
            return "has no host"
    if port is not None and not (_PORT.fullmatch(port) and 1 <= int(port) <= 65_535):
        return "has no port number between 1 and 65535"
    return None


def _url_scheme(location: str) -> str | None:
    """The scheme of a URL, in lower case (``https``, ``http`` …), or None for a file path."""
    found = _URL_SCHEME.match(location)
    return found.group(1).lower() if found else None


def _bootstrap_servers(servers: str) -> str:
    for entry in servers.split(","):
        if problem := _bootstrap_entry_problem(entry.strip()):
            raise ValueError(f"{entry.strip()!r} {problem}: expected host:port[,host:port…]")
    return servers


class _SharedEnvSource(EnvSettingsSource):
    """Unprefixed variables, read only for the settings every service shares."""

    SHARED: ClassVar[frozenset[str]] = frozenset(
        {
            "database_url", "kafka_bootstrap_servers", "environment", "log_format", "log_level", "catalogue_dir",
            "auth_jwks", "auth_issuer", "auth_official_claim", "calendar",
        }
    )  # fmt: skip

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in super().__call__().items() if k in self.SHARED}


class ServiceSettings(BaseSettings):
    """What every service needs to run: where its database and the broker are, and how to behave."""

    # hide_input_in_errors: a refused value must not reach the logs with the database password in it.
    model_config = SettingsConfigDict(env_prefix="SERVICE_", extra="ignore", frozen=True, hide_input_in_errors=True)

    service_name: ClassVar[str] = "service"
    #: The service has endpoints for officials or operators (people who sign in): in production it
    #: refuses to start without AUTH_JWKS.
    people_api: ClassVar[bool] = False

    environment: Literal["development", "test", "production"] = Field(
        "development", description="production refuses the development defaults below."
    )
    database_url: SecretStr = Field(
        SecretStr(LOCAL_DATABASE_URL),
        description="SQLAlchemy URL, postgresql+asyncpg://user:pass@host/db (postgresql:// and postgres:// are"
        " taken as that).",
        examples=["postgresql+asyncpg://intake:change-me@db.example.invalid:5432/dossiers"],
    )
    db_schema: str = Field("", description="PostgreSQL schema owned by this service; defaults to its name.")
    db_pool_size: int = Field(
        10, ge=1, description="Half the connections a process keeps at most: 2 × this, kept once opened."
    )
    db_statement_timeout_seconds: float = Field(
        25.0,
        ge=0,
        description="The server cancels a statement running longer (a consumer's event then counts an attempt,"
        " a request answers 503); 0 = no limit. Migrations and rebuilds are not limited.",
    )
    db_lock_timeout_seconds: float = Field(
        20.0,
        ge=0,
        description="The longest a statement waits for a lock before it is tried again; below the statement limit"
        " (0 = no limit: only with no statement limit either).",
    )
    kafka_bootstrap_servers: Annotated[str, AfterValidator(_bootstrap_servers)] = Field(
        LOCAL_KAFKA,
        description="Comma-separated host:port list.",
        examples=["kafka-0.example.invalid:9092,kafka-1.example.invalid:9092"],
    )
    topics: Topics = Field(default_factory=Topics, description="Topic names (JSON to override).")
    catalogue_dir: str | None = Field(
        None,
        description="Directory of catalogue data (procedures, agencies, bundles) instead of the packaged"
        " contracts/catalogue/data. Every service of a stack must read the same edition: set CATALOGUE_DIR once.",
    )
    auth_jwks: str | None = Field(
        None,
        description="The identity provider's public keys (a JWKS file path or https URL; production refuses any"
        " other URL) that officials' bearer tokens are checked against (operators' too). Unset: those endpoints"
        " take anyone (development; workflow, registry-sync and reporting refuse to start so in production)."
        " Shared: set AUTH_JWKS once.",
        examples=["https://sso.example.invalid/realms/province/protocol/openid-connect/certs"],
    )
    auth_issuer: str | None = Field(
        None,
        description="The issuer (`iss`) officials' tokens must name; unset: not checked (workflow, registry-sync"
        " and reporting refuse to start so in production). Shared: AUTH_ISSUER.",
        examples=["https://sso.example.invalid/realms/province"],
    )
    auth_audience: str | None = Field(
        None, description="The audience (`aud`) officials' tokens must name; default the service's name."
    )
    auth_leeway_seconds: float = Field(30.0, ge=0, description="Clock difference allowed on a token's expiry.")
    auth_official_claim: str = Field(
        "sub",
        min_length=1,
        description="The token claim that names the official, as the control sheet records them (Keycloak's"
        " sub is an opaque id: preferred_username gives the account name). Shared: AUTH_OFFICIAL_CLAIM.",
    )
    host: str = Field("127.0.0.1", description="HTTP bind address.")
    port: int = Field(8000, description="HTTP port (1-65535).")
    log_level: LogLevel = Field("INFO", description="Python logging level (DEBUG, INFO, WARNING, ERROR, CRITICAL).")
    log_format: Literal["console", "json"] = Field("console", description="json in production.")
    relay_poll_seconds: float = Field(0.05, gt=0, description="Outbox relay idle poll interval.")
    relay_batch_size: int = Field(500, ge=1, description="Outbox rows published per transaction.")
    relay_batch_bytes: int = Field(
        16 * 2**20, ge=1, description="Bytes of messages published per transaction at most (one message always goes)."
    )
    consumer_max_attempts: int = Field(
        5, ge=1, description="Handler attempts before an event goes to the dead-letter topic."
    )
    consumer_group_prefix: str = Field(
        "", description="Prepended to consumer group ids (tests isolate groups with it)."
    )
    consumer_session_timeout_ms: int = Field(
        KAFKA_MIN_SESSION_MS,
        ge=1000,
        le=1_800_000,
        description="Consumer group session; at least Kafka's default minimum, 6000, in production (a shorter"
        " one is for brokers that take it, as the tests' Tansu does).",
    )
    consumer_heartbeat_ms: int = Field(
        2000,
        ge=100,
        description="Consumer group heartbeat interval; shorter than the session (a third of it, Kafka advises).",
    )
    consumer_fetch_max_wait_ms: int = Field(
        50,
        ge=1,
        description="How long an idle fetch waits on the broker: the latency of each hop while a topic is quiet.",
    )
    consumer_retry_base_seconds: float = Field(0.05, ge=0, description="First retry delay; doubles.")
    consumer_batch_size: int = Field(
        100, ge=1, description="At most this many of a partition's events per consumer transaction; 1 = one each."
    )
    consumer_batch_max_seconds: float = Field(
        0.05, gt=0, description="Consumer transactions are sized to last about this long (they hold locks)."
    )
    consumer_batch_min_size: int = Field(
        20,
        ge=1,
        description="Events per consumer transaction when that many wait, however slow the recent ones were.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Prefixed variables win over the shared unprefixed ones.
        shared = _SharedEnvSource(settings_cls, env_prefix="")
        return init_settings, env_settings, shared, dotenv_settings, file_secret_settings

    @field_validator("database_url")
    @classmethod
    def _asyncpg_url(cls, url: SecretStr) -> SecretStr:
        return SecretStr(asyncpg_url(url.get_secret_value()))

    @field_validator("db_schema")
    @classmethod
    def _schema_make_engine_takes(cls, schema: str) -> str:
        return check_schema_name(schema) if schema else schema

    @field_validator("port")
    @classmethod
    def _a_tcp_port(cls, port: int) -> int:
        # A validator rather than Field(ge=…, le=…): each service declares port again with its own
        # default, and the bounds would not be inherited.
        if not 1 <= port <= 65_535:
            raise ValueError(f"{port} is not a TCP port (1-65535)")
        return port

    @model_validator(mode="after")
    def _consumer_group_timing(self) -> ServiceSettings:
        session, heartbeat = self.consumer_session_timeout_ms, self.consumer_heartbeat_ms
        if heartbeat >= session:
            # Kafka's rule (a third of the session is its advice, not refused): a member whose session
            # ends before its next heartbeat is taken for dead, its partitions moved and its work redone,
            # again and again.
            raise ValueError(
                f"consumer_heartbeat_ms ({heartbeat}) must be shorter than consumer_session_timeout_ms ({session});"
                " Kafka advises a third of it at most"
            )
        if self.environment == "production" and session < KAFKA_MIN_SESSION_MS:
            raise ValueError(
                f"consumer_session_timeout_ms must be at least {KAFKA_MIN_SESSION_MS} in production: Kafka's"
                " brokers refuse a shorter session (group.min.session.timeout.ms) and the consumers stop"
            )
        return self

    @model_validator(mode="after")
    def _refuse_development_defaults_in_production(self) -> ServiceSettings:
        if self.environment == "production":
            if self.database_url.get_secret_value() == LOCAL_DATABASE_URL:
                raise ValueError("DATABASE_URL must be set in production")
            if self.kafka_bootstrap_servers == LOCAL_KAFKA:
                raise ValueError("KAFKA_BOOTSTRAP_SERVERS must be set in production")
            if self.people_api and not self.auth_jwks:
                raise ValueError("AUTH_JWKS must be set in production: people's requests are authenticated")
            if self.people_api and not self.auth_issuer:
                raise ValueError("AUTH_ISSUER must be set in production: unset, a token of any issuer is taken")
            if self.auth_jwks and (scheme := _url_scheme(self.auth_jwks)) not in (None, "https"):
                # Keys fetched over plain http can be swapped on the way: whoever does it signs tokens
                # the service takes, an operator's among them. Only the scheme is named, not the URL:
                # it may carry a password.
                raise ValueError(
                    f"AUTH_JWKS must be an https URL or a file path in production, not a {scheme}:// URL:"
                    " keys fetched in clear can be replaced on the way and tokens forged with them"
                )
        return self

    def token_verifier(self) -> TokenVerifier | None:
        """The checker of officials' tokens, or None when the service runs unauthenticated."""
        if not self.auth_jwks:
            return None
        return TokenVerifier(
            self.auth_jwks,
            audience=self.auth_audience or self.service_name,
            issuer=self.auth_issuer or None,
            leeway_seconds=self.auth_leeway_seconds,
            official_claim=self.auth_official_claim,
        )

    @model_validator(mode="after")
    def _lock_limit_below_the_statement_limit(self) -> ServiceSettings:
        statement, lock = self.db_statement_timeout_seconds, self.db_lock_timeout_seconds
        if statement and (not lock or lock >= statement):  # no lock limit (0) is the longest of all
            raise ValueError(
                "db_lock_timeout_seconds must be set below db_statement_timeout_seconds: a lock wait would be"
                " cancelled as a slow statement and counted against its event"
            )
        return self

    def db_limits(self) -> TimeLimits:
        """The time limits of the service's statements (:class:`~eventkit.db.TimeLimits`); the limit
        on a transaction left idle holds even when both are off (0)."""
        return TimeLimits(self.db_statement_timeout_seconds, self.db_lock_timeout_seconds)

    @property
    def schema_name(self) -> str:
        """The PostgreSQL schema this service owns."""
        return self.db_schema or self.service_name.replace("-", "_")

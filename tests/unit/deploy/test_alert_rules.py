"""deploy/prometheus/alerts.yml and its Kubernetes twin, checked without a Prometheus: every alert
says how bad it is, what it means and where its runbook is; the two copies agree; compose's
Prometheus loads the file; and every series an expression reads is one the code serves. promtool,
when installed, checks the rules as Prometheus would and runs their unit tests (alerts.test.yml)."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.unit.deploy.manifests import DEPLOY, ENV_EXAMPLE, K8S, load_compose, load_documents, load_yaml, read_env_file
from tests.unit.deploy.strimzi import PROMETHEUS_RULE, RULES

jsonschema = pytest.importorskip("jsonschema", reason="needs jsonschema (the test extras)")

PROMETHEUS = DEPLOY / "prometheus"
RULES_FILE = PROMETHEUS / "alerts.yml"
RULES_TESTS = PROMETHEUS / "alerts.test.yml"
PROMETHEUS_RULE_FILE = K8S / "extras" / "prometheus-rules.yaml"
README = DEPLOY / "README.md"
SERVICES = DEPLOY.parent / "services"

SEVERITIES = {"critical", "warning"}

Rule = dict[str, Any]


def _rules_file() -> dict[str, Any]:
    rules: dict[str, Any] = load_yaml(RULES_FILE)
    return rules


def _alerts() -> list[Rule]:
    return [rule for group in _rules_file()["groups"] for rule in group["rules"] if "alert" in rule]


ALERTS = [pytest.param(rule, id=rule["alert"]) for rule in _alerts()]


def test_the_rules_file_is_a_prometheus_rules_file_of_uniquely_named_alerts() -> None:
    """No alert was configured anywhere: prometheus.yml had only scrape_configs, so a relay cut off
    from the broker or a pile of dead letters went unnoticed until a citizen asked."""
    rules = _rules_file()
    jsonschema.Draft202012Validator(RULES).validate(rules)
    names = [rule["alert"] for rule in _alerts()]
    assert len(names) == len(set(names)), f"alert names repeat: {sorted(n for n in names if names.count(n) > 1)}"
    groups = [group["name"] for group in rules["groups"]]
    assert len(groups) == len(set(groups)), "Prometheus refuses a file whose groups share a name"


@pytest.mark.parametrize("rule", ALERTS)
def test_every_alert_says_how_bad_what_it_means_and_where_its_runbook_is(rule: Rule) -> None:
    assert rule.get("labels", {}).get("severity") in SEVERITIES, f"severity: one of {sorted(SEVERITIES)}"
    annotations = rule.get("annotations", {})
    for key in ("summary", "description", "runbook"):
        assert annotations.get(key, "").strip(), f"{rule['alert']} has no {key}"
    assert "\n" not in annotations["summary"], "a summary is one line: notifications show it as a title"


def _slug(heading: str) -> str:
    """The anchor a Markdown renderer gives a heading (GitHub's: lower case, punctuation dropped)."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _alerts_section() -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"^## Alerts\n(.*?)(?=^## )", text, re.MULTILINE | re.DOTALL)
    assert match, "deploy/README.md has no '## Alerts' section before the next '## '"
    return match.group(1)


def test_every_runbook_is_a_section_of_the_readme_s_alerts_and_every_section_an_alert() -> None:
    """A runbook pointer nobody can follow is no runbook; a section for an alert that is gone misleads."""
    sections = {_slug(h): h for h in re.findall(r"^### (.+)$", _alerts_section(), re.MULTILINE)}
    for rule in _alerts():
        path, _, anchor = rule["annotations"]["runbook"].partition("#")
        assert path == "deploy/README.md", f"{rule['alert']}: the runbooks are in deploy/README.md"
        assert anchor in sections, f"{rule['alert']}: no section '### …' of README's Alerts has the anchor #{anchor}"
    assert sorted(sections.values()) == sorted(rule["alert"] for rule in _alerts())


def test_the_kubernetes_prometheus_rule_holds_the_same_groups() -> None:
    """Two copies of the rules (Prometheus reads a file, the Prometheus operator a resource) drift
    apart silently: an alert fixed in one fires the old way in the other."""
    (rule,) = load_documents(PROMETHEUS_RULE_FILE)
    jsonschema.Draft202012Validator(PROMETHEUS_RULE).validate(rule)
    ours = _rules_file()["groups"]
    theirs = rule["spec"]["groups"]
    assert [g["name"] for g in theirs] == [g["name"] for g in ours]
    for group, twin in zip(ours, theirs, strict=True):
        by_name = {r.get("alert") or r.get("record"): r for r in twin["rules"]}
        for wanted in group["rules"]:
            name = wanted.get("alert") or wanted.get("record")
            assert by_name.get(name) == wanted, f"{name} differs in {PROMETHEUS_RULE_FILE.relative_to(DEPLOY)}"
    assert theirs == ours, f"copy the groups of alerts.yml into {PROMETHEUS_RULE_FILE.name}'s spec"


def test_a_portal_push_that_fails_raises_an_alert_when_the_failures_grow() -> None:
    """A push the portal refused (or retries gave up on) was counted by no series and alerted nobody:
    the dossier stayed outdated on the portal until a citizen asked. The count is a gauge that drops
    as pushes are made again, so the alert reads its change over the hour, not its level."""
    [rule] = [rule for rule in _alerts() if "portal_sync_failed" in metric_names(rule["expr"])]
    assert rule["alert"] == "PortalSyncRefused" and rule["labels"]["severity"] == "warning"
    assert "delta(portal_sync_failed[1h])" in rule["expr"]
    assert "portal_sync_failed" in served_metric_names()


def test_the_kubernetes_rules_are_applied_by_hand_not_by_the_kustomization() -> None:
    """In kustomization.yaml, `kubectl apply -k` fails on a cluster without the Prometheus operator."""
    kustomization = load_yaml(K8S / "kustomization.yaml")
    assert PROMETHEUS_RULE_FILE.name not in kustomization["resources"]
    assert f"kubectl -n dossier apply -f deploy/k8s/extras/{PROMETHEUS_RULE_FILE.name}" in (
        PROMETHEUS_RULE_FILE.read_text(encoding="utf-8")
    )


def test_compose_s_prometheus_loads_the_rules_file() -> None:
    """Rules written but not loaded alert nobody: the file must be in rule_files and in the container."""
    config = load_yaml(PROMETHEUS / "prometheus.yml")
    compose = load_compose({**read_env_file(ENV_EXAMPLE), "PROVINCE_CODE": "001"})
    mounts = {}
    for volume in compose["services"]["prometheus"]["volumes"]:
        source, target, *options = volume.split(":")
        if source.startswith("./"):
            mounts[target] = (DEPLOY / source).resolve(), options
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]
    assert mounts["/etc/prometheus/alerts.yml"] == (RULES_FILE.resolve(), ["ro"])


# ---- the series the expressions read ---------------------------------------------------------

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_OFFSET = re.compile(r"\boffset\s+-?\w+")
_IDENTIFIER = re.compile(r"(?<![\w.:])[A-Za-z_:][A-Za-z0-9_:]*")
#: Operators and modifiers: the words of an expression that name no series.
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan", "by", "without", "on", "ignoring"}
_KEYWORDS |= {"group_left", "group_right"}
_PAIRS = {")": "(", "]": "[", "}": "{"}


def metric_names(expr: str) -> set[str]:
    """The series names a PromQL expression reads: identifiers that are not functions, keywords,
    label names or durations. Light, not a parser: enough for the expressions we write."""
    bare = _STRING.sub('""', expr)
    names = set(re.findall(r'__name__\s*=\s*"([^"]*)"', expr))
    bare = _OFFSET.sub(" ", _RANGE.sub(" ", _GROUPING.sub(" ", _MATCHERS.sub(" ", bare))))
    for match in _IDENTIFIER.finditer(bare):
        is_call = bare[match.end() :].lstrip().startswith("(")
        if not is_call and match.group(0).lower() not in _KEYWORDS:
            names.add(match.group(0))
    return names


def unbalanced(expr: str) -> str | None:
    """The first bracket without its partner, outside strings; None when they all pair."""
    stack: list[str] = []
    for char in _STRING.sub('""', expr):
        if char in "([{":
            stack.append(char)
        elif char in _PAIRS and (not stack or stack.pop() != _PAIRS[char]):
            return char
    return stack[-1] if stack else None


def test_the_expression_reader_finds_series_and_skips_functions_labels_durations_and_keywords() -> None:
    expr = (
        'sum by (service) (rate(http_requests_total{status=~"5..", route!="/x(y"}[5m])) / on (service) '
        'group_left sum without (pod) (up offset 15m) > 0.05 or absent(up{service="a"}) unless 1e3 < bool x_y'
    )
    assert metric_names(expr) == {"http_requests_total", "up", "x_y"}
    assert unbalanced(expr) is None
    assert unbalanced("sum(rate(x[5m])") == "("
    assert unbalanced('max(x{a="}"}) ]') == "]"


_CONSTRUCTORS = {
    "Counter": "counter",
    "CounterMetricFamily": "counter",
    "Gauge": "gauge",
    "GaugeMetricFamily": "gauge",
    "Histogram": "histogram",
    "HistogramMetricFamily": "histogram",
    "Summary": "summary",
    "SummaryMetricFamily": "summary",
}
#: The series Prometheus itself adds (`up`) and prometheus_client's process collector serves.
_ALWAYS = {"up"}
_ALWAYS_PREFIXES = ("process_",)


def _constant(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _exposed(kind: str, name: str) -> set[str]:
    """The series a metric of this kind and name serves (prometheus_client adds _total to a counter's)."""
    if kind == "counter":
        base = name.removesuffix("_total")
        return {f"{base}_total", f"{base}_created"}
    if kind == "histogram":
        return {f"{name}_bucket", f"{name}_sum", f"{name}_count", f"{name}_created"}
    if kind == "summary":
        return {name, f"{name}_sum", f"{name}_count", f"{name}_created"}
    return {name}


def served_metric_names(root: Path = SERVICES) -> set[str]:
    """Every series name the services' code defines: the first argument (or ``name=``) of each
    prometheus_client metric or metric family built with a literal name, ``namespace`` and
    ``subsystem`` prefixed as prometheus_client does."""
    served: set[str] = set()
    for path in sorted(root.rglob("*.py")):
        if "tests" in path.relative_to(root).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if called not in _CONSTRUCTORS:
                continue
            keywords = {k.arg: k.value for k in node.keywords if k.arg}
            name = _constant(node.args[0] if node.args else keywords.get("name"))
            if name is None:
                continue  # collections.Counter(), or a name computed at run time
            prefix = [_constant(keywords.get(k)) for k in ("namespace", "subsystem")]
            full = "_".join(part for part in (*prefix, name) if part)
            served |= _exposed(_CONSTRUCTORS[called], full)
    return served


def test_the_served_names_are_read_from_the_code() -> None:
    """The scan must see the series that exist today, or the check below proves nothing."""
    served = served_metric_names()
    assert {
        "outbox_relay_healthy",
        "outbox_published_messages_total",
        "consumer_events_total",
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "reporting_rebuilds_total",
    } <= served
    assert "reporting_rebuilds" not in served, "a counter serves <name>_total only"


def test_every_expression_is_balanced_and_reads_only_series_the_services_serve() -> None:
    """An expression over a name nobody serves (a typo, a metric renamed) evaluates to nothing, and an
    alert that can never fire looks exactly like a healthy platform."""
    served = served_metric_names()
    missing: dict[str, list[str]] = {}
    for rule in _alerts():
        assert unbalanced(rule["expr"]) is None, f"{rule['alert']}: unbalanced {unbalanced(rule['expr'])!r}"
        for name in metric_names(rule["expr"]):
            if name not in served and name not in _ALWAYS and not name.startswith(_ALWAYS_PREFIXES):
                missing.setdefault(name, []).append(rule["alert"])
    assert not missing, "series no code under services/ defines:\n" + "\n".join(
        f"  {name}  (read by {', '.join(alerts)})" for name, alerts in sorted(missing.items())
    )


def _promtool() -> str | None:
    return shutil.which("promtool", path=str(Path(sys.executable).parent)) or shutil.which("promtool")


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(["check", "rules", RULES_FILE.name], id="check"),
        pytest.param(["test", "rules", RULES_TESTS.name], id="test"),
    ],
)
def test_promtool_accepts_the_rules_and_their_unit_tests_pass(command: list[str]) -> None:
    """What PromQL this file cannot parse (a misspelt function, a label list in the wrong place),
    promtool does; and its unit tests show each alert firing on the series it is about, and no other."""
    promtool = _promtool()
    if promtool is None:
        pytest.skip("promtool is not installed (it comes with Prometheus; Debian: apt-get install prometheus)")
    result = subprocess.run([promtool, *command], cwd=PROMETHEUS, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr

"""deploy/prometheus: alert rules parse as PromQL, use only exported metrics, cover what
operators must hear about; promtool checks and unit-tests them where it is installed."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, get_args

import promql_parser
import pytest
import yaml
from deploy_support import SERVICES

# What the services export (docs/operations.md lists the same, with labels).
EXPORTED = {
    "modstream_consumer_lag": "gauge",
    "modstream_consumer_offset": "gauge",
    "modstream_events_processed_total": "counter",
    "modstream_decisions_total": "counter",
    "modstream_fold_batch_size": "histogram",
    "modstream_fold_batch_seconds": "histogram",
    "modstream_fold_writes_total": "counter",
    "modstream_deadletter_total": "counter",
    "modstream_ingest_requests_total": "counter",
    "modstream_enforcement_calls_total": "counter",
    "modstream_enforcement_outcomes_total": "counter",
    "modstream_enforcement_retries_total": "counter",
    "modstream_enforcement_scheduled": "gauge",
    "modstream_enforcement_call_seconds": "histogram",
}
SERIES_OF_HISTOGRAM = ("_bucket", "_sum", "_count")
SEVERITIES = {"warning", "critical"}


def _rules(alert_rules: dict[str, Any]) -> list[dict[str, Any]]:
    return [rule for group in alert_rules["groups"] for rule in group["rules"]]


def _metric_names(expr: str) -> set[str]:
    names: set[str] = set()

    def visit(node: promql_parser.Expr) -> bool:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)
        return True

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names


def _label_values(expr: str) -> set[tuple[str, str, str]]:
    """(metric, label, value) for every label matcher; a regex's alternatives one by one."""
    found: set[tuple[str, str, str]] = set()

    def visit(node: promql_parser.Expr) -> bool:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            for matcher in node.matchers.matchers:
                regex = matcher.op in (promql_parser.MatchOp.Re, promql_parser.MatchOp.NotRe)
                for value in matcher.value.split("|") if regex else [matcher.value]:
                    found.add((node.name, matcher.name, value))
        return True

    promql_parser.walk(promql_parser.parse(expr), visit)
    return found


def _known(name: str) -> bool:
    if name == "up" or EXPORTED.get(name) in ("gauge", "counter"):
        return True
    base = next((name.removesuffix(s) for s in SERIES_OF_HISTOGRAM if name.endswith(s)), name)
    return EXPORTED.get(base) == "histogram"


def _jobs_in(expr: str) -> set[str]:
    found: set[str] = set()
    for match in re.finditer(r'job\s*(=~|=)\s*"([^"]+)"', expr):
        op, value = match.groups()
        if op == "=":
            found.add(value)
        else:
            group = re.fullmatch(r"modstream-\((.+)\)", value)
            assert group, f"unexpected job regex {value}"
            found |= {f"modstream-{s}" for s in group.group(1).split("|")}
    return found


def test_rule_groups_are_well_formed(alert_rules: dict[str, Any]) -> None:
    names = [group["name"] for group in alert_rules["groups"]]
    assert len(names) == len(set(names)), "group names must be unique"
    for rule in _rules(alert_rules):
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
        assert rule["alert"].startswith("Modstream"), rule["alert"]
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        if "for" in rule:
            assert promql_parser.parse_duration(rule["for"]).total_seconds() > 0


def test_every_expression_is_valid_promql_over_exported_metrics(
    alert_rules: dict[str, Any],
) -> None:
    for rule in _rules(alert_rules):
        names = _metric_names(rule["expr"])
        assert names, f"{rule['alert']} reads no metric"
        unknown = {n for n in names if not _known(n)}
        assert not unknown, f"{rule['alert']} reads metrics nobody exports: {unknown}"


def test_parser_rejects_a_broken_expression() -> None:
    """Guards the check above: a parser that accepted anything would pass every rule."""
    with pytest.raises(ValueError):
        promql_parser.parse("sum by (service (modstream_consumer_lag)")


@pytest.mark.parametrize(
    ("concern", "needle"),
    [
        ("growing consumer lag", "delta(modstream_consumer_lag"),
        ("dead letters", "modstream_deadletter_total"),
        ("stalled consumer: offset not moving while lag > 0", "changes(modstream_consumer_offset"),
        ("service down", "up{"),
        ("decisions failing on a platform", 'outcome=~"failed|unknown"'),
        ("bot credentials refused", 'modstream_enforcement_calls_total{result="config_error"}'),
        ("enforcer lag", 'modstream_consumer_lag{service="enforcement"}'),
    ],
)
def test_alerts_cover_what_operators_must_hear_about(
    alert_rules: dict[str, Any], concern: str, needle: str
) -> None:
    exprs = [re.sub(r"\s+", " ", rule["expr"]) for rule in _rules(alert_rules)]
    assert any(needle in expr for expr in exprs), f"no alert for {concern}"


def test_service_down_alerts_name_every_service_and_match_scrape_jobs(
    alert_rules: dict[str, Any], repo: Path, manifests: list[tuple[str, dict[str, Any]]]
) -> None:
    jobs: set[str] = set()
    for rule in _rules(alert_rules):
        jobs |= _jobs_in(rule["expr"])
    assert jobs == {f"modstream-{s}" for s in SERVICES}
    absent = {
        rule["labels"].get("service")
        for rule in _rules(alert_rules)
        if rule["expr"].strip().startswith("absent(")
    }
    assert absent == set(SERVICES), "an absent() rule per service catches 'no pod at all'"

    scrape = yaml.safe_load((repo / "deploy" / "prometheus" / "prometheus.yml").read_text())
    assert {job["job_name"] for job in scrape["scrape_configs"]} == jobs
    # on Kubernetes the job is the pod's app.kubernetes.io/name label
    pod_names = {
        obj["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"]
        for _, obj in manifests
        if obj["kind"] == "Deployment"
    }
    assert pod_names == jobs


def test_compose_scrape_targets_use_the_ports_services_listen_on(
    repo: Path, compose: dict[str, Any]
) -> None:
    scrape = yaml.safe_load((repo / "deploy" / "prometheus" / "prometheus.yml").read_text())
    for job in scrape["scrape_configs"]:
        (sd,) = job["dns_sd_configs"]
        (service,) = sd["names"]
        environment = compose["services"][service]["environment"]
        ports = {int(v) for k, v in environment.items() if k.endswith("_PORT")}
        assert ports == {sd["port"]}, f"{job['job_name']} scrapes {sd['port']}, not {ports}"
    assert "/etc/prometheus/alerts.yml" in scrape["rule_files"]


def test_operations_guide_lists_every_exported_metric(repo: Path) -> None:
    guide = (repo / "docs" / "operations.md").read_text(encoding="utf-8")
    missing = [name for name in EXPORTED if f"`{name}" not in guide]
    assert not missing, f"docs/operations.md does not list {missing}"


PROMTOOL = shutil.which("promtool")


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (Debian: prometheus)")
def test_promtool_accepts_the_rules(repo: Path) -> None:
    assert PROMTOOL
    result = subprocess.run(
        [PROMTOOL, "check", "rules", str(repo / "deploy" / "prometheus" / "alerts.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (Debian: prometheus)")
def test_alerts_fire_on_synthetic_series(repo: Path) -> None:
    """promtool's rule unit tests: each alert fires on a failing series and not on a healthy
    one (tests/deploy/alerts_test.yml)."""
    assert PROMTOOL
    result = subprocess.run(
        [PROMTOOL, "test", "rules", str(Path(__file__).with_name("alerts_test.yml"))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_exported_metrics_are_the_ones_the_code_registers() -> None:
    """The alert rules and the guide are written against EXPORTED; the code must agree."""
    metrics = pytest.importorskip("shared.metrics")
    from prometheus_client.metrics import MetricWrapperBase

    registered: dict[str, str] = {}
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            for family in value.describe():
                suffix = "_total" if family.type == "counter" else ""
                registered[family.name + suffix] = family.type
    assert registered == EXPORTED


def test_label_values_the_alerts_select_are_ones_the_services_emit(
    alert_rules: dict[str, Any],
) -> None:
    """A selector on a label value nobody emits matches nothing, and its alert never fires."""
    events = pytest.importorskip("shared.events")
    calls = pytest.importorskip("services.enforcement.calls")
    # config_error: a permanent answer with CallResult.config_error, counted apart so an
    # operator can tell a revoked token from a missing right in one group.
    emitted = {
        "service": set(SERVICES),
        "outcome": set(get_args(events.EnforcementOutcome)),
        "result": set(get_args(calls.CallOutcome)) | {"config_error"},
    }
    for rule in _rules(alert_rules):
        for metric, label, value in _label_values(rule["expr"]):
            if label in emitted and metric != "up":
                assert value in emitted[label], f"{rule['alert']}: {metric}{{{label}={value!r}}}"


def test_refused_credentials_are_counted_where_the_config_error_alert_looks() -> None:
    """Drives the enforcer's call path with an answer the adapters mark config_error (a
    revoked Slack token) and reads the series ModstreamEnforcementConfigError selects."""
    executor = pytest.importorskip("services.enforcement.executor")
    from prometheus_client import REGISTRY

    from services.enforcement.calls import CallResult, Step, Target
    from shared.settings import Settings

    class Refusing:
        platform = "slack"

        async def execute(self, step: Step, target: Target, now: float) -> CallResult:
            return CallResult(
                "permanent",
                "POST /chat.delete",
                status=200,
                error="invalid_auth",
                config_error=True,
            )

    class Unpaced:
        async def acquire(self, keys: object) -> None:
            return None

        async def hold(self, keys: object, until: float) -> None:
            return None

    labels = {"platform": "slack", "step": "delete_message", "result": "config_error"}
    series = "modstream_enforcement_calls_total"
    before = REGISTRY.get_sample_value(series, labels) or 0.0
    enforcer = executor.Enforcer(Settings(), None, Unpaced(), None)  # type: ignore[arg-type]
    target = Target("slack", "C024BE91L", "U0G9QF9C6", message_id="1405894322.002768")
    asyncio.run(enforcer.call_step(Refusing(), Step("delete_message"), target, None))
    assert REGISTRY.get_sample_value(series, labels) == before + 1

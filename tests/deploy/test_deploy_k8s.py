"""deploy/k8s: schema-valid manifests, and the invariants a working rollout depends on."""

from __future__ import annotations

import json
import re
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml
from deploy_support import (
    BOT_CREDENTIALS,
    CONSUMER_GROUPS,
    CONSUMER_TOPICS,
    K8S_DIR,
    SCHEMAS,
    SERVICES,
    env_name_to_field,
    settings_from,
)
from jsonschema import Draft202012Validator

from shared.tokens import TokenStore

Obj = dict[str, Any]
Manifests = list[tuple[str, Obj]]

PORT_SETTING = {
    "ingest": "MODSTREAM_INGEST_PORT",
    "moderation": "MODSTREAM_METRICS_PORT",
    "reporting": "MODSTREAM_REPORTING_PORT",
    "enforcement": "MODSTREAM_METRICS_PORT",
}
SETTINGS_NAME = re.compile(r"\bMODSTREAM_[A-Z0-9_]+\b")
QUANTITY = re.compile(r"^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|Ti|k|M|G|T)?$")
SCALE = {
    None: 1.0,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "Ki": 2.0**10,
    "Mi": 2.0**20,
    "Gi": 2.0**30,
    "Ti": 2.0**40,
}


def _quantity(value: str | int | float) -> float:
    match = QUANTITY.match(str(value))
    assert match, f"unreadable quantity {value!r}"
    return float(match.group(1)) * SCALE[match.group(2)]


def _of_kind(manifests: Manifests, kind: str) -> list[Obj]:
    return [obj for _, obj in manifests if obj["kind"] == kind]


def _deployments(manifests: Manifests) -> dict[str, Obj]:
    """Deployments by the service they run (the container's first argument)."""
    found: dict[str, Obj] = {}
    for dep in _of_kind(manifests, "Deployment"):
        (container,) = dep["spec"]["template"]["spec"]["containers"]
        found[container["args"][0]] = dep
    return found


def _container(dep: Obj) -> Obj:
    containers = dep["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    result: Obj = containers[0]
    return result


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def _port_number(container: Obj, port: int | str) -> int:
    if isinstance(port, int):
        return port
    named = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
    assert port in named, f"probe names port {port!r}, which the container does not declare"
    return int(named[port])


def _scaled_objects(manifests: Manifests) -> list[Obj]:
    return _of_kind(manifests, "ScaledObject")


def _env_sources(manifests: Manifests) -> dict[str, dict[str, str]]:
    """The keys and values of every ConfigMap and Secret, by object name."""
    sources: dict[str, dict[str, str]] = {}
    for obj in _of_kind(manifests, "ConfigMap") + _of_kind(manifests, "Secret"):
        values = {**(obj.get("data") or {}), **(obj.get("stringData") or {})}
        sources[obj["metadata"]["name"]] = {str(k): str(v) for k, v in values.items()}
    return sources


def _environment(manifests: Manifests, dep: Obj) -> dict[str, str]:
    """What the container's process sees: envFrom maps in order (later wins), then env."""
    sources = _env_sources(manifests)
    container = _container(dep)
    env: dict[str, str] = {}
    for ref in container.get("envFrom", []):
        source = ref.get("configMapRef") or ref.get("secretRef")
        env.update(sources[source["name"]])
    env.update({e["name"]: str(e.get("value", "")) for e in container.get("env", [])})
    return env


def test_kustomization_lists_every_manifest_file(kustomization: Obj) -> None:
    files = {p.name for p in K8S_DIR.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files
    assert kustomization["apiVersion"] == "kustomize.config.k8s.io/v1beta1"


def test_builtin_kinds_are_valid_against_the_kubernetes_schema(
    manifests: Manifests, k8s_schema_bundle: Obj
) -> None:
    kinds = k8s_schema_bundle["kinds"]
    checked = 0
    for filename, obj in manifests:
        key = f"{obj['apiVersion']}/{obj['kind']}"
        if obj["kind"] == "ScaledObject":
            continue
        assert key in kinds, f"{filename}: no vendored schema for {key}; add it (schemas/README)"
        schema = {**kinds[key], "$defs": k8s_schema_bundle["$defs"]}
        errors = list(Draft202012Validator(schema).iter_errors(obj))
        assert not errors, f"{filename} {key}: " + "; ".join(
            f"{list(e.absolute_path)}: {e.message}" for e in errors
        )
        checked += 1
    assert checked >= 10


def test_scaled_objects_are_valid_against_the_keda_schema(manifests: Manifests) -> None:
    schema = json.loads((SCHEMAS / "keda-scaledobject.json").read_text(encoding="utf-8"))
    for obj in _scaled_objects(manifests):
        errors = list(Draft202012Validator(schema).iter_errors(obj))
        assert not errors, "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_the_strict_schema_rejects_a_misspelt_field(k8s_schema_bundle: Obj) -> None:
    """Guards the vendored schema itself: were it lax, every check above would pass."""
    dep = next(yaml.safe_load_all((K8S_DIR / "ingest.yaml").read_text(encoding="utf-8")))
    assert dep["kind"] == "Deployment"
    _container(dep)["readinessprobe"] = _container(dep).pop("readinessProbe")
    bundle = k8s_schema_bundle
    schema = {**bundle["kinds"]["apps/v1/Deployment"], "$defs": bundle["$defs"]}
    assert any("readinessprobe" in e.message for e in Draft202012Validator(schema).iter_errors(dep))


def test_one_deployment_per_service_from_one_image(manifests: Manifests) -> None:
    deployments = _deployments(manifests)
    assert set(deployments) == set(SERVICES)
    assert len({_container(d)["image"] for d in deployments.values()}) == 1


def test_every_deployment_has_readiness_and_liveness_probes(manifests: Manifests) -> None:
    for service, dep in _deployments(manifests).items():
        container = _container(dep)
        ready = container.get("readinessProbe", {}).get("httpGet", {})
        live = container.get("livenessProbe", {}).get("httpGet", {})
        assert ready.get("path") == "/readyz", f"{service}: readiness must probe /readyz"
        assert live.get("path") == "/healthz", f"{service}: liveness must probe /healthz"


def test_probes_hit_the_port_the_service_listens_on(
    manifests: Manifests, configmap: dict[str, str]
) -> None:
    for service, dep in _deployments(manifests).items():
        container = _container(dep)
        listening = int(configmap[PORT_SETTING[service]])
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            if probe in container:
                port = _port_number(container, container[probe]["httpGet"]["port"])
                assert port == listening, f"{service} {probe} on {port}, listens on {listening}"
        scrape_port = dep["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"]
        assert int(scrape_port) == listening


def test_containers_have_requests_within_limits(manifests: Manifests) -> None:
    for service, dep in _deployments(manifests).items():
        resources = _container(dep)["resources"]
        for resource in ("cpu", "memory"):
            request = _quantity(resources["requests"][resource])
            limit = _quantity(resources["limits"][resource])
            assert 0 < request <= limit, f"{service} {resource}: request {request} > {limit}"


def test_pods_run_as_non_root_without_privileges(manifests: Manifests, repo: Path) -> None:
    image_user = re.search(r"^USER (\d+)", (repo / "deploy" / "Dockerfile").read_text(), re.M)
    assert image_user
    for service, dep in _deployments(manifests).items():
        pod = dep["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == int(image_user.group(1)), service
        assert pod["automountServiceAccountToken"] is False
        ctx = _container(dep)["securityContext"]
        assert ctx["allowPrivilegeEscalation"] is False
        assert ctx["readOnlyRootFilesystem"] is True
        assert ctx["capabilities"]["drop"] == ["ALL"]


def test_every_environment_name_is_a_settings_field(
    manifests: Manifests, settings_fields: frozenset[str]
) -> None:
    """envFrom loads whole maps, so every key of the ConfigMap and the env Secret counts."""
    sources: dict[str, set[str]] = {}
    for obj in _of_kind(manifests, "ConfigMap") + _of_kind(manifests, "Secret"):
        keys = set(obj.get("data") or {}) | set(obj.get("stringData") or {})
        sources[obj["metadata"]["name"]] = keys
    for service, dep in _deployments(manifests).items():
        container = _container(dep)
        names = {e["name"] for e in container.get("env", [])}
        for ref in container.get("envFrom", []):
            source = ref.get("configMapRef") or ref.get("secretRef")
            names |= sources[source["name"]]
        assert "MODSTREAM_KAFKA_BOOTSTRAP" in names and "MODSTREAM_MONGO_URL" in names
        for name in names:
            field = env_name_to_field(name)
            assert field in settings_fields, f"{service}: {name} is not a Settings field"


def test_tokens_file_is_mounted_where_the_setting_points(
    manifests: Manifests, configmap: dict[str, str]
) -> None:
    tokens_path = PurePosixPath(configmap["MODSTREAM_TOKENS_FILE"])
    secrets = {s["metadata"]["name"]: s for s in _of_kind(manifests, "Secret")}
    for service, dep in _deployments(manifests).items():
        volumes = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
        mounts = {m["mountPath"]: m for m in _container(dep)["volumeMounts"]}
        mount = mounts[str(tokens_path.parent)]
        secret = secrets[volumes[mount["name"]]["secret"]["secretName"]]
        assert tokens_path.name in secret["stringData"], service
        assert mounts["/tmp"], f"{service}: a read-only root needs a writable /tmp"


def test_shipped_tokens_file_is_valid_and_grants_nothing(
    manifests: Manifests, configmap: dict[str, str], tmp_path: Path
) -> None:
    name = PurePosixPath(configmap["MODSTREAM_TOKENS_FILE"]).name
    (secret,) = [s for s in _of_kind(manifests, "Secret") if name in s.get("stringData", {})]
    path = tmp_path / name
    path.write_text(secret["stringData"][name], encoding="utf-8")
    assert TokenStore.from_file(path).authenticate("CHANGE-ME") is None


def test_services_route_to_a_declared_container_port(manifests: Manifests) -> None:
    deployments = list(_deployments(manifests).values())
    services = _of_kind(manifests, "Service")
    assert {s["metadata"]["name"] for s in services} == {
        "modstream-ingest",
        "modstream-reporting",
    }
    for svc in services:
        targets = [
            d
            for d in deployments
            if _selects(svc["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"])
        ]
        assert len(targets) == 1, f"Service {svc['metadata']['name']} selects {len(targets)}"
        for port in svc["spec"]["ports"]:
            _port_number(_container(targets[0]), port["targetPort"])


def test_every_deployment_has_a_disruption_budget(manifests: Manifests) -> None:
    budgets = _of_kind(manifests, "PodDisruptionBudget")
    for service, dep in _deployments(manifests).items():
        labels = dep["spec"]["template"]["metadata"]["labels"]
        matching = [b for b in budgets if _selects(b["spec"]["selector"]["matchLabels"], labels)]
        assert len(matching) == 1, f"{service} has {len(matching)} PodDisruptionBudgets"


def test_deployment_selectors_match_their_pods(manifests: Manifests) -> None:
    for service, dep in _deployments(manifests).items():
        labels = dep["spec"]["template"]["metadata"]["labels"]
        assert _selects(dep["spec"]["selector"]["matchLabels"], labels), service


def test_objects_live_in_the_modstream_namespace(manifests: Manifests, kustomization: Obj) -> None:
    (namespace,) = _of_kind(manifests, "Namespace")
    name = namespace["metadata"]["name"]
    assert kustomization["namespace"] == name
    for filename, obj in manifests:
        if obj["kind"] != "Namespace":
            assert obj["metadata"].get("namespace") == name, f"{filename} {obj['kind']}"


@pytest.mark.parametrize("service", sorted(CONSUMER_GROUPS))
def test_consumers_autoscale_on_their_group_lag_within_the_partition_count(
    manifests: Manifests, configmap: dict[str, str], service: str
) -> None:
    partitions = int(configmap["MODSTREAM_PARTITIONS"])
    prefix = configmap.get("MODSTREAM_TOPIC_PREFIX", "modstream.")
    dep = _deployments(manifests)[service]
    (scaled,) = [
        s
        for s in _scaled_objects(manifests)
        if s["spec"]["scaleTargetRef"]["name"] == dep["metadata"]["name"]
    ]
    spec = scaled["spec"]
    assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"] <= partitions
    assert "replicas" not in dep["spec"], "a fixed replicas: would fight the autoscaler"
    topics = set()
    for trigger in spec["triggers"]:
        assert trigger["type"] == "kafka"
        meta = trigger["metadata"]
        assert meta["consumerGroup"] == CONSUMER_GROUPS[service]
        assert meta["bootstrapServers"] == configmap["MODSTREAM_KAFKA_BOOTSTRAP"]
        assert int(meta["lagThreshold"]) > 0
        assert meta.get("allowIdleConsumers", "false") == "false"
        topics.add(meta["topic"])
    assert topics == {f"{prefix}{topic}" for topic in CONSUMER_TOPICS[service]}


def test_consumer_groups_are_the_ones_the_services_join(
    configmap: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """KEDA reads the lag of the group named in the ScaledObject: were it not the group
    the service joins, the autoscaler would follow a group nobody consumes in."""
    settings = settings_from(configmap, monkeypatch)
    for service, group in CONSUMER_GROUPS.items():
        assert getattr(settings, f"{service}_group") == group, service


def test_ingest_is_not_autoscaled_on_lag(manifests: Manifests) -> None:
    targets = {s["spec"]["scaleTargetRef"]["name"] for s in _scaled_objects(manifests)}
    assert _deployments(manifests)["ingest"]["metadata"]["name"] not in targets


def test_bot_credentials_reach_the_enforcer_alone(
    manifests: Manifests, settings_fields: frozenset[str]
) -> None:
    """A bot token can ban members: it must not sit in the ConfigMap, nor in a Secret that
    ingest (internet-facing) or reporting load."""
    assert settings_fields >= BOT_CREDENTIALS
    (configmap,) = _of_kind(manifests, "ConfigMap")
    in_configmap = {env_name_to_field(k) for k in configmap["data"]}
    assert not in_configmap & BOT_CREDENTIALS, "bot tokens belong in a Secret"
    secret_fields = {
        name: {env_name_to_field(k) for k in keys} for name, keys in _env_sources(manifests).items()
    }
    for service, dep in _deployments(manifests).items():
        refs = {r["secretRef"]["name"] for r in _container(dep)["envFrom"] if "secretRef" in r}
        if service == "enforcement":
            assert "modstream-enforcement-secrets" in refs
        else:
            assert "modstream-enforcement-secrets" not in refs, f"{service} loads bot tokens"
            for ref in refs:
                leaked = secret_fields[ref] & BOT_CREDENTIALS
                assert not leaked, f"{service} loads {leaked} from {ref}"


def test_shipped_enforcement_settings_load_and_call_no_platform(
    manifests: Manifests, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the enforcer starts with after `kubectl apply -k`: settings it can read (the
    JSON of the rates included), the kill switch off, and no credentials, so every group
    runs dry_run until an operator adds a token."""
    settings = settings_from(
        _environment(manifests, _deployments(manifests)["enforcement"]), monkeypatch
    )
    assert settings.enforcement_force_dry_run is False
    for field in BOT_CREDENTIALS:
        assert not getattr(settings, field), f"{field} is set as shipped"
    assert settings.enforcement_rates == {}
    for url in (settings.telegram_api_url, settings.discord_api_url, settings.slack_api_url):
        assert url.startswith("https://"), url


def test_names_in_manifest_comments_are_settings_fields(
    settings_fields: frozenset[str],
) -> None:
    """The Secrets ship empty and say in comments which keys to add: a misspelt one
    there becomes a key the service silently ignores."""
    for path in sorted(K8S_DIR.glob("*.yaml")):
        for name in SETTINGS_NAME.findall(path.read_text(encoding="utf-8")):
            assert env_name_to_field(name) in settings_fields, f"{path.name}: {name}"


def _allows_https_anywhere(rule: Obj) -> bool:
    to_anywhere = not rule.get("to") or any(
        peer.get("ipBlock", {}).get("cidr") == "0.0.0.0/0" and not peer["ipBlock"].get("except")
        for peer in rule["to"]
    )
    ports = rule.get("ports") or [{}]  # no ports: every port
    https = any(
        p.get("port") in (None, 443, "https") and p.get("protocol", "TCP") == "TCP" for p in ports
    )
    return to_anywhere and https


def _blocks_https_egress(policy: Obj, pod_labels: dict[str, str]) -> bool:
    spec = policy["spec"]
    if not _selects(spec["podSelector"].get("matchLabels", {}), pod_labels):
        return False
    if "Egress" not in spec.get("policyTypes", []):
        return False
    return not any(_allows_https_anywhere(rule) for rule in spec.get("egress") or [])


def test_no_network_policy_cuts_the_enforcer_off_from_https(manifests: Manifests) -> None:
    """The enforcer works only if it reaches the platforms' APIs on 443: a NetworkPolicy
    that restricts its egress must still let TCP 443 out to anywhere."""
    labels = _deployments(manifests)["enforcement"]["spec"]["template"]["metadata"]["labels"]
    for policy in _of_kind(manifests, "NetworkPolicy"):
        name = policy["metadata"]["name"]
        assert not _blocks_https_egress(policy, labels), f"{name} cuts the enforcer off"
    # Guards the check itself: a default-deny of egress is caught, an HTTPS rule passes.
    deny: Obj = {"spec": {"podSelector": {}, "policyTypes": ["Egress"]}}
    assert _blocks_https_egress(deny, labels)
    deny["spec"]["egress"] = [{"ports": [{"protocol": "TCP", "port": 443}]}]
    assert not _blocks_https_egress(deny, labels)

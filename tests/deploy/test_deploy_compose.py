"""docker-compose.yml: schema-valid, and the invariants that make `docker compose up` work."""

from __future__ import annotations

import base64
import importlib
import json
import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from deploy_support import (
    BOT_CREDENTIALS,
    PURE_CONSUMERS,
    SERVICES,
    env_name_to_field,
    settings_from,
)
from jsonschema import Draft202012Validator

from shared.tokens import TokenStore

Compose = dict[str, Any]
SETTINGS_NAME = re.compile(r"\bMODSTREAM_[A-Z0-9_]+\b")


def _services(compose: Compose) -> dict[str, dict[str, Any]]:
    services = compose["services"]
    assert isinstance(services, dict)
    return services


def _one_shots(compose: Compose) -> set[str]:
    """Services others wait on to *finish*: init steps that are not meant to keep running."""
    return {
        dep
        for svc in _services(compose).values()
        for dep, cond in (svc.get("depends_on") or {}).items()
        if cond.get("condition") == "service_completed_successfully"
    }


def _command_text(svc: dict[str, Any]) -> str:
    parts: list[str] = []
    for key in ("entrypoint", "command"):
        value = svc.get(key)
        if isinstance(value, str):
            parts.append(value)
        elif isinstance(value, list):
            parts.extend(str(v) for v in value)
    return "\n".join(parts)


def _environment(svc: dict[str, Any]) -> dict[str, str]:
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): str(v) for k, v in env.items()}


def test_compose_is_valid_against_the_compose_spec_schema(compose: Compose) -> None:
    schema_file = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    errors = sorted(Draft202012Validator(schema).iter_errors(compose), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_every_long_running_service_has_a_healthcheck(compose: Compose) -> None:
    one_shots = _one_shots(compose)
    for name, svc in _services(compose).items():
        if name in one_shots:
            assert svc.get("restart") == "no", f"one-shot {name} must not be restarted"
            continue
        check = svc.get("healthcheck")
        assert check, f"service {name} has no healthcheck"
        assert not check.get("disable"), f"service {name} disables its healthcheck"
        assert check.get("test"), f"service {name} has an empty healthcheck"


def test_app_healthchecks_probe_healthz_on_the_port_the_service_listens_on(
    compose: Compose,
) -> None:
    port_setting = {
        "ingest": "MODSTREAM_INGEST_PORT",
        "moderation": "MODSTREAM_METRICS_PORT",
        "reporting": "MODSTREAM_REPORTING_PORT",
        "enforcement": "MODSTREAM_METRICS_PORT",
    }
    for name in SERVICES:
        svc = _services(compose)[name]
        port = _environment(svc)[port_setting[name]]
        test = " ".join(str(part) for part in svc["healthcheck"]["test"])
        # slim images have no curl: the probe is the image's own Python
        assert "python" in test and "urllib" in test, f"{name} probe must use python+urllib"
        assert f"127.0.0.1:{port}/healthz" in test, f"{name} probe misses :{port}/healthz"


@pytest.mark.parametrize("name", PURE_CONSUMERS)
def test_pure_consumers_publish_no_host_port_so_they_can_be_scaled(
    compose: Compose, name: str
) -> None:
    consumer = _services(compose)[name]
    assert not consumer.get("ports"), f"a fixed host port breaks --scale {name}=N"
    assert not consumer.get("container_name"), "a fixed container name breaks --scale"
    assert _environment(consumer)["MODSTREAM_METRICS_PORT"] in consumer["expose"]


def test_published_ports_bind_to_loopback_only(compose: Compose) -> None:
    for name, svc in _services(compose).items():
        for port in svc.get("ports") or []:
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on all hosts"


def test_every_service_runs_from_one_image_with_its_own_command(compose: Compose) -> None:
    services = _services(compose)
    images = {services[name]["image"] for name in SERVICES}
    builds = {json.dumps(services[name]["build"], sort_keys=True) for name in SERVICES}
    assert len(images) == 1 and len(builds) == 1
    assert services["ingest"]["build"]["dockerfile"] == "deploy/Dockerfile"
    for name in SERVICES:
        assert services[name]["command"] == [name]


def test_every_modstream_variable_is_a_settings_field(
    compose: Compose, settings_fields: frozenset[str]
) -> None:
    for name, svc in _services(compose).items():
        for var in _environment(svc):
            field = env_name_to_field(var)
            if field is not None:
                assert field in settings_fields, f"{name}: {var} is not a Settings field"


def test_sample_env_names_only_settings_fields(repo: Path, settings_fields: frozenset[str]) -> None:
    text = (repo / "deploy" / "sample.env").read_text(encoding="utf-8")
    # commented-out lines too: they are what a user uncomments
    names = set(re.findall(r"^#?\s*(MODSTREAM_[A-Z0-9_]+)=", text, flags=re.MULTILINE))
    assert "MODSTREAM_PARTITIONS" in names
    for var in names:
        assert env_name_to_field(var) in settings_fields, f"sample.env: {var} is unknown"


def test_enforcer_starts_without_credentials_so_every_group_runs_dry(
    compose: Compose, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`docker compose up` must not act on any real chat: no bot token anywhere in the
    stack or in the sample .env (a platform without one runs its groups dry_run), and the
    kill switch left to its default rather than set in compose, where .env could not
    turn it off."""
    for name, svc in _services(compose).items():
        fields = {env_name_to_field(var) for var in _environment(svc)}
        assert not fields & BOT_CREDENTIALS, f"{name} is given bot credentials"
        assert "enforcement_force_dry_run" not in fields, f"{name} sets the kill switch"
    sample = (repo / "deploy" / "sample.env").read_text(encoding="utf-8")
    uncommented = set(re.findall(r"^(MODSTREAM_[A-Z0-9_]+)=", sample, flags=re.MULTILINE))
    assert not {env_name_to_field(var) for var in uncommented} & BOT_CREDENTIALS

    settings = settings_from(_environment(_services(compose)["enforcement"]), monkeypatch)
    assert settings.enforcement_force_dry_run is False
    for field in BOT_CREDENTIALS:
        assert not getattr(settings, field), f"{field} is set"
    assert settings.onebot_api_url is None and not settings.onebot_api_urls
    assert settings.enforcement_group == "modstream-enforcement"


def test_kafka_runs_in_kraft_mode_from_the_official_pinned_image(compose: Compose) -> None:
    kafka = _services(compose)["kafka"]
    image = kafka["image"]
    assert image.startswith("apache/kafka:") and not image.endswith(":latest")
    env = _environment(kafka)
    assert "controller" in env["KAFKA_PROCESS_ROLES"] and "broker" in env["KAFKA_PROCESS_ROLES"]
    assert not any("ZOOKEEPER" in key for key in env)
    # KRaft formats storage with this id: 16 bytes, base64url, unpadded
    cluster_id = env["CLUSTER_ID"]
    assert len(base64.urlsafe_b64decode(cluster_id + "=" * (-len(cluster_id) % 4))) == 16
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def test_services_bootstrap_from_an_address_kafka_advertises(compose: Compose) -> None:
    services = _services(compose)
    advertised = {
        listener.split("://", 1)[1]
        for listener in _environment(services["kafka"])["KAFKA_ADVERTISED_LISTENERS"].split(",")
    }
    for name in (*SERVICES, "topics-init"):
        bootstrap = _environment(services[name])["MODSTREAM_KAFKA_BOOTSTRAP"]
        assert bootstrap in advertised, f"{name} bootstraps from {bootstrap}, not advertised"


def test_mongo_is_a_replica_set_initiated_by_a_one_shot_step(compose: Compose) -> None:
    services = _services(compose)
    mongo = services["mongo"]
    assert re.fullmatch(r"mongo:8(\.\d+)*", mongo["image"]), "official mongo:8 image, pinned"
    command = mongo["command"]
    replset = command[command.index("--replSet") + 1]

    init_name = "mongo-init"
    init = services[init_name]
    script = _command_text(init)
    assert "rs.initiate" in script
    assert f'_id: "{replset}"' in script, "rs.initiate must name the set mongod runs"
    member = re.search(r'host: "([^"]+)"', script)
    assert member and member.group(1) == f"{mongo['hostname']}:27017"
    assert "NotYetInitialized" in script, "re-running the init must leave an initiated set alone"
    assert init["depends_on"]["mongo"]["condition"] == "service_healthy"

    for name in SERVICES:
        svc = services[name]
        url = urlsplit(_environment(svc)["MODSTREAM_MONGO_URL"])
        assert parse_qs(url.query)["replicaSet"] == [replset], f"{name} ignores the replica set"
        assert svc["depends_on"][init_name]["condition"] == "service_completed_successfully"


def test_depends_on_always_waits_for_health_or_completion(compose: Compose) -> None:
    services = _services(compose)
    one_shots = _one_shots(compose)
    for name, svc in services.items():
        deps = svc.get("depends_on") or {}
        assert isinstance(deps, dict), f"{name}: the short depends_on form waits for nothing"
        for dep, cond in deps.items():
            condition = cond.get("condition")
            if condition == "service_healthy":
                assert services[dep].get("healthcheck"), f"{dep} has no healthcheck to wait on"
            else:
                assert condition == "service_completed_successfully", f"{name} -> {dep}"
                assert dep in one_shots


def test_consumers_start_after_topics_exist(compose: Compose) -> None:
    services = _services(compose)
    for name in SERVICES:
        assert services[name]["depends_on"]["topics-init"]["condition"] == (
            "service_completed_successfully"
        )
    assert services["topics-init"]["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_broker_and_database_keep_data_in_named_volumes(compose: Compose) -> None:
    services = _services(compose)
    declared = set(compose.get("volumes") or {})
    wanted = {"kafka": "/var/lib/kafka/data", "mongo": "/data/db"}
    for name, target in wanted.items():
        env_dirs = _environment(services[name]).get("KAFKA_LOG_DIRS")
        if env_dirs:
            assert env_dirs == target, "kafka must write where the volume is mounted"
        mounts = {v.split(":")[1]: v.split(":")[0] for v in services[name]["volumes"]}
        assert target in mounts, f"{name} keeps {target} in the container's writable layer"
        assert mounts[target] in declared, f"{name}'s {target} is not a named volume"


def test_images_are_pinned(compose: Compose) -> None:
    for name, svc in _services(compose).items():
        image = svc.get("image", "")
        if "build" in svc:
            continue
        assert ":" in image and not image.endswith(":latest"), f"{name} image {image!r}"


def test_default_tokens_file_loads_and_is_mounted_where_settings_look(
    compose: Compose, repo: Path
) -> None:
    source = compose["configs"]["modstream-tokens"]["file"]
    default = re.fullmatch(r"\$\{\w+:-(.+)\}", source)
    path = repo / (default.group(1) if default else source)
    store = TokenStore.from_file(path)
    assert store.authenticate("dev-admin-token") is not None
    for name in SERVICES:
        svc = _services(compose)[name]
        targets = {c["target"] for c in svc["configs"] if c["source"] == "modstream-tokens"}
        assert targets == {_environment(svc)["MODSTREAM_TOKENS_FILE"]}


def test_every_command_is_a_subcommand_of_the_console_script(compose: Compose, repo: Path) -> None:
    """The image's entrypoint is `modstream`; each service's command must be one of its verbs."""
    scripts = tomllib.loads((repo / "pyproject.toml").read_text())["project"]["scripts"]
    module_name, _, attr = scripts["modstream"].partition(":")
    module = importlib.import_module(module_name)
    typer_main = pytest.importorskip("typer.main")
    app = getattr(module, "app", None) or getattr(module, attr)
    names = set(typer_main.get_command(app).commands)  # type: ignore[attr-defined]
    used = {
        svc["command"][0]
        for svc in _services(compose).values()
        if "build" in svc and "command" in svc
    }
    assert set(SERVICES) | {"topics"} <= used
    assert used <= names, f"not modstream commands: {used - names}"

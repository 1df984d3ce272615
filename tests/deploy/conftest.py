"""Fixtures for the deploy tests: the files users deploy with, parsed once per session."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy_support import K8S_DIR, REPO, SCHEMAS, read_mapping

from shared.settings import Settings


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def settings_fields() -> frozenset[str]:
    return frozenset(Settings.model_fields)


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    return read_mapping(REPO / "docker-compose.yml")


@pytest.fixture(scope="session")
def manifests() -> list[tuple[str, dict[str, Any]]]:
    """Every Kubernetes object in deploy/k8s as (file name, object), kustomization excluded."""
    found: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(K8S_DIR.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc is not None:
                found.append((path.name, doc))
    return found


@pytest.fixture(scope="session")
def kustomization() -> dict[str, Any]:
    return read_mapping(K8S_DIR / "kustomization.yaml")


@pytest.fixture(scope="session")
def configmap(manifests: list[tuple[str, dict[str, Any]]]) -> dict[str, str]:
    maps = [obj for _, obj in manifests if obj["kind"] == "ConfigMap"]
    assert len(maps) == 1, "deploy/k8s holds exactly one ConfigMap of settings"
    data = maps[0]["data"]
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="session")
def k8s_schema_bundle() -> dict[str, Any]:
    return read_mapping(SCHEMAS / "kubernetes-strict.json", json.loads)


@pytest.fixture(scope="session")
def alert_rules() -> dict[str, Any]:
    return read_mapping(REPO / "deploy" / "prometheus" / "alerts.yml")

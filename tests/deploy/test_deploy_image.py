"""deploy/Dockerfile and .dockerignore: one multi-stage, non-root, lock-exact image."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for key, args in self.instructions if key == keyword]


def _instructions(text: str) -> list[tuple[str, str]]:
    """Dockerfile instructions as (KEYWORD, arguments), continuation lines joined."""
    joined = re.sub(r"\\\n", " ", text)
    result = []
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, args = line.partition(" ")
        result.append((keyword.upper(), args.strip()))
    return result


@pytest.fixture(scope="module")
def dockerfile(repo: Path) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the build stages in order."""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for keyword, rest in _instructions((repo / "deploy" / "Dockerfile").read_text()):
        if keyword == "FROM":
            match = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", rest, flags=re.IGNORECASE)
            assert match, f"unreadable FROM {rest!r}"
            stages.append(Stage(match.group(1), match.group(2)))
        elif not stages and keyword == "ARG":
            name, _, default = rest.partition("=")
            args[name] = default
        else:
            assert stages, f"{keyword} before the first FROM"
            stages[-1].instructions.append((keyword, rest))
    return args, stages


def _resolve(value: str, args: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], value)


def _dockerignore(repo: Path) -> list[str]:
    lines = (repo / ".dockerignore").read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; `!` re-includes."""
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        glob = pattern.lstrip("!").removeprefix("**/")
        if fnmatch.fnmatch(path, glob) or fnmatch.fnmatch(path.split("/")[-1], glob):
            ignored = not negate
    return ignored


def test_image_is_multi_stage_with_named_stages(
    dockerfile: tuple[dict[str, str], list[Stage]],
) -> None:
    _, stages = dockerfile
    named = [s for s in stages if s.name]
    assert len(named) >= 2 and len(named) == len(stages)
    assert len({s.name for s in stages}) == len(stages)


def test_build_stage_installs_exactly_the_lock_without_dev_tools(
    dockerfile: tuple[dict[str, str], list[Stage]],
) -> None:
    _, stages = dockerfile
    syncs = [run for s in stages for run in s.all("RUN") if "uv sync" in run]
    assert syncs
    for run in syncs:
        assert "--frozen" in run and "--no-dev" in run, run
    assert any("--no-editable" in run for run in syncs), "the runtime must not need /src"


def test_runtime_stage_is_slim_non_root_and_starts_modstream(
    dockerfile: tuple[dict[str, str], list[Stage]], repo: Path
) -> None:
    args, stages = dockerfile
    runtime = stages[-1]
    assert "slim" in _resolve(runtime.base, args)
    users = runtime.all("USER")
    assert users, "the final stage sets no USER, so it runs as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    assert not any("uv" in run.split() for run in runtime.all("RUN")), "no build tool at run time"
    copies = " ".join(runtime.all("COPY"))
    assert "--from=build" in copies and "/app/.venv" in copies
    entrypoint = runtime.all("ENTRYPOINT")[-1]
    assert entrypoint == '["modstream"]'
    scripts = tomllib.loads((repo / "pyproject.toml").read_text())["project"]["scripts"]
    assert "modstream" in scripts


def test_base_images_are_pinned_and_match_the_project_python(
    dockerfile: tuple[dict[str, str], list[Stage]], repo: Path
) -> None:
    args, stages = dockerfile
    names = {s.name for s in stages}
    requires = tomllib.loads((repo / "pyproject.toml").read_text())["project"]["requires-python"]
    minimum = re.search(r">=\s*(\d+\.\d+)", requires)
    assert minimum
    for stage in stages:
        base = _resolve(stage.base, args)
        if base in names:
            continue
        assert ":" in base and not base.endswith(":latest"), base
        if base.startswith("python:"):
            assert base.removeprefix("python:").startswith(minimum.group(1)), base
    # build and runtime share one interpreter path, or the copied venv breaks
    pythons = {_resolve(s.base, args) for s in stages if "python" in _resolve(s.base, args)}
    assert len(pythons) == 1


def test_build_context_keeps_what_the_build_copies_and_drops_the_rest(
    dockerfile: tuple[dict[str, str], list[Stage]], repo: Path
) -> None:
    _, stages = dockerfile
    patterns = _dockerignore(repo)
    sources: list[str] = []
    for stage in stages:
        for copy in stage.all("COPY"):
            if "--from" in copy:
                continue
            parts = [p for p in copy.split() if not p.startswith("--")]
            sources.extend(parts[:-1])
    assert {"pyproject.toml", "uv.lock", "shared", "services"} <= set(sources)
    for source in sources:
        assert (repo / source).exists(), f"COPY {source}: not in the repository"
        assert not _ignored(source, patterns), f"COPY {source}: excluded by .dockerignore"
    for secret_or_bulk in (".venv", ".git", ".env", "tests"):
        assert _ignored(secret_or_bulk, patterns), f"{secret_or_bulk} reaches the build context"

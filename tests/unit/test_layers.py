"""The house rules (docs/architecture.md) hold: the import-linter contracts in
pyproject.toml are kept, so a service importing another, a core importing an I/O library
or anything in the product importing tooling fails the test command, not only `make lint`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_are_kept() -> None:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert exe, "import-linter is a dev dependency (uv sync installs it)"
    run = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "BROKEN" not in run.stdout
    assert "Contracts: 5 kept, 0 broken." in run.stdout


def test_no_test_module_imports_another() -> None:
    """Helpers live in tests/support (or beside their suite as *_support.py): a test module
    imported by another would run its tests twice and tie one suite to another's details."""
    import ast

    offenders = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                last = name.rsplit(".", 1)[-1]
                if name.startswith("tests.") and (last.startswith("test_") or last == "conftest"):
                    offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []

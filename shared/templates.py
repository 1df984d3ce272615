"""The one Jinja setup every rendered page uses (replay results, monthly reports).

A package keeps its templates in `templates/` beside its modules; HTML is autoescaped
(`.html` and `.j2`), and block tags leave no blank lines or indentation behind.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape


def template_environment(package_dir: str | Path) -> Environment:
    """An environment loading `<package_dir>/templates` (pass `Path(__file__).parent`)."""
    return Environment(
        loader=FileSystemLoader(Path(package_dir) / "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )

"""A replay's result as JSON (for tools) and as one self-contained HTML page (for people)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from services.moderation.replay import ReplayResult
from services.moderation.replay_diff import Change, Comparison
from shared.templates import template_environment

_TEMPLATES = template_environment(Path(__file__).parent)


def _iso(value: Any) -> str:
    return value.isoformat().replace("+00:00", "Z")


def change_to_dict(change: Change, result: ReplayResult) -> dict[str, Any]:
    d = change.decision
    return {
        "kind": change.kind,
        "rule_id": change.rule_id,
        "user_key": change.user_key,
        "group_key": d.group_key,
        "decided_at": _iso(d.decided_at),
        "fields": list(change.fields),
        "recorded": change.before.model_dump(mode="json", exclude_none=True)
        if change.before
        else None,
        "replayed": change.after.model_dump(mode="json", exclude_none=True)
        if change.after
        else None,
        "causes": [
            asdict(result.causes[e]) if e in result.causes else {"event_id": e}
            for e in change.cause_event_ids
        ],
    }


def comparison_to_dict(comp: Comparison, result: ReplayResult) -> dict[str, Any]:
    return {
        "recorded": comp.recorded,
        "replayed": comp.replayed,
        "identical": comp.identical,
        "equivalent": comp.equivalent,
        "reproduced_pct": comp.reproduced_pct,
        "added": len(comp.added),
        "removed": len(comp.removed),
        "changed": len(comp.changed),
        "by_rule": comp.by_rule(),
        "by_user": comp.by_user(),
        "changes": [change_to_dict(c, result) for c in comp.changes],
    }


def result_to_dict(result: ReplayResult) -> dict[str, Any]:
    return {
        "period": {"from": _iso(result.frm), "to": _iso(result.to)},
        "groups": result.groups,
        "rules_file": result.rules_file,
        "sources": {"events": result.events_source, "decisions": result.decisions_source},
        "partitions": result.partitions,
        "events_read": result.events_read,
        "events_rejected": result.events_rejected,
        "reproduction": comparison_to_dict(result.reproduction, result),
        "what_if": comparison_to_dict(result.what_if, result) if result.what_if else None,
        "notes": result.notes,
    }


def render_json(result: ReplayResult) -> str:
    return json.dumps(result_to_dict(result), ensure_ascii=False, indent=2) + "\n"


def render_html(result: ReplayResult) -> str:
    """One file, inline CSS, no scripts or fonts fetched: it opens offline and archives."""
    data = result_to_dict(result)
    return _TEMPLATES.get_template("replay.html.j2").render(r=data)


def write_result(result: ReplayResult, path: Path) -> None:
    """The format follows the file's extension: .json, else HTML."""
    text = render_json(result) if path.suffix.lower() == ".json" else render_html(result)
    path.write_text(text, encoding="utf-8")

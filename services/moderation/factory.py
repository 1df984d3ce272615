"""The one way an Engine is built: from the default rule set and plain values only.

Pure: nothing here reads settings or files or logs. The live service
(`services.moderation.app`), the replay and the tools all come through `make_engine`,
each with the default rule set its caller assembled (`shared.rules.effective_default`
over a rules file's `default:`) and, where something should hear of it, a callback for
rule-set updates the engine ignores as invalid.
"""

from __future__ import annotations

from services.moderation.engine import Engine, RejectedRules
from shared.rules import RuleSet

__all__ = ["RejectedRules", "make_engine"]


def make_engine(
    default_rules: RuleSet, *, on_rejected_rules: RejectedRules | None = None
) -> Engine:
    """An engine whose groups inherit `default_rules` until their own rules arrive."""
    return Engine(default_rules, on_rejected_rules=on_rejected_rules)

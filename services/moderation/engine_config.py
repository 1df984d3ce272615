"""Adapter: what a deployment configures for the engine, read from settings and disk.

`DEFAULT_RULES_FILE` names a rules file whose `default:` every group inherits (merged over
the built-in default); a rule-set update the engine ignores as invalid is reported in the
log. The entry points (the live service, the replay, the tools) hand both to the pure
factory, `services.moderation.factory.make_engine`.
"""

from __future__ import annotations

from shared.logging import get_logger
from shared.rules import RuleSet, default_ruleset, effective_default, load_ruleset_file
from shared.settings import Settings


def configured_default_rules(settings: Settings) -> RuleSet:
    """The built-in default with `DEFAULT_RULES_FILE`'s `default:` merged over it, if set."""
    if settings.default_rules_file is None:
        return default_ruleset()
    _, overrides = load_ruleset_file(settings.default_rules_file)
    return effective_default(overrides)


def log_rejected_rules(group_key: str, version: str, why: str) -> None:
    """`on_rejected_rules` of a service's engine: an ignored update is a warning."""
    get_logger().warning("rule-set update ignored", group_key=group_key, version=version, why=why)

"""Who may post which event: the authorisation policy of ingest, pure (no I/O).

Every function answers why a principal may not do something, in words safe to return to
the caller, or None when it may; the routes in app.py turn a reason into a 403.
"""

from __future__ import annotations

from collections.abc import Iterable

from shared.events import MANUAL_TYPES, SYSTEM_TYPES, Event, SanctionAppliedEvent
from shared.tokens import ADMIN_ONLY_ACTIONS, Principal

# The roles whose tokens a Discord relay may post with (Discord webhooks carry no
# signature: the relay's token is its only credential).
RELAY_ROLES = frozenset({"platform", "admin"})


def out_of_scope(principal: Principal, group_key: str) -> str | None:
    """Why the principal may not touch this group, or None when its token is scoped to it."""
    if principal.can_see(group_key):
        return None
    return f"token '{principal.name}' is not scoped to group {group_key}"


def authorise_event(principal: Principal, event: Event) -> str | None:
    """Why this principal may not post this event, or None when it may."""
    if principal.role == "auditor":
        return "auditor tokens change nothing"
    if event.type in SYSTEM_TYPES:
        return f"{event.type} is written by modstream's own services, never through the API"
    scope = out_of_scope(principal, event.group_key)
    if scope:
        return scope
    if event.type == "ruleset.updated" and principal.role != "admin":
        return "only admin tokens may change rule sets"
    if event.type in MANUAL_TYPES:
        if principal.role not in ("operator", "admin"):
            return f"{event.type} needs an operator or admin token"
        if isinstance(event, SanctionAppliedEvent):
            action, by_role = event.payload.action, event.payload.by_role
            if action in ADMIN_ONLY_ACTIONS and principal.role != "admin":
                return f"{action} is admin-only"
            if by_role != principal.role:
                return f"by_role {by_role!r} does not match the token's role {principal.role!r}"
    return None


def authorise_relay(principal: Principal) -> str | None:
    """Why this principal may not relay Discord webhooks, or None when it may."""
    if principal.role not in RELAY_ROLES:
        return "discord relays post with a platform token"
    return None


def authorise_relayed(principal: Principal, events: Iterable[Event]) -> str | None:
    """Why a relay may not post these mapped events (the first group outside its token's
    scope), or None when it may post them all."""
    for event in events:
        scope = out_of_scope(principal, event.group_key)
        if scope:
            return scope
    return None

"""Links: domain allow/block lists and invite links to other groups (a common ad).

Links are read from the `light` view, so full-width letters, zero-width characters and
ideographic full stops ("t。me") do not hide a domain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.moderation.detectors.base import Hit, MessageContext, make_hit
from shared.normalise import MessageText
from shared.rules import LinksRule

# Built-in, fixed patterns (stdlib re is fine: none can backtrack badly).
_URL = re.compile(
    r"(?:(?:https?|ftp)://)?"
    r"((?:[a-z0-9\u00a1-\uffff](?:[a-z0-9\u00a1-\uffff-]{0,61}[a-z0-9\u00a1-\uffff])?\.)+"
    r"(?:[a-z]{2,24}|xn--[a-z0-9-]{1,59}))"
    r"(?::\d{1,5})?(/[^\s]*)?"
)
_INVITES = re.compile(
    r"(?:t\.me|telegram\.me)/(?:\+|joinchat/)[\w-]+"
    r"|(?:discord\.gg|discord(?:app)?\.com/invite)/[\w-]+"
    r"|chat\.whatsapp\.com/[\w-]+"
    r"|(?:qm|jq)\.qq\.com/[\w/?=&%-]+"
    r"|line\.me/ti/g/[\w-]+"
)


@dataclass(frozen=True, slots=True)
class Link:
    start: int
    end: int
    host: str


def find_links(light: str) -> list[Link]:
    if "." not in light:
        return []
    return [Link(m.start(), m.end(), m.group(1)) for m in _URL.finditer(light)]


def find_invite(light: str) -> tuple[int, int] | None:
    if "/" not in light:
        return None
    m = _INVITES.search(light)
    return m.span() if m else None


def domain_in(host: str, domains: frozenset[str]) -> bool:
    """The host is a listed domain or a subdomain of one."""
    if host in domains:
        return True
    parts = host.split(".")
    return any(".".join(parts[i:]) in domains for i in range(1, len(parts) - 1))


def first_link(text: MessageText) -> str | None:
    """The original text of the first link of a message, if it has one."""
    light = text.light
    inv = find_invite(light)
    if inv is not None:
        return text.original_from_light(*inv)
    links = find_links(light)
    if links:
        return text.original_from_light(links[0].start, links[0].end)
    return None


class LinksDetector:
    def __init__(self, rule_id: str, cfg: LinksRule) -> None:
        self.rule_id = rule_id
        self.cfg = cfg
        self.allow = frozenset(cfg.allow_domains)
        self.block = frozenset(cfg.block_domains)
        self.needs_hosts = cfg.block_all or bool(self.block)

    def check(self, ctx: MessageContext) -> Hit | None:
        text = ctx.text
        if not text.original:
            return None
        light = text.light
        if self.cfg.invites:
            inv = find_invite(light)
            if inv is not None:
                matched = text.original_from_light(*inv)
                return make_hit(self.rule_id, self.cfg, matched, ("invite",))
        if not self.needs_hosts:
            return None
        for link in find_links(light):
            host = link.host
            if domain_in(host, self.allow):
                continue
            if self.cfg.block_all or domain_in(host, self.block):
                matched = text.original_from_light(link.start, link.end)
                return make_hit(self.rule_id, self.cfg, matched, ("link", host))
        return None

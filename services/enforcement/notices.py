"""What the member is told, in the group's language: the rule, the reason, the sanction.

The decision's `reason` is already written for people (moderation words it in the group's
language); the notice frames it as a message to the member."""

from __future__ import annotations

_ACTION = {
    "zh-CN": {
        "warn": "警告",
        "remove_message": "你的消息已被撤回",
        "mute": "你已被禁言",
        "kick": "你已被移出本群",
        "ban": "你已被封禁",
    },
    "en": {
        "warn": "Warning",
        "remove_message": "your message was removed",
        "mute": "you are muted",
        "kick": "you were removed from the group",
        "ban": "you are banned",
    },
}


def _duration(lang: str, seconds: int) -> str:
    for unit_s, zh, en in ((86_400, "天", "day"), (3_600, "小时", "hour"), (60, "分钟", "minute")):
        if seconds >= unit_s and seconds % unit_s == 0:
            n = seconds // unit_s
            return f"{n} {zh}" if lang == "zh-CN" else f"{n} {en}{'s' if n != 1 else ''}"
    return f"{seconds} 秒" if lang == "zh-CN" else f"{seconds} seconds"


def notice_text(
    lang: str, action: str, rule_id: str, reason: str, duration_s: int | None = None
) -> str:
    """The notice to the member: what happened, under which rule, and why."""
    lang = lang if lang in _ACTION else "zh-CN"
    what = _ACTION[lang].get(action, action)
    if lang == "zh-CN":
        span = f"（{_duration(lang, duration_s)}）" if duration_s else ""
        return f"{what}{span}。规则：{rule_id}。原因：{reason}"
    span = f" for {_duration(lang, duration_s)}" if duration_s else ""
    text = f"{what}{span}. Rule: {rule_id}. Reason: {reason}"
    return text[0].upper() + text[1:]

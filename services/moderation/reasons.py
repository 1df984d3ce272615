"""Decision reasons in the group's language.

zh-CN texts use the words of the community operations rules members already know:
警告 (warning), 禁言 (mute), 违规 (violation), 投诉 (complaint), 上报管理员 (report to
an admin).
"""

from __future__ import annotations

from typing import Any

MAX_MATCHED = 60

KIND_LABELS: dict[str, tuple[str, str]] = {
    # kind: (zh-CN, en)
    "keywords": ("违禁词", "banned words"),
    "regex": ("违规内容", "prohibited content"),
    "links": ("违规链接", "prohibited link"),
    "contacts": ("广告联系方式", "contact details (ad)"),
    "mentions": ("过度提及成员", "mass mentions"),
    "new_members": ("新成员限制", "new member limits"),
    "repeat": ("重复发言", "repeated messages"),
    "flood": ("刷屏", "flooding"),
    "complaints": ("用户投诉", "complaints"),
}

_CONTACT = {
    "qq": ("QQ号", "QQ number"),
    "wechat": ("微信号", "WeChat id"),
    "phone": ("手机号", "phone number"),
}


def duration_text(seconds: int, lang: str) -> str:
    zh = lang == "zh-CN"
    for size, zh_unit, en_unit in (
        (604800, "周", "week"),
        (86400, "天", "day"),
        (3600, "小时", "hour"),
        (60, "分钟", "minute"),
    ):
        if seconds >= size and seconds % size == 0:
            n = seconds // size
            return f"{n}{zh_unit}" if zh else f"{n} {en_unit}{'s' if n != 1 else ''}"
    return f"{seconds}秒" if zh else f"{seconds} second{'s' if seconds != 1 else ''}"


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_MATCHED else text[: MAX_MATCHED - 1] + "…"


def detail_text(detail: tuple[Any, ...], lang: str) -> str:
    if not detail:
        return ""
    zh = lang == "zh-CN"
    key = detail[0]
    d = lambda s: duration_text(int(s), lang)  # noqa: E731
    if key == "flood":
        _, n, window, limit = detail
        return (
            f"{d(window)}内发送{n}条消息（上限{limit}条）"
            if zh
            else f"{n} messages in {d(window)} (limit {limit})"
        )
    if key == "new_flood":
        _, n, window, limit = detail
        return (
            f"新成员{d(window)}内发送{n}条消息（上限{limit}条）"
            if zh
            else f"new member sent {n} messages in {d(window)} (limit {limit})"
        )
    if key == "mentions":
        _, n, limit = detail
        return (
            f"一条消息提及{n}人（上限{limit}人）"
            if zh
            else f"{n} mentions in one message (limit {limit})"
        )
    if key == "repeat":
        _, n, window = detail
        return (
            f"{d(window)}内重复发送相同内容{n}次" if zh else f"same text {n} times in {d(window)}"
        )
    if key == "new_media":
        _, period, kinds = detail
        return (
            f"入群{d(period)}内禁止发送图片、视频、文件（{kinds}）"
            if zh
            else f"no media in the first {d(period)} after joining ({kinds})"
        )
    if key == "new_link":
        _, period = detail
        return (
            f"入群{d(period)}内禁止发送链接或联系方式"
            if zh
            else f"no links or contact details in the first {d(period)} after joining"
        )
    if key == "invite":
        return "其他群的邀请链接" if zh else "invite link to another group"
    if key == "link":
        return f"禁止的网站 {detail[1]}" if zh else f"blocked site {detail[1]}"
    if key == "contact":
        zh_name, en_name = _CONTACT.get(detail[1], (detail[1], detail[1]))
        return zh_name if zh else en_name
    return ""


def violation_text(
    lang: str, rule_id: str, kind: str, matched: str | None, detail: tuple[Any, ...]
) -> str:
    """What rule was broken and by what: the core of every reason."""
    zh = lang == "zh-CN"
    label = KIND_LABELS.get(kind, (kind, kind))[0 if zh else 1]
    extra = detail_text(detail, lang)
    if zh:
        text = f"触发规则「{rule_id}」（{label}{'：' + extra if extra else ''}）"
        if matched:
            text += f"，匹配内容「{_clip(matched)}」"
        return text
    text = f"rule '{rule_id}' ({label}{': ' + extra if extra else ''})"
    if matched:
        text += f', matched "{_clip(matched)}"'
    return text


def complaint_text(lang: str, reporters: int, window: int, case_id: str) -> str:
    if lang == "zh-CN":
        return f"{reporters}名成员在{duration_text(window, lang)}内投诉（案件 {case_id}）"
    return f"{reporters} members complained within {duration_text(window, lang)} (case {case_id})"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def reason(
    lang: str,
    action: str,
    why: str,
    *,
    count: int | None = None,
    duration_s: int | None = None,
    serious: bool = False,
) -> str:
    """One decision's reason: the action, how many violations, and `why`."""
    zh = lang == "zh-CN"
    if serious:
        nth = "严重违规" if zh else "serious violation"
    elif count is not None:
        nth = f"第{count}次违规" if zh else f"{_ordinal(count)} violation"
    else:
        nth = ""
    if zh:
        head = {
            "remove_message": "删除违规消息",
            "warn": "警告",
            "mute": f"禁言{duration_text(duration_s or 0, lang)}",
            "kick": "移出群聊",
            "ban": "封禁",
            "escalate": "上报管理员",
        }[action]
        body = f"{nth}，{why}" if nth else why
        tail = "，请遵守群规" if action == "warn" else ""
        return f"{head}：{body}{tail}"
    head = {
        "remove_message": "Message removed",
        "warn": "Warning",
        "mute": f"Muted for {duration_text(duration_s or 0, lang)}",
        "kick": "Removed from the group",
        "ban": "Banned",
        "escalate": "Escalated to an admin",
    }[action]
    body = f"{nth}, {why}" if nth else why
    tail = "; please follow the group rules" if action == "warn" else ""
    return f"{head}: {body}{tail}"

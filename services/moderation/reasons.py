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


# Detail keys whose values a text names, in the detail's order after the key, with the
# texts in zh-CN and en: one row per key keeps each text's two languages side by side.
# Values named `window` or `period` are durations, written out by `duration_text`.
_DETAIL_TEXTS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "flood": (
        ("n", "window", "limit"),
        "{window}内发送{n}条消息（上限{limit}条）",
        "{n} messages in {window} (limit {limit})",
    ),
    "new_flood": (
        ("n", "window", "limit"),
        "新成员{window}内发送{n}条消息（上限{limit}条）",
        "new member sent {n} messages in {window} (limit {limit})",
    ),
    "mentions": (
        ("n", "limit"),
        "一条消息提及{n}人（上限{limit}人）",
        "{n} mentions in one message (limit {limit})",
    ),
    "repeat": (
        ("n", "window"),
        "{window}内重复发送相同内容{n}次",
        "same text {n} times in {window}",
    ),
    "new_media": (
        ("period", "kinds"),
        "入群{period}内禁止发送图片、视频、文件（{kinds}）",
        "no media in the first {period} after joining ({kinds})",
    ),
    "new_link": (
        ("period",),
        "入群{period}内禁止发送链接或联系方式",
        "no links or contact details in the first {period} after joining",
    ),
}
_DURATIONS = frozenset({"window", "period"})


def detail_text(detail: tuple[Any, ...], lang: str) -> str:
    if not detail:
        return ""
    zh = lang == "zh-CN"
    key = detail[0]
    if key in _DETAIL_TEXTS:
        names, zh_text, en_text = _DETAIL_TEXTS[key]
        # strict: a detail of the wrong length is a detector's bug, as unpacking made it
        values = dict(zip(names, detail[1:], strict=True))
        for name in _DURATIONS.intersection(values):
            values[name] = duration_text(int(values[name]), lang)
        return (zh_text if zh else en_text).format_map(values)
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


# action: (zh-CN, en), how a reason starts; a mute's names its length.
_ACTION_HEADS: dict[str, tuple[str, str]] = {
    "remove_message": ("删除违规消息", "Message removed"),
    "warn": ("警告", "Warning"),
    "mute": ("禁言{duration}", "Muted for {duration}"),
    "kick": ("移出群聊", "Removed from the group"),
    "ban": ("封禁", "Banned"),
    "escalate": ("上报管理员", "Escalated to an admin"),
}


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
    head = _ACTION_HEADS[action][0 if zh else 1].format(
        duration=duration_text(duration_s or 0, lang)
    )
    if zh:
        body = f"{nth}，{why}" if nth else why
        tail = "，请遵守群规" if action == "warn" else ""
        return f"{head}：{body}{tail}"
    body = f"{nth}, {why}" if nth else why
    tail = "; please follow the group rules" if action == "warn" else ""
    return f"{head}: {body}{tail}"

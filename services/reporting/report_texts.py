"""The words of the monthly operations report (运营报告), in each language it is written in.

Texts follow the group's language (zh-CN or en) and use the terms of the community
operations rules: section and figure names (`TEXTS`), sanction names (`ACTION_NAMES`) and
the recommendations (`RECOMMENDATIONS`, filled in by report_build.recommendations).
"""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Operations report",
        "activity": "Activity",
        "messages": "Messages",
        "active_users": "Active users",
        "joins": "New members",
        "leaves": "Members left",
        "net_growth": "Net growth",
        "members": "Members (estimate)",
        "messages_per_active_user": "Messages per active user",
        "trend": "Change against {previous}",
        "violations": "Violations",
        "violations_total": "Automatic decisions",
        "top_rules": "Top rules",
        "rule": "Rule",
        "count": "Count",
        "share": "Share",
        "complaints": "Complaint handling",
        "total": "Filed",
        "open": "Open",
        "resolved": "Resolved",
        "upheld_ratio": "Upheld ratio",
        "hours_to_first_action": "Median hours to first action",
        "hours_to_resolution": "Median hours to resolution",
        "overdue": "Open beyond the {sla} h target",
        "per_1000_members": "Complaint rate (per 1,000 members)",
        "sanctions": "Sanctions",
        "automatic": "Automatic decisions",
        "manual": "Manual sanctions",
        "revoked": "Revoked",
        "repeat_offenders": "Repeat offenders",
        "user": "User",
        "spot_checks": "Spot checks",
        "sampled": "Sampled",
        "reviewed": "Reviewed",
        "ok": "Fine",
        "violation": "Violation found",
        "pending": "Pending review",
        "recommendations": "Recommendations",
        "none": "none",
        "enforcement": "Enforcement on the platform",
        "decided": "Decided",
        "executed": "Carried out",
        "would_have": "Would have been carried out (dry run)",
        "failed": "Failed",
        "unsupported": "Not supported by the platform",
        "partial": "Partly carried out",
        "unknown": "Outcome unknown",
        "unrecorded": "Not recorded yet",
        "platform": "Platform",
        "enforcement_by_rule": "Enforcement by rule",
        "mode_dry_run": (
            "Enforcement ran in dry run: nothing was done on the platform; the figures say "
            "what would have been done."
        ),
        "mode_mixed": (
            "Enforcement ran in dry run for part of the month: 'would have' counts what was "
            "not done on the platform."
        ),
        "no_rule": "(no rule)",
        "action": "Action",
        "metric": "Metric",
        "value": "Value",
    },
    "zh-CN": {
        "title": "运营报告",
        "activity": "活跃度",
        "messages": "发言量",
        "active_users": "活跃用户",
        "joins": "新增用户",
        "leaves": "退群用户",
        "net_growth": "净增长",
        "members": "成员数（估算）",
        "messages_per_active_user": "人均发言量",
        "trend": "较{previous}变化",
        "violations": "违规行为",
        "violations_total": "违规处理次数",
        "top_rules": "主要违规规则",
        "rule": "规则",
        "count": "次数",
        "share": "占比",
        "complaints": "用户投诉处理",
        "total": "投诉数",
        "open": "待处理",
        "resolved": "已处理",
        "upheld_ratio": "投诉成立比例",
        "hours_to_first_action": "首次响应时间中位数（小时）",
        "hours_to_resolution": "处理完成时间中位数（小时）",
        "overdue": "超过 {sla} 小时未处理",
        "per_1000_members": "投诉率（每千名成员）",
        "sanctions": "处罚",
        "automatic": "自动处理",
        "manual": "人工处罚",
        "revoked": "已撤销",
        "repeat_offenders": "多次违规用户",
        "user": "用户",
        "spot_checks": "定期抽查",
        "sampled": "抽查条数",
        "reviewed": "已审核",
        "ok": "无问题",
        "violation": "发现违规",
        "pending": "待审核",
        "recommendations": "改进建议",
        "none": "无",
        "enforcement": "平台执行情况",
        "decided": "处理决定",
        "executed": "已执行",
        "would_have": "本应执行（试运行）",
        "failed": "执行失败",
        "unsupported": "平台不支持",
        "partial": "部分执行",
        "unknown": "结果未知",
        "unrecorded": "尚无执行记录",
        "platform": "平台",
        "enforcement_by_rule": "按规则的执行情况",
        "mode_dry_run": "本月处于试运行模式：未在平台上执行任何操作，以下数字为本应执行的操作。",
        "mode_mixed": "本月部分时间处于试运行模式：“本应执行”为未在平台上执行的操作。",
        "no_rule": "（无规则）",
        "action": "处罚方式",
        "metric": "指标",
        "value": "数值",
    },
}

ACTION_NAMES: dict[str, dict[str, str]] = {
    "en": {
        "warn": "warning",
        "remove_message": "message removed",
        "mute": "mute",
        "kick": "kick",
        "ban": "ban",
        "escalate": "escalated to an admin",
        "unmute": "mute lifted",
        "unban": "ban lifted",
    },
    "zh-CN": {
        "warn": "警告",
        "remove_message": "删除消息",
        "mute": "禁言",
        "kick": "移出群聊",
        "ban": "封禁",
        "escalate": "上报管理员",
        "unmute": "解除禁言",
        "unban": "解除封禁",
    },
}

RECOMMENDATIONS: dict[str, dict[str, str]] = {
    "en": {
        "operator_coverage": (
            "Complaints take longer than the {sla} h target (median {hours} h to resolve, "
            "{overdue} still open past it): add operator coverage so every complaint gets a "
            "prompt response."
        ),
        "engagement": (
            "Messages fell {pct}% against last month: plan engagement activities (topics for "
            "discussion, Q&A sessions, lucky draws) and ask members what they want."
        ),
        "pin_rules": (
            "Rule '{rule}' accounts for {share}% of violations: pin the group rules and remind "
            "members of them, explaining what this rule forbids."
        ),
        "repeat_offenders": (
            "{count} members were sanctioned more than once: educate them and apply the "
            "penalty standard step by step; report serious cases to an admin."
        ),
        "complaint_rate": (
            "The complaint rate is {rate} per 1,000 members: analyse the root causes of the "
            "complaints and adjust management to lower it."
        ),
        "spot_check_findings": (
            "Spot checks found {count} violating messages the rules missed: review the rule "
            "set so such content is caught automatically."
        ),
        "spot_check_backlog": (
            "{count} spot-check samples are still unreviewed: admins should finish the "
            "regular spot checks."
        ),
        "member_retention": (
            "More members left than joined ({net}): check the introduction for newcomers and "
            "collect feedback from those who leave."
        ),
        "enforcement_not_done": (
            "{count} decisions were not fully carried out on the platform ({failed} failed, "
            "{unsupported} not supported, {partial} partly done, {unknown} with an unknown "
            "outcome): check the bot's rights in the group and handle the open enforcement "
            "items in the queue."
        ),
        "enforcement_dry_run": (
            "Enforcement is in dry run: {count} actions would have been carried out. Review "
            "them, then set the rule set's enforcement mode to live."
        ),
        "steady": "No figure crossed a warning threshold this month: keep the current plan.",
    },
    "zh-CN": {
        "operator_coverage": (
            "投诉处理时间超过 {sla} 小时的目标（处理完成时间中位数 {hours} 小时，"
            "{overdue} 件超时未处理）：建议增加运营人员值守，确保及时响应。"
        ),
        "engagement": (
            "发言量较上月下降 {pct}%：建议策划社群活动（话题讨论、问答、抽奖等），并收集成员需求。"
        ),
        "pin_rules": (
            "规则“{rule}”占违规行为的 {share}%：建议置顶群规并提醒成员，说明该规则禁止的内容。"
        ),
        "repeat_offenders": (
            "{count} 名成员多次违规：建议对违规者进行教育，按处罚标准逐级处理，严重情况上报管理员。"
        ),
        "complaint_rate": (
            "投诉率为每千名成员 {rate} 件：建议分析投诉原因，改进管理，降低投诉率。"
        ),
        "spot_check_findings": (
            "定期抽查发现 {count} 条未被规则识别的违规内容：建议完善规则，使此类内容能被自动识别。"
        ),
        "spot_check_backlog": "还有 {count} 条抽查内容未审核：建议管理员完成定期抽查。",
        "member_retention": (
            "退群人数多于新增用户（净增长 {net}）：建议检查新成员的入群介绍，并收集退群成员的反馈。"
        ),
        "enforcement_not_done": (
            "{count} 项处理决定未能在平台上完整执行（失败 {failed}，平台不支持 {unsupported}，"
            "部分执行 {partial}，结果未知 {unknown}）：建议检查机器人在群内的权限，并处理待办队列中的执行事项。"
        ),
        "enforcement_dry_run": (
            "平台执行处于试运行模式：本应执行 {count} 项操作。建议核对这些操作，确认无误后将规则中的执行模式设为 live。"
        ),
        "steady": "本月各项指标均未触及预警阈值：建议保持当前运营计划。",
    },
}


def format_number(value: float) -> str:
    """A figure as the report's texts show it: 24.0 as 24, 2.5 as 2.5."""
    return f"{value:g}"

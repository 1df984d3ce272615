"""Complaint cases: complaints against one message (or else one user) form one case.

When `reporters` distinct members have complained within `window`, the case reaches its
threshold once: the engine then applies the configured action (a ladder step and/or an
escalation that names the case). `complaint.resolved` closes the whole case; a rejected
case also takes its violation off the ladder.
"""

from __future__ import annotations

import hashlib

from services.moderation.state import EXPIRY_CASE, Case, GroupState


def case_id_for(group_key: str, target: str, first_complaint_id: str) -> str:
    digest = hashlib.sha1(f"{group_key}|{target}|{first_complaint_id}".encode()).hexdigest()
    return f"case-{digest[:12]}"


def target_of(target_user_id: str, target_message_id: str | None) -> str:
    return f"m:{target_message_id}" if target_message_id else f"u:{target_user_id}"


def file_complaint(
    g: GroupState,
    group_key: str,
    *,
    event_id: str,
    complaint_id: str,
    reporter_id: str,
    target_user_id: str,
    target_message_id: str | None,
    at: float,
    window: int,
) -> Case:
    """Open a case for the target or join its open one; the case.

    An untriggered case whose complaints have all left the window is replaced by a new
    one, exactly as if the periodic prune had already forgotten it.
    """
    target = target_of(target_user_id, target_message_id)
    case_id = g.case_of_target.get(target)
    case = g.cases.get(case_id) if case_id else None
    if case is not None and _stale_untriggered(case, at, window):
        forget(g, case)
        case = None
    if case is None:
        case = Case(case_id_for(group_key, target, complaint_id), target, target_user_id, at)
        g.cases[case.case_id] = case
        g.case_of_target[target] = case.case_id
        g.schedule(at + window, EXPIRY_CASE, case.case_id)
    if complaint_id not in g.case_of_complaint:
        g.case_of_complaint[complaint_id] = case.case_id
        case.complaint_ids.append(complaint_id)
        case.event_ids.append(event_id)
        # members complaining about themselves do not count towards the threshold
        if reporter_id != case.target_user_id:
            case.reporters[reporter_id] = max(at, case.reporters.get(reporter_id, at))
    return case


def forget(g: GroupState, case: Case) -> None:
    g.cases.pop(case.case_id, None)
    for cid in case.complaint_ids:
        g.case_of_complaint.pop(cid, None)
    if g.case_of_target.get(case.target) == case.case_id:
        del g.case_of_target[case.target]


def _stale_untriggered(case: Case, now: float, window: float) -> bool:
    latest = max(case.reporters.values(), default=case.opened_at)
    return case.triggered_at is None and latest <= now - window


def reporters_within(case: Case, at: float, window: int) -> int:
    cutoff = at - window
    return sum(1 for t in case.reporters.values() if cutoff < t <= at)


def reaches_threshold(case: Case, at: float, reporters: int, window: int) -> bool:
    """True once per case: the first time enough distinct members complained in time."""
    if case.triggered_at is not None:
        return False
    return reporters_within(case, at, window) >= reporters


def close_case(g: GroupState, complaint_id: str) -> Case | None:
    """Close the case a complaint belongs to; the closed case, or None if unknown."""
    case_id = g.case_of_complaint.get(complaint_id)
    case = g.cases.get(case_id) if case_id else None
    if case is not None:
        forget(g, case)
    return case


def is_stale(case: Case, now: float, window: float, keep_triggered: float) -> bool:
    """Whether `prune` forgets this case at `now`."""
    return _stale_untriggered(case, now, window) or (
        case.triggered_at is not None and case.triggered_at <= now - keep_triggered
    )

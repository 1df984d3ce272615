"""The enforcer as a real process between the decisions topic and the four fake platforms:
each action becomes the documented call, each decision exactly one record; dry_run, the
kill switch and missing credentials call nothing and say what they would have done."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support.enforcement import Enforcers, Platforms, decision, keyed, wait_for_records
from tests.support.fault_kit import produce
from tests.support.stack import Servers

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

ACTIONS = ("warn", "remove_message", "mute", "unmute", "kick", "ban", "unban")


def by_action(got: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["platform"], r["payload"]["action"]): r["payload"] for r in got}


async def test_each_platform_carries_out_each_action(servers: Servers, tmp_path: Path) -> None:
    settings = servers.settings()
    with Platforms.running() as platforms:
        groups = {g.platform: g for g in platforms.community(1, 8)}
        decisions = []
        now = datetime.now(UTC)
        for group in groups.values():
            for n, action in enumerate(ACTIONS):
                user = group.users[n]
                message = platforms.post(group, user)
                decisions.append(
                    decision(
                        group,
                        user,
                        action,
                        n,
                        duration_s=600 if action == "mute" else None,
                        message_id=message,
                        decided_at=now,
                    )
                )
        await produce(settings, keyed(decisions), topic=settings.decisions_topic)
        run = Enforcers.start(tmp_path, settings, platforms.env())
        try:
            got = await wait_for_records(settings, {d.decision_id for d in decisions}, 90)
        finally:
            run.stop()
        # Credentials never reach the log (a Bot API URL holds the token).
        log = run.log("enforcement-1")
        for secret in platforms.env().values():
            if not secret.startswith("http"):
                assert secret not in log
        ids = [r["payload"]["decision_id"] for r in got]
        assert sorted(set(ids)) == sorted(d.decision_id for d in decisions)
        outcome = {k: p["outcome"] for k, p in by_action(got).items()}
        want_unsupported = {("slack", "mute"), ("slack", "ban"), ("slack", "unban")}
        want_unsupported.add(("onebot", "unban"))
        for key, value in outcome.items():
            assert value == ("unsupported" if key in want_unsupported else "executed"), key
        until = int(now.timestamp()) + 600
        g = groups
        # The documented calls, with the platforms' own units.
        (tg_mute,) = platforms.telegram.requests("restrictChatMember")[:1]
        assert platforms.telegram.params(tg_mute)["until_date"] == until
        (ban,) = platforms.onebot.calls_to("POST /set_group_kick")[-1:]
        assert ban.body["reject_add_request"] is True
        (mute,) = platforms.onebot.calls_to("POST /set_group_ban")[:1]
        assert abs(mute.body["duration"] - (until - mute.at)) <= 2
        patch = platforms.discord.calls_to(f"PATCH /guilds/{g['discord'].group_id}/members")[0]
        assert (
            patch.body["communication_disabled_until"]
            == datetime.fromtimestamp(until, UTC).isoformat()
        )
        assert platforms.discord.is_banned(g["discord"].group_id, g["discord"].users[5])
        assert platforms.discord.calls_to(f"DELETE /guilds/{g['discord'].group_id}/bans/")
        assert not platforms.slack.calls_to("ban"), "Slack has no ban: nothing is called"
        deleted = platforms.slack.calls_to("POST /chat.delete")
        assert deleted and deleted[0].headers["authorization"] == "Bearer xoxp-3333-4444-admin"
        # The member's state on each platform.
        assert not platforms.telegram.has_message(
            int(g["telegram"].group_id), int(decisions[8].target_message_id or 0)
        )
        assert not platforms.onebot.is_member(g["onebot"].group_id, g["onebot"].users[4])


async def test_dry_run_kill_switch_and_missing_credentials_call_nothing(
    servers: Servers, tmp_path: Path
) -> None:
    settings = servers.settings()
    with Platforms.running() as platforms:
        groups = {g.platform: g for g in platforms.community(2, 4)}
        tg_live = next(g for g in platforms.groups if g.platform == "telegram")
        dry = [
            decision(g, g.users[0], "kick", i, mode="dry_run")
            for i, g in enumerate(platforms.groups)
        ]
        await produce(settings, keyed(dry), topic=settings.decisions_topic)
        env = platforms.env()
        env.pop("MODSTREAM_DISCORD_BOT_TOKEN")  # Discord: no credentials
        live_discord = decision(groups["discord"], groups["discord"].users[1], "kick", 90)
        await produce(settings, keyed([live_discord]), topic=settings.decisions_topic)
        run = Enforcers.start(tmp_path / "a", settings, env)
        try:
            got = await wait_for_records(
                settings, {d.decision_id for d in [*dry, live_discord]}, 90
            )
        finally:
            run.stop()
        payloads = {r["payload"]["decision_id"]: r["payload"] for r in got}
        assert {p["outcome"] for p in payloads.values()} == {"dry_run"}
        tg = payloads[dry[platforms.groups.index(tg_live)].decision_id]
        assert tg["platform_call"] == "POST /unbanChatMember"
        assert tg["calls"][0]["params"]["user_id"] == int(tg_live.users[0])
        assert "credentials" in payloads[live_discord.decision_id]["note"]
        assert "no credentials" in run.log("enforcement-1")
        for fake in platforms.fakes().values():
            assert fake.calls == [], f"{type(fake).__name__} was called in dry_run"

        # The kill switch: a live group is recorded dry too.
        switched = decision(tg_live, tg_live.users[2], "ban", 91)
        await produce(settings, keyed([switched]), topic=settings.decisions_topic)
        run = Enforcers.start(
            tmp_path / "b", settings, env | {"MODSTREAM_ENFORCEMENT_FORCE_DRY_RUN": "true"}
        )
        try:
            got = await wait_for_records(
                settings, {d.decision_id for d in [*dry, live_discord, switched]}, 90
            )
        finally:
            run.stop()
        last = {r["payload"]["decision_id"]: r["payload"] for r in got}[switched.decision_id]
        assert last["outcome"] == "dry_run" and "kill switch" in last["note"]
        assert platforms.telegram.calls == []

"""The groups of the sample community and the settings the demo rules need."""

from __future__ import annotations

from tools.simulator import community_groups, group_settings


def test_default_community_mixes_platforms_languages_and_time_zones() -> None:
    groups = community_groups(7)
    assert len(groups) == 12
    assert {g.platform for g in groups} == {"onebot", "telegram", "discord", "slack"}
    assert {g.language for g in groups} == {"zh-CN", "en"}
    assert len({g.timezone for g in groups}) >= 4
    assert len({g.group_key for g in groups}) == 12


def test_group_key_joins_platform_and_group_id() -> None:
    g = community_groups(1)[0]
    assert g.group_key == f"{g.platform}:{g.group_id}"


def test_groups_are_deterministic_by_seed() -> None:
    assert community_groups(3) == community_groups(3)
    assert community_groups(3) != community_groups(4)


def test_four_groups_already_cover_every_platform() -> None:
    assert {g.platform for g in community_groups(2, 4)} == {
        "onebot",
        "telegram",
        "discord",
        "slack",
    }


def test_more_groups_than_the_catalogue_get_distinct_keys_and_names() -> None:
    groups = community_groups(5, 30)
    assert len({g.group_key for g in groups}) == 30
    assert len({g.name for g in groups}) == 30


def test_ids_look_like_each_platforms_own() -> None:
    for g in community_groups(8, 12):
        if g.platform == "telegram":
            assert g.group_id.startswith("-100")
        elif g.platform == "slack":
            assert g.group_id.startswith("C")
        else:
            assert g.group_id.isdigit()


def test_group_settings_gives_language_and_timezone_per_group_key() -> None:
    groups = community_groups(7)
    settings = group_settings(groups)
    assert set(settings) == {g.group_key for g in groups}
    for g in groups:
        assert settings[g.group_key] == {"language": g.language, "timezone": g.timezone}

"""Rule sets: the YAML format, validation with line numbers, and group-over-default merging.

A rule set is data an admin writes; every mistake in it must point at the line to fix,
so YAML is loaded with a loader that remembers the line of every key, and pydantic's
error locations are walked back through those lines.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import re2
import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from shared.keys import is_key
from shared.normalise import normalise

# --------------------------------------------------------------------------- errors


class RulesError(ValueError):
    """An invalid rule set; `problems` holds (line or None, field path, message)."""

    def __init__(self, source: str, problems: list[tuple[int | None, str, str]]) -> None:
        self.source = source
        self.problems = problems
        lines = []
        for line, path, msg in problems:
            where = f"{source}:{line}" if line else source
            lines.append(f"{where}: {path or '<root>'}: {msg}" if path else f"{where}: {msg}")
        super().__init__("\n".join(lines))


# --------------------------------------------------------------------------- YAML with lines


class LinedDict(dict[str, Any]):
    """A mapping from YAML that knows the line of each of its keys (1-based)."""

    line: int | None = None
    key_lines: dict[str, int]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.key_lines = {}

    def __deepcopy__(self, memo: dict[int, Any]) -> LinedDict:
        out = LinedDict({k: copy.deepcopy(v, memo) for k, v in self.items()})
        out.line = self.line
        out.key_lines = dict(self.key_lines)
        return out


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_map(loader: _LineLoader, node: yaml.MappingNode) -> Iterator[LinedDict]:
    data = LinedDict()
    data.line = node.start_mark.line + 1
    yield data
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if not isinstance(key, str):
            key = str(key)
        if key in data:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        data[key] = loader.construct_object(value_node, deep=True)
        data.key_lines[key] = line


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)  # type: ignore[arg-type]


def parse_rules_yaml(text: str, source: str = "<rules>") -> dict[str, Any]:
    """YAML text -> raw mapping whose every mapping remembers its key lines."""
    try:
        data = yaml.load(text, Loader=_LineLoader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark else None
        raise RulesError(source, [(line, "", f"invalid YAML: {err.problem or err}")]) from err
    except yaml.YAMLError as err:
        raise RulesError(source, [(None, "", f"invalid YAML: {err}")]) from err
    if data is None:
        return LinedDict()
    if not isinstance(data, dict):
        raise RulesError(source, [(1, "", "a rule set must be a mapping of fields")])
    return data


def load_ruleset_file(path: str | Path) -> tuple[dict[str, dict[str, Any]], dict[str, Any] | None]:
    """A rules file -> (per-group overrides, default overrides or None); validated.

    A file either holds `default:` and/or `groups:`, or it is one rule set, which is
    then read as the default. Every group is validated merged over the default, so a
    file that loads is a file `rules apply` can publish.
    """
    source = str(path)
    raw = parse_rules_yaml(Path(path).read_text(encoding="utf-8"), source)
    if "default" in raw or "groups" in raw:
        extra = sorted(set(raw) - {"default", "groups"})
        if extra:
            lines = _key_lines(raw)
            raise RulesError(
                source,
                [
                    (lines.get(k), k, "unknown top-level field (expected default, groups)")
                    for k in extra
                ],
            )
        default = raw.get("default")
        groups = raw.get("groups") or {}
    else:
        default, groups = raw, {}
    problems: list[tuple[int | None, str, str]] = []
    if default is not None and not isinstance(default, dict):
        raise RulesError(source, [(_key_lines(raw).get("default"), "default", "must be a mapping")])
    if not isinstance(groups, dict):
        raise RulesError(source, [(_key_lines(raw).get("groups"), "groups", "must be a mapping")])
    base = default_ruleset()
    try:
        base = effective_default(default, source=source, prefix="default")
    except RulesError as err:
        problems.extend(err.problems)
    out: dict[str, dict[str, Any]] = {}
    for key, override in groups.items():
        line = _key_lines(groups).get(key)
        if not is_key(key):
            problems.append((line, f"groups.{key}", "a group key reads platform:group_id"))
            continue
        if not isinstance(override, dict):
            problems.append((line, f"groups.{key}", "must be a mapping of rule fields"))
            continue
        try:
            effective_rules(base, override, source=source, prefix=f"groups.{key}")
        except RulesError as err:
            problems.extend(err.problems)
        out[key] = override
    if problems:
        raise RulesError(source, problems)
    return out, default


def _key_lines(value: Any) -> dict[str, int]:
    return getattr(value, "key_lines", {}) or {}


def _locate(raw: Any, loc: tuple[int | str, ...]) -> tuple[int | None, str]:
    """Walk a pydantic error location through the raw data: the nearest line and the path.

    Location parts that are not keys of the data (discriminator tags) are skipped.
    """
    line: int | None = getattr(raw, "line", None)
    node = raw
    parts: list[str] = []
    for i, part in enumerate(loc):
        is_tag = isinstance(node, dict) and node.get("kind") == part and i < len(loc) - 1
        if is_tag:
            continue  # the discriminator pydantic puts in the location
        if isinstance(node, dict) and isinstance(part, str) and part in node:
            line = _key_lines(node).get(part, line)
            node = node[part]
            parts.append(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            item = node[part]
            line = getattr(item, "line", line)
            node = item
            parts.append(f"[{part}]")
        elif i == len(loc) - 1:
            parts.append(str(part))
    path = ""
    for p in parts:
        path += p if p.startswith("[") or not path else f".{p}"
    return line, path


# --------------------------------------------------------------------------- the model

_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w)?\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}


def parse_duration(value: Any) -> Any:
    """Seconds, or "90s", "10m", "1h", "30d", "2w"."""
    if isinstance(value, bool):
        raise ValueError("a duration is seconds or a string like 10m, 1h, 30d")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        m = _DURATION.match(value)
        if m:
            return int(m.group(1)) * _UNIT[m.group(2)]
    raise ValueError(f"{value!r} is not a duration (seconds, or e.g. 10s, 10m, 1h, 30d)")


Duration = Annotated[int, BeforeValidator(parse_duration), Field(ge=0)]
PositiveDuration = Annotated[int, BeforeValidator(parse_duration), Field(ge=1)]

_DETECTOR_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_DOMAIN = re.compile(r"^(?:[a-z0-9-]{1,63}\.)+[a-z0-9-]{2,63}$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Detector(_Model):
    enabled: bool = True
    category: str = Field(default="general", min_length=1, max_length=64)
    serious: bool = False
    ladder: bool = True


def _check_normalisable(values: list[str], what: str) -> list[str]:
    for i, v in enumerate(values):
        if not normalise(v):
            raise ValueError(f"{what}[{i}] {v!r} is empty after normalisation")
    return values


class KeywordsRule(_Detector):
    kind: Literal["keywords"]
    keywords: list[str] = Field(min_length=1)
    allow: list[str] = Field(default_factory=list)
    whole_words: bool = True
    evasion: bool = True

    @field_validator("keywords")
    @classmethod
    def _kw(cls, v: list[str]) -> list[str]:
        return _check_normalisable(v, "keywords")

    @field_validator("allow")
    @classmethod
    def _allow(cls, v: list[str]) -> list[str]:
        return _check_normalisable(v, "allow")


class RegexRule(_Detector):
    kind: Literal["regex"]
    patterns: list[str] = Field(min_length=1)
    on: Literal["normalised", "original"] = "normalised"

    @field_validator("patterns")
    @classmethod
    def _re2(cls, v: list[str]) -> list[str]:
        for i, pattern in enumerate(v):
            try:
                re2.compile(pattern)
            except Exception as err:
                msg = err.args[0] if err.args else err
                if isinstance(msg, bytes):
                    msg = msg.decode(errors="replace")
                raise ValueError(f"patterns[{i}] {pattern!r} is not valid RE2: {msg}") from None
        return v


def _domains(v: list[str]) -> list[str]:
    out = []
    for i, d in enumerate(v):
        d2 = d.strip().lower().removeprefix("https://").removeprefix("http://")
        d2 = d2.removeprefix("*.").rstrip("/")
        if not _DOMAIN.match(d2):
            raise ValueError(f"[{i}] {d!r} is not a domain name (e.g. example.com)")
        out.append(d2)
    return out


class LinksRule(_Detector):
    kind: Literal["links"]
    allow_domains: list[str] = Field(default_factory=list)
    block_domains: list[str] = Field(default_factory=list)
    block_all: bool = False
    invites: bool = True

    _v = field_validator("allow_domains", "block_domains")(_domains)


class ContactsRule(_Detector):
    kind: Literal["contacts"]
    qq: bool = True
    wechat: bool = True
    phone: bool = True


class FloodRule(_Detector):
    kind: Literal["flood"]
    max_messages: int = Field(ge=1)
    window: PositiveDuration


class RepeatRule(_Detector):
    kind: Literal["repeat"]
    times: int = Field(ge=2)
    window: PositiveDuration
    min_length: int = Field(default=6, ge=1)
    cross_group: bool = True


class MentionsRule(_Detector):
    kind: Literal["mentions"]
    max_mentions: int = Field(ge=0)


class NewMembersRule(_Detector):
    kind: Literal["new_members"]
    period: PositiveDuration
    block_links: bool = True
    block_media: bool = True
    flood_max: int | None = Field(default=None, ge=1)
    flood_window: PositiveDuration = 60


class ComplaintsRule(_Detector):
    kind: Literal["complaints"]
    reporters: int = Field(ge=1)
    window: PositiveDuration
    sanction: bool = True
    escalate: bool = True


DetectorRule = Annotated[
    KeywordsRule
    | RegexRule
    | LinksRule
    | ContactsRule
    | FloodRule
    | RepeatRule
    | MentionsRule
    | NewMembersRule
    | ComplaintsRule,
    Field(discriminator="kind"),
]

# The order detectors run in, whatever order the YAML lists them in.
KIND_ORDER = (
    "keywords",
    "regex",
    "links",
    "contacts",
    "mentions",
    "new_members",
    "repeat",
    "flood",
    "complaints",
)

SanctionStepAction = Literal["warn", "mute", "kick", "ban"]


class LadderStep(_Model):
    action: SanctionStepAction
    duration: Duration | None = None
    escalate: bool = False

    @model_validator(mode="after")
    def _mute_needs_duration(self) -> LadderStep:
        if self.action == "mute" and not self.duration:
            raise ValueError("a mute step needs a duration (e.g. duration: 1h)")
        if self.action != "mute" and self.duration is not None:
            raise ValueError(f"only mute steps take a duration, not {self.action}")
        return self


class Ladder(_Model):
    expire_after: PositiveDuration = 30 * 86400
    steps: list[LadderStep] = Field(min_length=1)


class Enforcement(_Model):
    """How the group's decisions reach its platform (services/enforcement).

    `dry_run` is the default: the enforcer records what it would call and calls nothing,
    so a group opts in to `live` by a rule change that is itself on record."""

    mode: Literal["off", "dry_run", "live"] = "dry_run"
    # A private notice to the violator naming the rule and the reason.
    notify: bool = False
    # Which configured bot acts for the group (`*_BOT_TOKENS` / `ONEBOT_API_URLS` ids);
    # unset: the platform's single bot.
    bot: str | None = Field(default=None, min_length=1, max_length=64)


class RuleSet(_Model):
    """The validated rules of one group (the default merged with the group's overrides)."""

    language: Literal["zh-CN", "en"] = "zh-CN"
    timezone: str = "Asia/Shanghai"
    enforcement: Enforcement = Field(default_factory=Enforcement)
    ladder: Ladder
    detectors: dict[str, DetectorRule] = Field(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{v!r} is not an IANA time zone (e.g. Asia/Shanghai)") from None
        return v

    @field_validator("detectors")
    @classmethod
    def _ids(cls, v: dict[str, Any]) -> dict[str, Any]:
        for key in v:
            if not _DETECTOR_ID.match(key):
                raise ValueError(
                    f"detector id {key!r}: use lowercase letters, digits, '-' and '_' "
                    "(no dots), at most 64 characters"
                )
        return v

    @model_validator(mode="after")
    def _singletons(self) -> RuleSet:
        for kind in ("new_members", "complaints"):
            ids = [k for k, d in self.detectors.items() if d.kind == kind and d.enabled]
            if len(ids) > 1:
                raise ValueError(f"at most one enabled {kind} detector, found {ids}")
        return self

    def ordered_detectors(self) -> list[tuple[str, Any]]:
        rank = {k: i for i, k in enumerate(KIND_ORDER)}
        return sorted(
            ((k, d) for k, d in self.detectors.items() if d.enabled),
            key=lambda item: (rank[item[1].kind], item[0]),
        )


def validate_rules(raw: dict[str, Any], source: str = "<rules>", prefix: str = "") -> RuleSet:
    """Raw data -> RuleSet; every problem names its line (when known) and field."""
    if not isinstance(raw, dict):
        raise RulesError(source, [(None, prefix, "a rule set must be a mapping")])
    problems = _id_problems(raw, prefix)
    try:
        rules = RuleSet.model_validate(raw)
    except ValidationError as err:
        for e in err.errors(include_url=False):
            line, path = _locate(raw, tuple(e["loc"]))
            if prefix:
                path = f"{prefix}.{path}" if path else prefix
            msg = e["msg"].removeprefix("Value error, ")
            if msg.startswith("detector id") and problems:
                continue  # already named, with its own line
            if e["type"] == "union_tag_not_found":
                msg = f"needs a kind, one of: {', '.join(KIND_ORDER)}"
            elif e["type"] == "union_tag_invalid":
                msg = f"unknown kind {e['input'].get('kind')!r}; one of: {', '.join(KIND_ORDER)}"
            problems.append((line, path, msg))
        raise RulesError(source, problems) from None
    if problems:
        raise RulesError(source, problems)
    return rules


def _id_problems(raw: dict[str, Any], prefix: str) -> list[tuple[int | None, str, str]]:
    """Bad detector ids, each with the line of the id (pydantic stops before ids)."""
    detectors = raw.get("detectors")
    if not isinstance(detectors, dict):
        return []
    lines = _key_lines(detectors)
    where = f"{prefix}.detectors" if prefix else "detectors"
    return [
        (
            lines.get(key),
            f"{where}.{key}",
            f"detector id {key!r}: use lowercase letters, "
            "digits, '-' and '_' (no dots), at most 64 characters",
        )
        for key in detectors
        if not isinstance(key, str) or not _DETECTOR_ID.match(key)
    ]


def deep_merge(base: Any, over: Any) -> Any:
    """Mappings merge key by key; anything else (lists included) is replaced by `over`."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = LinedDict()
        out.line = getattr(over, "line", None)
        for k, v in base.items():
            out[k] = copy.deepcopy(v)
        lines = _key_lines(over)
        for k, v in over.items():
            out[k] = deep_merge(base[k], v) if k in base else copy.deepcopy(v)
            if k in lines:
                out.key_lines[k] = lines[k]
        return out
    return copy.deepcopy(over)


def ruleset_data(rules: RuleSet) -> dict[str, Any]:
    """A RuleSet as plain JSON-able data (what a ruleset.updated event carries)."""
    return rules.model_dump(mode="json")


def effective_rules(
    default: RuleSet | dict[str, Any],
    override: dict[str, Any],
    source: str = "<rules>",
    prefix: str = "",
) -> RuleSet:
    """The rules a group runs under: its overrides deep-merged over the default."""
    base = ruleset_data(default) if isinstance(default, RuleSet) else default
    if not isinstance(override, dict):
        raise RulesError(source, [(None, prefix, "rule overrides must be a mapping")])
    return validate_rules(deep_merge(base, override), source, prefix)


# --------------------------------------------------------------------------- the default

DEFAULT_RULES: dict[str, Any] = {
    "language": "zh-CN",
    "timezone": "Asia/Shanghai",
    "ladder": {
        "expire_after": "30d",
        "steps": [
            {"action": "warn"},
            {"action": "warn"},
            {"action": "mute", "duration": "1h"},
            {"action": "mute", "duration": "24h"},
            {"action": "kick"},
        ],
    },
    "detectors": {
        "abuse-words": {
            "kind": "keywords",
            "category": "abuse",
            "keywords": [
                "傻逼",
                "煞笔",
                "操你妈",
                "草泥马",
                "脑残",
                "去死吧",
                "fuck you",
                "motherfucker",
                "asshole",
                "bitch",
                "retard",
            ],
        },
        "spam-words": {
            "kind": "keywords",
            "category": "ads",
            "keywords": ["代开发票", "刷单", "兼职日结", "网赚", "博彩", "赌博", "菠菜网", "裸聊"],
            "allow": ["禁止赌博", "反赌博", "拒绝赌博", "远离赌博"],
        },
        "illegal-goods": {
            "kind": "keywords",
            "category": "illegal",
            "serious": True,
            "keywords": ["卖枪", "出售枪支", "冰毒", "代孕", "办假证", "儿童色情", "child porn"],
        },
        "scam-patterns": {
            "kind": "regex",
            "category": "scam",
            "patterns": [
                "(usdt|btc|比特币|以太坊).{0,12}(翻倍|返利|稳赚|保本)",
                "free\\s*(nitro|robux|steam gift)",
                "(日赚|日入|月入)\\s*\\d{3,}",
            ],
        },
        "links": {"kind": "links", "category": "ads", "invites": True},
        "contacts": {"kind": "contacts", "category": "ads"},
        "mentions": {"kind": "mentions", "category": "disturbance", "max_mentions": 5},
        "new-members": {
            "kind": "new_members",
            "category": "new_member",
            "period": "24h",
            "block_links": True,
            "block_media": True,
            "flood_max": 3,
            "flood_window": "60s",
        },
        "repeat": {
            "kind": "repeat",
            "category": "spam",
            "times": 3,
            "window": "10m",
            "min_length": 6,
            "cross_group": True,
        },
        "flood": {"kind": "flood", "category": "disturbance", "max_messages": 8, "window": "10s"},
        "complaints": {
            "kind": "complaints",
            "category": "complaint",
            "reporters": 3,
            "window": "1h",
            "sanction": True,
            "escalate": True,
        },
    },
}


_DEFAULT: RuleSet | None = None


def default_ruleset() -> RuleSet:
    """The built-in default every group inherits (deploy/rules/default.yaml says the same)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = validate_rules(DEFAULT_RULES, "<built-in default>")
    return _DEFAULT


def effective_default(
    overrides: dict[str, Any] | None, source: str = "<rules>", prefix: str = ""
) -> RuleSet:
    """The default groups inherit: a rules file's `default:` overrides (as
    `load_ruleset_file` returns them) deep-merged over the built-in default; with none
    (or an empty mapping), the built-in default itself."""
    if not overrides:
        return default_ruleset()
    return effective_rules(default_ruleset(), overrides, source, prefix)

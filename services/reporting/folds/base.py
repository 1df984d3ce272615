"""What a fold produces: per-document deltas, merged in memory for one batch.

A fold never touches MongoDB. It records what should change in a `Batch`; the sink turns
each touched document into exactly one update, so a batch of thousands of events costs a
handful of writes (the write-efficiency target of the reporting issue).
"""

from __future__ import annotations

import builtins
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

DocKey = tuple[str, str]  # (collection, _id)
# (keys, options): `IndexModel(keys, **options)` or `collection.create_index(keys, **options)`
IndexSpec = tuple[list[tuple[str, int]], dict[str, Any]]

_KEY_ESCAPES = (("%", "%25"), (".", "%2E"), ("$", "%24"))


def field_key(value: str) -> str:
    """A data value (rule id, category) made safe as a field name: MongoDB reads '.' as a
    path and a leading '$' as an operator, so both are percent-escaped (reversibly)."""
    for raw, escaped in _KEY_ESCAPES:
        value = value.replace(raw, escaped)
    return value or "%00"


def unfield_key(key: str) -> str:
    """The value `field_key` escaped."""
    if key == "%00":
        return ""
    for raw, escaped in reversed(_KEY_ESCAPES):
        key = key.replace(escaped, raw)
    return key


@dataclass(slots=True)
class DocDelta:
    """Accumulated change to one document; field names are fixed by the fold, never user data."""

    inc: dict[str, float] = field(default_factory=lambda: defaultdict(int))
    set: dict[str, Any] = field(default_factory=dict)
    set_on_insert: dict[str, Any] = field(default_factory=dict)
    add_to_set: dict[str, builtins.set[Any]] = field(default_factory=lambda: defaultdict(set))
    max: dict[str, Any] = field(default_factory=dict)
    min: dict[str, Any] = field(default_factory=dict)
    push: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    # field -> (sort fields, keep at most (None: all), items): a sorted list in the document
    # ($push with $each/$sort[/$slice]), e.g. the spot-check sample of a day. Sorted in
    # the store, so the list is the same whatever order and batching delivered the items.
    push_sorted: dict[str, tuple[tuple[str, ...], int | None, list[dict[str, Any]]]] = field(
        default_factory=dict
    )

    def max_of(self, name: str, value: Any) -> None:
        """$max that keeps the larger value when several records of a batch touch `name`."""
        current = self.max.get(name)
        if current is None or value > current:
            self.max[name] = value

    def min_of(self, name: str, value: Any) -> None:
        """$min that keeps the smaller value when several records of a batch touch `name`."""
        current = self.min.get(name)
        if current is None or value < current:
            self.min[name] = value

    def push_sorted_slice(self, name: str, item: dict[str, Any], sort_by: str, limit: int) -> None:
        """Keep the `limit` items with the smallest `sort_by` in `name`.

        Trimmed here too, so a batch of thousands of candidates sends at most `limit`.
        """
        _, _, items = self.push_sorted.setdefault(name, ((sort_by,), limit, []))
        items.append(item)
        items.sort(key=lambda i: i[sort_by])
        del items[limit:]

    def push_sorted_all(self, name: str, item: Any, sort_by: tuple[str, ...] = ()) -> None:
        """Append to a list kept sorted by `sort_by` (by value for scalars, `()`), unbounded
        (the document's period bounds it), so its order never depends on the order or
        batching of the records folded: unlike $addToSet, whose order does."""
        self.push_sorted.setdefault(name, (sort_by, None, []))[2].append(item)

    def to_update(self) -> dict[str, Any]:
        update: dict[str, Any] = {}
        if self.inc:
            update["$inc"] = dict(self.inc)
        if self.set:
            update["$set"] = dict(self.set)
        if self.set_on_insert:
            update["$setOnInsert"] = dict(self.set_on_insert)
        if self.add_to_set:
            update["$addToSet"] = {k: {"$each": sorted(v)} for k, v in self.add_to_set.items()}
        if self.max:
            update["$max"] = dict(self.max)
        if self.min:
            update["$min"] = dict(self.min)
        if self.push:
            update["$push"] = {k: {"$each": v} for k, v in self.push.items()}
        if self.push_sorted:
            pushes = update.setdefault("$push", {})
            for k, (sort_by, limit, items) in self.push_sorted.items():
                spec: dict[str, Any] = (
                    {
                        "$each": sorted(items, key=lambda i: tuple(i[f] for f in sort_by)),
                        "$sort": {f: 1 for f in sort_by},
                    }
                    if sort_by
                    else {"$each": sorted(items), "$sort": 1}  # scalars, by value
                )
                if limit is not None:
                    spec["$slice"] = limit
                pushes[k] = spec
        return update


@dataclass(slots=True)
class Batch:
    """The merged effect of one batch of records on the projections."""

    docs: dict[DocKey, DocDelta] = field(default_factory=dict)
    # Documents inserted once and never changed (decisions, archived cases); the sink
    # inserts each only if its _id is absent.
    inserts: dict[DocKey, dict[str, Any]] = field(default_factory=dict)
    # Decision ids folded by this batch, per projection (the sink's dedup record).
    seen: dict[str, tuple[str, list[str]]] = field(default_factory=dict)

    def doc(self, collection: str, doc_id: str) -> DocDelta:
        key = (collection, doc_id)
        delta = self.docs.get(key)
        if delta is None:
            delta = self.docs[key] = DocDelta()
        return delta

    def insert(self, collection: str, document: dict[str, Any]) -> None:
        self.inserts.setdefault((collection, str(document["_id"])), document)

    def writes(self) -> int:
        return len(self.docs) + len(self.inserts)


@dataclass(frozen=True, slots=True)
class GroupContext:
    """What a fold needs to know about a group beyond the record: its clock and language."""

    group_key: str
    tz: ZoneInfo = ZoneInfo("UTC")  # noqa: RUF009 - immutable, shared on purpose
    language: str = "en"


class GroupDirectory:
    """Group contexts learned from `ruleset.updated` events (the stream is the record)."""

    def __init__(self) -> None:
        self._groups: dict[str, GroupContext] = {}

    def get(self, group_key: str) -> GroupContext:
        ctx = self._groups.get(group_key)
        if ctx is None:
            ctx = self._groups[group_key] = GroupContext(group_key)
        return ctx

    @staticmethod
    def context(
        group_key: str, tz: str | None, language: str | None, fallback: GroupContext
    ) -> GroupContext:
        """A context with this zone and language, the fallback's where one is missing or
        unknown (ZoneInfo caches zones, so this is cheap per record)."""
        try:
            zone = ZoneInfo(tz) if tz else fallback.tz
        except (KeyError, ValueError):
            zone = fallback.tz
        return GroupContext(group_key, zone, language or fallback.language)

    def learn(self, group_key: str, tz: str | None, language: str | None) -> GroupContext:
        ctx = self.context(group_key, tz, language, self.get(group_key))
        self._groups[group_key] = ctx
        return ctx

    def items(self) -> dict[str, GroupContext]:
        return dict(self._groups)

"""What reporting makes of a fixed input: every projection document, the audit verdict and
the user trails, as one JSON-ready value.

Speed work on reporting (the archive's chunks, the fast decode, folding only what a
rebuild needs) must not change what it computes. This module folds a fixed set of event
and decision records through the live sink (projections and archive) and dumps the
result; `tests/fixtures/reporting_before.json.gz` holds the dump the code before that
work made of the same records, and tests/integration/test_reporting_same_as_before.py
compares. It uses only interfaces both versions have, so the same file generated the
fixture from the earlier checkout:

    uv run python -m tools.reporting_golden --write tests/fixtures/reporting_before.json.gz
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka.partitioner import DefaultPartitioner

from services.audit.verify import verify_report
from services.moderation.engine import Engine, PartitionState
from services.reporting.archive_writer import ArchiveWriter
from services.reporting.generations import PROJECTIONS, ProjectionNames
from services.reporting.history import user_history
from services.reporting.sink import ProjectionSink
from shared.codec import decode_event, encode_decision, encode_event, event_from_dict
from shared.mongo import database, make_mongo
from shared.rules import default_ruleset
from shared.settings import Settings
from tools.simulator.community import simulate

PARTITIONS = 4
BATCH = 250
EVENTS = 2500


def make_input(events: int = EVENTS) -> dict[str, list[list[str]]]:
    """Event and decision records (key, value) per partition, as text."""
    engine, states = Engine(default_ruleset()), [PartitionState() for _ in range(PARTITIONS)]
    parts = list(range(PARTITIONS))
    out: dict[str, list[list[str]]] = {"events": [], "decisions": []}
    for raw in simulate(17, events, datetime(2026, 7, 1, tzinfo=UTC)):
        event = event_from_dict(raw)
        key = event.group_key.encode()
        p = DefaultPartitioner()(key, parts, parts)
        out["events"].append([str(p), encode_event(event).decode()])
        for d in engine.apply(states[p], event):
            out["decisions"].append([str(p), encode_decision(d).decode()])
    return out


def _plain(value: Any) -> Any:
    """JSON-ready, and blind to what differs by design between runs (ObjectIds)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k != "_id" or isinstance(v, str)}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)


async def fold_and_dump(settings: Settings, data: dict[str, list[list[str]]]) -> dict[str, Any]:
    mongo = make_mongo(settings)
    db = database(mongo, settings)
    try:
        names = ProjectionNames()
        archive = ArchiveWriter()
        await ArchiveWriter.ensure_indexes(db)
        sink = ProjectionSink(mongo, db, settings, names, archive=archive)
        await sink.ensure_indexes()
        await sink.load_directory()
        await archive.load_heads(db)
        for stream, topic in (
            ("events", settings.events_topic),
            ("decisions", settings.decisions_topic),
        ):
            for p in range(PARTITIONS):
                await sink.claim(topic, p)
                values = [v.encode() for part, v in data[stream] if int(part) == p]
                records = list(enumerate(values))
                for i in range(0, len(records), BATCH):
                    await sink.apply(topic, p, records[i : i + BATCH])
        projections: dict[str, Any] = {}
        for projection in PROJECTIONS:
            docs = [doc async for doc in db[names.physical(projection)].find({})]
            rows = sorted(json.dumps(_plain(d), sort_keys=True) for d in docs)
            projections[projection] = [json.loads(r) for r in rows]
        report = await verify_report(db)
        users: dict[str, int] = {}
        for _, value in data["decisions"]:
            d = json.loads(value)
            platform = d["group_key"].split(":", 1)[0]
            user = f"{platform}:{d['target_user_id']}"
            users[user] = users.get(user, 0) + 1
        most = sorted(users, key=lambda u: (-users[u], u))[:8]
        trails = {u: _plain(await user_history(db, u)) for u in most}
        return {
            "projections": projections,
            "verify": {"ok": report.ok, "chains": report.chains, "records": report.records},
            "trails": trails,
            "events": sum(1 for _ in data["events"]),
            "decisions": len(data["decisions"]),
            "first_event": decode_event(data["events"][0][1].encode()).event_id,
        }
    finally:
        await mongo.close()


def settings_for(kafka_bootstrap: str, mongo_url: str) -> Settings:
    tag = uuid.uuid4().hex[:8]
    return Settings(
        kafka_bootstrap=kafka_bootstrap,
        mongo_url=mongo_url,
        topic_prefix=f"golden{tag}.",
        mongo_db=f"golden_{tag}",
        partitions=PARTITIONS,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", type=Path, required=True)
    parser.add_argument("--input", type=Path, help="records from an earlier --write")
    args = parser.parse_args()
    from tools.embedded import EmbeddedStack

    stack = EmbeddedStack(Path(".modstream/golden"))
    stack.start()
    try:
        data = (
            json.loads(gzip.decompress(args.input.read_bytes()))["input"]
            if args.input
            else make_input()
        )
        dump = asyncio.run(
            fold_and_dump(settings_for(stack.kafka_bootstrap, stack.mongo_url), data)
        )
    finally:
        stack.stop()
    payload = json.dumps({"input": data, "output": dump}, sort_keys=True).encode()
    args.write.write_bytes(gzip.compress(payload, mtime=0))
    print(f"{args.write}: {dump['events']} events, {dump['decisions']} decisions")


if __name__ == "__main__":
    main()

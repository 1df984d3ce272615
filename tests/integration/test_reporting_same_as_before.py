"""Reporting computes what it computed before its speed work, for the same records.

tests/fixtures/reporting_before.json.gz holds 2,500 simulated events and the 176
decisions moderation made of them, and what the code before the archive chunks, the fast
decode and the projection-only rebuild made of them (tools/reporting_golden.py, run in
that checkout): every document of the seven projections, the audit verdict, and the
trails of the eight most sanctioned members. Folded here through today's live sink, the
same records must give the same documents, verdict and trails."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from tests.support.stack import Servers
from tools.reporting_golden import fold_and_dump

pytestmark = pytest.mark.integration

FIXTURE = Path(__file__).parent.parent / "fixtures" / "reporting_before.json.gz"


async def test_projections_verdict_and_trails_are_those_of_before(servers: Servers) -> None:
    golden = json.loads(gzip.decompress(FIXTURE.read_bytes()))
    before = golden["output"]
    now = json.loads(
        json.dumps(await fold_and_dump(servers.settings(partitions=4), golden["input"]))
    )
    assert now["verify"] == before["verify"] and now["verify"]["ok"]
    for projection, docs in before["projections"].items():
        assert docs, f"the fixture's {projection} projection is empty"
        assert now["projections"][projection] == docs, projection
    assert now["trails"] == before["trails"]
    assert sum(len(t["decisions"]) for t in before["trails"].values()) > 20

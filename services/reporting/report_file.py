"""`modstream report GROUP MONTH`: the same report the API serves, read straight from MongoDB."""

from __future__ import annotations

import re

from services.reporting.report_reads import monthly_report
from services.reporting.report_render import FORMATS, render
from shared.mongo import database, make_mongo
from shared.settings import Settings

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


async def write_report(settings: Settings, group_key: str, month: str, fmt: str) -> str:
    if not _MONTH.match(month):
        raise ValueError(f"month must look like 2026-09, got {month!r}")
    if fmt not in FORMATS:
        raise ValueError(f"format must be json, md, html or csv, got {fmt!r}")
    mongo = make_mongo(settings)
    try:
        report = await monthly_report(database(mongo, settings), group_key, month, settings)
    finally:
        await mongo.close()
    text, _media_type = render(report, fmt)
    return text

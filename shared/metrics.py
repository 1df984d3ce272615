"""Prometheus metrics: every name in one place (deploy/prometheus/alerts.yml reads them)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

INGEST_EVENTS = Counter(
    "modstream_ingest_requests",
    "Events seen by ingest, by platform and outcome (accepted, duplicate, ignored, rejected)",
    ["platform", "outcome", "reason"],
)
CONSUMER_LAG = Gauge(
    "modstream_consumer_lag", "Records behind the log end", ["service", "topic", "partition"]
)
CONSUMER_OFFSET = Gauge(
    "modstream_consumer_offset", "Next offset to process", ["service", "topic", "partition"]
)
EVENTS_PROCESSED = Counter(
    "modstream_events_processed", "Records processed by a consumer", ["service"]
)
DECISIONS = Counter("modstream_decisions", "Moderation decisions emitted", ["action"])
FOLD_BATCH_SIZE = Histogram(
    "modstream_fold_batch_size",
    "Records per reporting transaction",
    buckets=(1, 10, 50, 100, 500, 1000, 2000, 5000, 10000),
)
FOLD_BATCH_SECONDS = Histogram("modstream_fold_batch_seconds", "Seconds per reporting transaction")
FOLD_WRITES = Counter("modstream_fold_writes", "Document writes made by the reporting sink")
DEADLETTERS = Counter(
    "modstream_deadletter", "Records sent to the dead-letter topic", ["service", "reason"]
)
ENFORCEMENT_CALLS = Counter(
    "modstream_enforcement_calls",
    "Platform calls made by the enforcer, by step and result",
    ["platform", "step", "result"],
)
ENFORCEMENT_OUTCOMES = Counter(
    "modstream_enforcement_outcomes",
    "Decisions carried out (or recorded dry), by outcome",
    ["platform", "action", "outcome"],
)
ENFORCEMENT_RETRIES = Counter(
    "modstream_enforcement_retries",
    "Platform calls repeated after a transient answer",
    ["platform", "reason"],
)
ENFORCEMENT_SCHEDULED = Gauge(
    "modstream_enforcement_scheduled", "Scheduled lifts, renewals and reminders not yet due"
)
ENFORCEMENT_CALL_SECONDS = Histogram(
    "modstream_enforcement_call_seconds",
    "Seconds per platform call (one attempt)",
    ["platform"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


def render_metrics() -> tuple[bytes, str]:
    return generate_latest(), CONTENT_TYPE_LATEST

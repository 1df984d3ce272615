"""The one settings class: every knob of every service, read from `MODSTREAM_*`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MODSTREAM_", extra="ignore")

    # The settings every deployment names (README, configuration)
    kafka_bootstrap: str = "localhost:9092"
    mongo_url: str = "mongodb://localhost:27017"
    mongo_db: str = "modstream"
    topic_prefix: str = "modstream."
    partitions: int = 12
    ingest_port: int = 8080
    reporting_port: int = 8081
    tokens_file: Path | None = None
    log_level: str = "INFO"
    onebot_secret: SecretStr | None = None
    telegram_secret_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None

    # Extensions (internals of ours; documented in README's configuration table)
    http_host: str = "0.0.0.0"
    # consumers (moderation) serve /healthz, /readyz and /metrics here; they have no API port
    metrics_port: int = 9100
    # Tansu's memory engine refuses InitProducerId, so the embedded stack turns this off;
    # against Apache Kafka it stays on.
    kafka_idempotence: bool = True
    kafka_linger_ms: int = 5
    kafka_request_timeout_ms: int = 5000
    kafka_fetch_max_wait_ms: int = 10
    # Reporting's own: projections are not latency-bound, and a 10 ms wait kept its
    # fetcher polling the broker while a batch committed (0.15 of a core on Tansu).
    reporting_fetch_max_wait_ms: int = Field(default=100, ge=0, le=60_000)
    # Consumer groups are "<prefix>moderation" and "<prefix>reporting" (KEDA reads them).
    consumer_group_prefix: str = "modstream-"
    # per-bot / per-workspace secrets: "botid=secret,botid2=secret2"
    onebot_secrets: str = ""
    telegram_secret_tokens: str = ""
    slack_signing_secrets: str = ""
    max_body_bytes: int = 1_048_576
    max_batch_events: int = 5_000
    rate_limit_per_minute: int = 60_000
    complaint_sla_hours: float = 24.0
    spot_checks_per_day: int = 5
    default_rules_file: Path | None = None
    snapshot_every_events: int = 5_000
    snapshot_every_seconds: float = 5.0
    fold_max_batch: int = 5_000
    ingest_url: str = "http://127.0.0.1:8080"
    api_token: SecretStr | None = None
    # Bounded waits on the HTTP edges (shared/http_server.py): a client that trickles its
    # request, or a store that stops answering, must not hold a request or a connection.
    http_header_timeout_s: float = 10.0  # request headers complete within (else 408, closed)
    http_body_timeout_s: float = 10.0  # request body complete within (else 408, closed)
    http_max_connections: int = 1000  # open connections per server (above: 503 + Retry-After)
    store_timeout_s: float = 3.0  # an API request's wait for the store (else 503 + Retry-After)
    mongo_connect_timeout_ms: int = 3_000  # TCP connect + handshake; also the heartbeat's
    mongo_socket_timeout_ms: int = 30_000  # any one reply (the consumers' backstop)

    # Enforcement (services/enforcement): each platform's bot API base URL and credentials.
    # Several bots per platform: "bot_id=value,bot_id2=value2" (chosen per group by the
    # rule set's enforcement.bot). A platform without credentials runs its groups dry.
    onebot_api_url: str | None = None
    onebot_api_urls: str = ""
    onebot_access_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"
    telegram_bot_token: SecretStr | None = None
    telegram_bot_tokens: str = ""
    discord_api_url: str = "https://discord.com/api/v10"
    discord_bot_token: SecretStr | None = None
    discord_bot_tokens: str = ""
    slack_api_url: str = "https://slack.com/api"
    slack_bot_token: SecretStr | None = None
    slack_bot_tokens: str = ""
    # A workspace admin's user token (xoxp-): a Slack bot token deletes only its own posts.
    slack_user_token: SecretStr | None = None
    # The deployment-wide kill switch: every group runs dry_run whatever its rules say.
    enforcement_force_dry_run: bool = False
    enforcement_http_timeout_s: float = Field(default=10.0, gt=0)
    # Transient failures (429, 5xx, timeouts) are retried this often before `failed`.
    enforcement_max_attempts: int = Field(default=8, ge=1, le=100)
    enforcement_backoff_max_s: float = Field(default=60.0, gt=0)
    # Rate limits (429 with a retry-after) do not use up the attempts: a call waits them out
    # for up to this long in all before it is recorded `failed`.
    enforcement_rate_limit_budget_s: float = Field(default=240.0, gt=0)
    # Calls per second, shared by every replica of one bot (kept in the store): per chat
    # and per bot. Keys "<platform>.chat" / "<platform>.bot"; unset keys keep the defaults.
    enforcement_rates: dict[str, float] = Field(default_factory=dict)
    # Decisions of one partition batch carried out at once (groups in parallel, each
    # group's in order).
    enforcement_concurrency: int = Field(default=64, ge=1, le=10_000)
    # How often the scheduler looks for due lifts and renewals.
    enforcement_schedule_poll_s: float = Field(default=1.0, gt=0)

    @property
    def enforcement_group(self) -> str:
        return f"{self.consumer_group_prefix}enforcement"

    @property
    def moderation_group(self) -> str:
        return f"{self.consumer_group_prefix}moderation"

    @property
    def reporting_group(self) -> str:
        return f"{self.consumer_group_prefix}reporting"

    @property
    def events_topic(self) -> str:
        return f"{self.topic_prefix}events"

    @property
    def decisions_topic(self) -> str:
        return f"{self.topic_prefix}decisions"

    @property
    def deadletter_topic(self) -> str:
        return f"{self.topic_prefix}deadletter"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()

"""Settings, read once from the environment (prefix BUILDSTATE_) or a .env file."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Development-only defaults. Production refuses to start with them (see check_production).
DEV_SECRET_KEY = "dev-only-secret-key-change-me-0000000000000000"
DEV_ENCRYPTION_KEY = "dev-only-encryption-key-change-me-000000000000"
MIN_SECRET_LENGTH = 32


class Settings(BaseSettings):
    # hide_input_in_errors: a refused setting must not print the others (secrets among them).
    model_config = SettingsConfigDict(env_prefix="BUILDSTATE_", env_file=".env", extra="ignore",
                                      hide_input_in_errors=True)

    env: Literal["development", "production"] = "development"
    database_url: str = "sqlite://./buildstate.db"
    host: str = "127.0.0.1"
    port: int = 8080
    secret_key: str = DEV_SECRET_KEY
    encryption_key: str = DEV_ENCRYPTION_KEY
    jwt_ttl_seconds: int = Field(default=900, ge=30, le=86400)
    jwt_issuer: str = "buildstate"
    db_pool_min: int = Field(default=2, ge=1)
    db_pool_max: int = Field(default=20, ge=1)
    max_body_bytes: int = 1024 * 1024
    graphql_max_page_size: int = 100
    # Bounded database waits (PostgreSQL): a saturated pool answers 503 instead of queueing.
    db_acquire_timeout_seconds: float = Field(default=5.0, gt=0)
    db_statement_timeout_seconds: float = Field(default=30.0, ge=0)
    db_lock_timeout_seconds: float = Field(default=10.0, ge=0)
    # Rate limits: a token bucket per credential (per address when anonymous), in cost units.
    # A REST request costs `rate_limit_request_cost`; GraphQL pays that plus its node cost.
    # The buckets live in each process: with N API processes the effective limit is N times this.
    rate_limit_enabled: bool = True
    rate_limit_burst: int = Field(default=20_000, ge=1)
    rate_limit_per_second: float = Field(default=2_000.0, gt=0)
    rate_limit_anonymous_burst: int = Field(default=2_000, ge=1)
    rate_limit_anonymous_per_second: float = Field(default=200.0, gt=0)
    rate_limit_request_cost: int = Field(default=10, ge=0)
    # GraphQL limits, enforced before execution (schema/limits.py).
    graphql_max_depth: int = 10
    graphql_max_aliases: int = 15
    graphql_max_cost: int = 10_000
    # Idempotency-Key: answers are replayed for this long; a duplicate waits this long for the
    # first request's answer before it is told to retry.
    idempotency_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    idempotency_wait_seconds: float = Field(default=10.0, gt=0)

    # --- Orchestrator and webhooks (issue 4) ---
    # `embedded` runs the orchestrator and the webhook sender inside the API process.
    orchestrator: Literal["off", "embedded"] = "off"
    # CI platforms: URLs and credentials only ever come from here, never from a request body.
    jenkins_url: str | None = None
    jenkins_user: str | None = None
    jenkins_token: str | None = None
    concourse_url: str | None = None
    concourse_team: str = "main"
    concourse_token: str | None = None
    generic_trigger_url: str | None = None
    generic_trigger_secret: str | None = None
    # Used when neither the request nor the project names a platform; none = leave it to people.
    default_platform: str | None = None
    trigger_max_attempts: int = Field(default=3, ge=1, le=100)
    # Seconds before retry 1, 2, 3…; the last one doubles beyond the list. "60,300,900" or JSON.
    trigger_retry_delays: Annotated[tuple[float, ...], NoDecode] = (60.0, 300.0, 900.0)
    retry_jitter: float = Field(default=0.2, ge=0, le=1)
    trigger_timeout_seconds: float = Field(default=10.0, gt=0)
    # Per platform and per worker process: a token bucket of `burst` triggers refilled at this rate.
    trigger_rate_per_minute: float = Field(default=60.0, gt=0)
    trigger_rate_burst: int = Field(default=10, ge=1)
    orchestrator_lease_seconds: float = Field(default=120.0, gt=0)
    orchestrator_idle_seconds: float = Field(default=2.0, gt=0)
    orchestrator_batch: int = Field(default=20, ge=1, le=1000)
    job_poll_seconds: float = Field(default=15.0, gt=0)
    stall_timeout_seconds: float = Field(default=3600.0, gt=0)
    # Inbound /webhooks/*: HMAC-SHA256 with this shared secret; unset = inbound webhooks refused.
    webhook_inbound_secret: str | None = None
    webhook_tolerance_seconds: int = Field(default=300, ge=1)
    # Deliveries retry for about a day by default (the last delay repeats), then give up.
    webhook_max_attempts: int = Field(default=30, ge=1, le=1000)
    webhook_retry_delays: Annotated[tuple[float, ...], NoDecode] = (
        5.0, 30.0, 120.0, 600.0, 1800.0, 3600.0,
    )
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    webhook_idle_seconds: float = Field(default=1.0, gt=0)
    # Event ids can commit out of order on PostgreSQL: a gap is waited for this long.
    event_gap_seconds: float = Field(default=30.0, ge=0)

    # --- Lifecycle and observability (issue 5) ---
    # A token Prometheus may present as `Authorization: Bearer <token>` to scrape /metrics
    # without an API key (a read-scoped key or JWT works too). Unset: keys only.
    metrics_token: SecretStr | None = None
    log_format: Literal["json", "text"] = "json"
    log_level: str = "INFO"
    # How often a process that runs the periodic artifact cleanup (the API process when it
    # manages the database, and `python -m app.workers.orchestrator`) runs it; 0 = never (run
    # `python -m app.workers.cleanup` from cron instead). On PostgreSQL one run at a time holds
    # an advisory lock: the others skip that round.
    cleanup_interval_seconds: int = Field(default=3600, ge=0)
    cleanup_delete_from_storage: bool = False  # the periodic run also deletes the objects
    cleanup_batch_size: int = Field(default=500, ge=1, le=10_000)
    # The folder `local` artifacts live under (files elsewhere are never deleted); unset = off.
    storage_local_root: str | None = None
    # Where the `s3` backend sends its calls (credentials: the usual AWS variables or files).
    storage_s3_endpoint_url: str | None = None
    storage_s3_region: str | None = None
    # Subscriptions re-check their connection's credential this often: a revoked key or an
    # expired token ends them with an UNAUTHENTICATED error.
    subscription_auth_check_seconds: float = Field(default=5.0, gt=0)

    # --- Hardening (issue 7) ---
    # While the database is unavailable (restarting, saturated), a worker loop retries at
    # least this often, so that workers serve again within seconds of it coming back.
    worker_outage_backoff_seconds: float = Field(default=5.0, gt=0)

    @field_validator("trigger_retry_delays", "webhook_retry_delays", mode="before")
    @classmethod
    def _delays(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip().strip("[]")
            return tuple(float(part) for part in text.split(",") if part.strip())
        return value

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @model_validator(mode="after")
    def check_production(self) -> Settings:
        if self.is_production:
            for name in ("secret_key", "encryption_key"):
                value = getattr(self, name)
                if value in (DEV_SECRET_KEY, DEV_ENCRYPTION_KEY) or len(value) < MIN_SECRET_LENGTH:
                    raise ValueError(
                        f"BUILDSTATE_{name.upper()} must be set to a secret of at least "
                        f"{MIN_SECRET_LENGTH} characters in production"
                    )
            # Shared secrets that other systems sign or authenticate with: optional, but when
            # set they must not be guessable either.
            for name in ("webhook_inbound_secret", "generic_trigger_secret", "metrics_token"):
                value = getattr(self, name)
                if isinstance(value, SecretStr):
                    value = value.get_secret_value()
                if value is not None and len(value) < MIN_SECRET_LENGTH:
                    raise ValueError(
                        f"BUILDSTATE_{name.upper()}, when set, must be at least "
                        f"{MIN_SECRET_LENGTH} characters in production"
                    )
        return self

    # --- Performance (issue 6) ---
    # Answer every HTTP request with `X-SQL-Statements: N` (statements it sent to PostgreSQL).
    count_sql: bool = False


@lru_cache
def get_settings() -> Settings:
    return Settings()

"""Settings of the lifecycle and observability parts (prefix BUILDSTATE_, like app.settings).

- BUILDSTATE_METRICS_TOKEN: a token Prometheus may present as `Authorization: Bearer <token>`
  to scrape /metrics without an API key (a read-scoped key or JWT works too). Unset: keys only.
- BUILDSTATE_LOG_FORMAT (json | text), BUILDSTATE_LOG_LEVEL.
- BUILDSTATE_CLEANUP_INTERVAL_SECONDS: how often the service process retires expired artifacts
  (0 = never; run `python -m app.workers.cleanup` from cron instead).
- BUILDSTATE_CLEANUP_DELETE_FROM_STORAGE: the periodic run also deletes the objects.
- BUILDSTATE_STORAGE_LOCAL_ROOT: the folder `local` artifacts live under; files elsewhere are
  never deleted. Unset: the local backend is off.
- BUILDSTATE_STORAGE_S3_ENDPOINT_URL / BUILDSTATE_STORAGE_S3_REGION: where the `s3` backend
  sends its calls (credentials come from the usual AWS variables or files).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ObservabilitySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BUILDSTATE_", env_file=".env", extra="ignore")

    metrics_token: SecretStr | None = None
    log_format: Literal["json", "text"] = "json"
    log_level: str = "INFO"
    cleanup_interval_seconds: int = Field(default=3600, ge=0)
    cleanup_delete_from_storage: bool = False
    cleanup_batch_size: int = Field(default=500, ge=1, le=10_000)
    storage_local_root: str | None = None
    storage_s3_endpoint_url: str | None = None
    storage_s3_region: str | None = None


@lru_cache
def get_observability_settings() -> ObservabilitySettings:
    return ObservabilitySettings()

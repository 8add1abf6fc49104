"""Settings, read once from the environment (prefix BUILDSTATE_) or a .env file."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Development-only defaults. Production refuses to start with them (see check_production).
DEV_SECRET_KEY = "dev-only-secret-key-change-me-0000000000000000"
DEV_ENCRYPTION_KEY = "dev-only-encryption-key-change-me-000000000000"
MIN_SECRET_LENGTH = 32


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BUILDSTATE_", env_file=".env", extra="ignore")

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
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()

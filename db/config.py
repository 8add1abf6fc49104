"""Tortoise configuration built from a database URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from tortoise.backends.base.config_generator import expand_db_url

MIGRATIONS_ROOT = Path(__file__).parent / "migrations"
MODEL_MODULES = ["db.models", "aerich.models"]


def normalize_url(url: str, *, pool_min: int = 2, pool_max: int = 20) -> str:
    """Accept postgres://, postgresql:// and sqlite:// URLs; add pool bounds for PostgreSQL."""
    if url.startswith("postgresql://"):
        url = "postgres://" + url[len("postgresql://") :]
    if url.startswith("postgres://"):
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        query.setdefault("minsize", str(pool_min))
        query.setdefault("maxsize", str(pool_max))
        url = urlunsplit(parts._replace(query=urlencode(query)))
    return url


def dialect_of(url: str) -> str:
    if url.startswith(("postgres://", "postgresql://")):
        return "postgres"
    if url.startswith("sqlite://"):
        return "sqlite"
    raise ValueError(f"unsupported database URL scheme: {url.split(':', 1)[0]}")


def tortoise_config(
    url: str, *, pool_min: int = 2, pool_max: int = 20, timeouts: dict[str, float] | None = None
) -> dict[str, Any]:
    """`timeouts` (acquire_timeout, statement_timeout, lock_timeout, in seconds) selects the
    bounded PostgreSQL client of `db.pool`; without it (migrations) Tortoise's own is used."""
    connection: str | dict[str, Any] = normalize_url(url, pool_min=pool_min, pool_max=pool_max)
    if timeouts is not None and dialect_of(url) == "postgres":
        expanded = expand_db_url(str(connection))
        connection = {
            "engine": "db.pool",
            "credentials": {**expanded["credentials"], **timeouts},
        }
    return {
        "connections": {"default": connection},
        "apps": {"models": {"models": MODEL_MODULES, "default_connection": "default"}},
        "use_tz": True,
        "timezone": "UTC",
    }


def migrations_location(url: str) -> str:
    return str(MIGRATIONS_ROOT / dialect_of(url))

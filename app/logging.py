"""Structured logs: one JSON object per line, with the request id and the actor, never a secret.

`configure_logging()` (called by the service at start-up) routes the root logger and uvicorn's
loggers through one handler whose filters add the request context and scrub credentials:
API keys, bearer tokens and JWTs, and any `key`/`token`/`secret`/`password`/`authorization`
value in a message or in structured fields. uvicorn's own access line is replaced by
`buildstate.access`, which logs the route template and never the query string.
"""

from __future__ import annotations

import json
import logging
import logging.config
import re
import time
from contextvars import ContextVar, Token
from datetime import datetime, timezone
from typing import Any

from starlette.types import Scope

MASK = "***"
_scope: ContextVar[Scope | None] = ContextVar("buildstate_log_scope", default=None)
access_log = logging.getLogger("buildstate.access")

_SECRET_NAMES = r"x-api-key|api[_-]?key|authorization|access[_-]?token|token|secret|password|passwd"
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # "Authorization: Bearer abc", "x-api-key=abc", '"token": "abc"', "secret='abc'"
    (re.compile(rf"(?i)(\b(?:{_SECRET_NAMES})\b[\"']?\s*[:=]\s*[\"']?)(?:bearer\s+|basic\s+)?[^\s\"',;}}&)]+"),
     rf"\1{MASK}"),
    # header tuples as ASGI prints them: (b'x-api-key', b'abc')
    (re.compile(r"(?i)((?:x-api-key|authorization)['\"]\s*,\s*b?['\"])[^'\"]+"), rf"\1{MASK}"),
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+"), f"Bearer {MASK}"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), MASK),
    (re.compile(r"\bbs_[A-Za-z0-9_-]{16,}"), f"bs_{MASK}"),
]
_SECRET_KEY = re.compile(rf"(?i)({_SECRET_NAMES}|^key$|^plain$)")
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "color_message"}


def scrub(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def scrub_value(name: str, value: Any) -> Any:
    if _SECRET_KEY.search(name) and value not in (None, "", [], {}):
        return MASK
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: scrub_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_value(name, v) for v in value]
    return value


class ScrubSecrets(logging.Filter):
    """Rewrites the message and structured fields of every record with secrets masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: log it as it is, scrubbed
            message = str(record.msg)
        record.msg, record.args = scrub(message), None
        for name in list(vars(record)):
            if name not in _STANDARD and name not in ("request_id", "actor"):
                setattr(record, name, scrub_value(name, getattr(record, name)))
        if record.exc_info and not record.exc_text:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = scrub(record.exc_text)
        return True


class RequestContext(logging.Filter):
    """Adds `request_id` and `actor` of the request being served (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        scope = _scope.get()
        if not hasattr(record, "request_id"):
            record.request_id = (scope or {}).get("state", {}).get("request_id") if scope else None
        if not hasattr(record, "actor"):
            actor = getattr((scope or {}).get("user"), "actor", None) if scope else None
            record.actor = actor.name if actor is not None else None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "actor": getattr(record, "actor", None),
        }
        for name, value in vars(record).items():
            if name not in _STANDARD and name not in entry:
                entry[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = scrub(self.formatException(record.exc_info))
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s %(actor)s] %(message)s")


def log_config(level: str = "INFO", fmt: str = "json") -> dict[str, Any]:
    """A logging.config dict (also usable as uvicorn's --log-config after json.dump)."""
    handler = {
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
        "formatter": fmt,
        "filters": ["context", "scrub"],
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "context": {"()": "app.logging.RequestContext"},
            "scrub": {"()": "app.logging.ScrubSecrets"},
        },
        "formatters": {
            "json": {"()": "app.logging.JsonFormatter"},
            "text": {"()": "app.logging.TextFormatter"},
        },
        "handlers": {"default": handler},
        "root": {"handlers": ["default"], "level": level.upper()},
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": level.upper(), "propagate": False},
            "uvicorn.error": {"handlers": ["default"], "level": level.upper(), "propagate": False},
            # Replaced by buildstate.access (route template, actor, request id; no query string).
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "tortoise": {"level": "WARNING"},
            "aiosqlite": {"level": "WARNING"},
        },
    }


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    logging.config.dictConfig(log_config(level, fmt))


def enter_request(scope: Scope) -> Token[Scope | None]:
    """Makes the request's scope visible to log records (app/middleware.py's EdgeMiddleware)."""
    return _scope.set(scope)


def leave_request(scope: Scope, token: Token[Scope | None], status: int, started: float) -> None:
    """Writes the access line of an HTTP request (route template, never the query string)."""
    try:
        # The level checked first (logging caches the answer): below INFO, as in production
        # benchmarks, no record would be made, so neither are its fields.
        if scope["type"] == "http" and access_log.isEnabledFor(logging.INFO):
            route = scope.get("route")
            access_log.info(
                "%s %s %s", scope["method"], scope["path"], status,
                extra={
                    "method": scope["method"], "path": scope["path"], "status": status,
                    "route": getattr(route, "path_format", None) or getattr(route, "path", None),
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
    finally:
        _scope.reset(token)

"""Errors the CLI reports, their exit codes, and one-line rendering of the service's answers."""

from __future__ import annotations

import json
from typing import Any

EXIT_OK = 0
EXIT_SERVICE = 1  # the service answered and said no
EXIT_USAGE = 2  # the command line was wrong
EXIT_UNREACHABLE = 3  # the service could not be reached (after retries)

_REDACTED = "***"
# Secrets registered here are scrubbed from every message the CLI prints.
_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a secret (the API key) so that no message ever prints it."""
    if value and len(value.strip()) >= 4:
        _secrets.add(value)
        _secrets.add(value.strip())


def redact(text: str) -> str:
    for secret in sorted(_secrets, key=len, reverse=True):
        text = text.replace(secret, _REDACTED)
    return text


def one_line(text: str) -> str:
    """Collapse whitespace so that a message is always exactly one line."""
    return " ".join(str(text).split())


class CliError(Exception):
    """An error the user sees as one line on stderr, with an exit code a script can branch on."""

    exit_code = EXIT_SERVICE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def render(self) -> str:
        return one_line(redact(self.message))


class ServiceError(CliError):
    """The service answered with an error (4xx, 500, a GraphQL error, or an unwanted outcome)."""

    exit_code = EXIT_SERVICE

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    def render(self) -> str:
        text = self.message if self.status is None else f"{self.message} (HTTP {self.status})"
        return one_line(redact(text))


class UsageError(CliError):
    exit_code = EXIT_USAGE


class UnreachableError(CliError):
    exit_code = EXIT_UNREACHABLE


def _loc(loc: Any) -> str:
    parts = [str(p) for p in (loc if isinstance(loc, (list, tuple)) else [loc])]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts)


def render_detail(detail: Any) -> str:
    """Turn a FastAPI `detail` (string, validation list, or object) into one readable line."""
    if detail is None:
        return ""
    if isinstance(detail, str):
        return one_line(detail)
    if isinstance(detail, list):
        items = []
        for item in detail:
            if isinstance(item, dict) and "msg" in item:
                where = _loc(item.get("loc", []))
                items.append(f"{where}: {item['msg']}" if where else str(item["msg"]))
            else:
                items.append(render_detail(item))
        return one_line("; ".join(i for i in items if i))
    if isinstance(detail, dict):
        head = detail.get("message") or detail.get("msg") or detail.get("detail")
        rest = []
        for key, value in detail.items():
            if key in ("message", "msg", "detail") or value in (None, [], {}, ""):
                continue
            shown = ", ".join(map(str, value)) if isinstance(value, list) else value
            if isinstance(shown, dict):
                shown = json.dumps(shown, sort_keys=True)
            rest.append(f"{key}: {shown}")
        text = render_detail(head) if head is not None else ""
        if rest:
            text = f"{text} ({'; '.join(rest)})" if text else "; ".join(rest)
        return one_line(text)
    return one_line(str(detail))


def render_graphql_errors(errors: list[Any]) -> str:
    messages = []
    for err in errors:
        if isinstance(err, dict):
            messages.append(str(err.get("message", err)))
        else:
            messages.append(str(err))
    return one_line("; ".join(messages)) or "GraphQL error"

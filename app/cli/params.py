"""Parsing of command-line values: KEY=VALUE pairs, JSON objects, comma lists, timestamps."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from app.cli.errors import UsageError


def parse_pair(text: str) -> tuple[str, str]:
    """`KEY=VALUE` -> (KEY, VALUE). The value may be empty and may contain `=`; the key may not be empty."""
    key, sep, value = text.partition("=")
    if not sep:
        raise UsageError(f"malformed KEY=VALUE {text!r}: no '=' in it")
    if not key.strip():
        raise UsageError(f"malformed KEY=VALUE {text!r}: the key is empty")
    if key != key.strip() or any(c.isspace() for c in key):
        raise UsageError(f"malformed KEY=VALUE {text!r}: the key contains whitespace")
    return key, value


def parse_pairs(items: list[str] | None) -> dict[str, str]:
    """Every pair is checked before anything is sent; a key given twice is an error."""
    result: dict[str, str] = {}
    for item in items or []:
        key, value = parse_pair(item)
        if key in result:
            raise UsageError(f"key {key!r} is given more than once")
        result[key] = value
    return result


def parse_json_object(text: str | None, option: str = "--metadata") -> dict[str, Any] | None:
    """A JSON object given inline, or `@path` to read it from a file (`@-` is not supported)."""
    if text is None:
        return None
    source = text
    if text.startswith("@"):
        try:
            source = Path(text[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"{option}: cannot read {text[1:]}: {exc.strerror}") from None
    try:
        value = json.loads(source)
    except ValueError as exc:
        raise UsageError(f"{option} is not valid JSON: {exc.msg} at position {exc.pos}") from None
    if not isinstance(value, dict):
        raise UsageError(f"{option} must be a JSON object, like '{{\"vm_id\": \"i-abc\"}}'")
    return value


def split_list(text: str | None) -> list[str] | None:
    """`a,b, c` -> ['a', 'b', 'c']; an empty string gives an empty list."""
    if text is None:
        return None
    return [part.strip() for part in text.split(",") if part.strip()]


def parse_timestamp(text: str | None, option: str) -> str | None:
    """Check an ISO-8601 timestamp (e.g. 2026-12-31T00:00:00Z) and pass it on unchanged."""
    if text is None:
        return None
    try:
        datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option} must be an ISO-8601 timestamp like 2026-12-31T00:00:00Z (got {text!r})") from None
    return text

"""Where bldst's settings come from: flags, then BLDST_* variables, then the config file.

The config file is `$BLDST_CONFIG`, else `$XDG_CONFIG_HOME/bldst/config.toml` (default
`~/.config/bldst/config.toml`; a `config.json` beside it is used when no TOML file exists).
A path ending in `.json` is read and written as JSON, anything else as TOML. The file is written
with mode 0600 because it may hold the API key.
"""

from __future__ import annotations

import json
import os
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

from app.cli.errors import UsageError, register_secret

DEFAULT_API_URL = "http://127.0.0.1:8080"
CONFIG_KEYS = {
    "api_url": "base URL of the buildstate service",
    "api_key": "API key sent as X-API-Key (stored with 0600 permissions, never printed)",
    "output": "default output format: table, json or yaml",
}
OUTPUT_FORMATS = ("table", "json", "yaml")


def config_path() -> Path:
    explicit = os.environ.get("BLDST_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    folder = Path(base).expanduser() / "bldst"
    toml_path = folder / "config.toml"
    json_path = folder / "config.json"
    if not toml_path.exists() and json_path.exists():
        return json_path
    return toml_path


def _is_json(path: Path) -> bool:
    return path.suffix.lower() == ".json"


def load_config(path: Path | None = None) -> dict[str, str]:
    path = path or config_path()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise UsageError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        data = json.loads(raw) if _is_json(path) else tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        # The message of a parse error may quote file content (the key): keep it out.
        raise UsageError(f"config file {path} is not valid {'JSON' if _is_json(path) else 'TOML'}") from exc
    if not isinstance(data, dict):
        raise UsageError(f"config file {path} must hold a table of settings")
    return {str(k): str(v) for k, v in data.items() if v is not None}


def _toml_dumps(data: dict[str, str]) -> str:
    # JSON string escapes are a subset of TOML basic-string escapes.
    lines = ["# bldst configuration (written by `bldst config set`)"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in sorted(data.items())]
    return "\n".join(lines) + "\n"


def save_config(data: dict[str, str], path: Path | None = None) -> Path:
    """Write the settings atomically with mode 0600 (directory 0700 when created)."""
    path = path or config_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    text = json.dumps(data, indent=2, sort_keys=True) + "\n" if _is_json(path) else _toml_dumps(data)
    fd, tmp = tempfile.mkstemp(prefix=".bldst-", dir=path.parent)  # mkstemp creates 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def validate_setting(key: str, value: str) -> str:
    if key not in CONFIG_KEYS:
        raise UsageError(f"unknown setting {key!r}; known settings: {', '.join(CONFIG_KEYS)}")
    if key == "api_url":
        return validate_api_url(value)
    if key == "output" and value not in OUTPUT_FORMATS:
        raise UsageError(f"output must be one of {', '.join(OUTPUT_FORMATS)}")
    return value


def validate_api_url(url: str) -> str:
    url = url.strip()
    if not url.startswith(("http://", "https://")) or len(url) <= len("https://"):
        raise UsageError(f"API URL must start with http:// or https:// (got {url!r})")
    return url.rstrip("/")


def validate_api_key(key: str | None) -> str | None:
    """Strip the whitespace a key read from a file brings along; refuse what a header cannot carry.

    Never puts the key itself in a message.
    """
    if key is None:
        return None
    register_secret(key)
    key = key.strip()
    register_secret(key)
    if not key:
        return None
    if not all(33 <= ord(ch) <= 126 for ch in key):
        raise UsageError("the API key contains spaces, control or non-ASCII characters; check how it was set")
    return key


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value in (None, ""):
        return default
    try:
        number = float(value)
    except ValueError:
        raise UsageError(f"{name} must be a number (got {value!r})") from None
    if number < 0:
        raise UsageError(f"{name} must not be negative")
    return number


@dataclass(frozen=True)
class Settings:
    api_url: str
    api_key: str | None
    output: str | None  # None: table on a terminal, JSON otherwise
    timeout: float
    retries: int
    backoff: float


def resolve(
    *, api_url: str | None = None, api_key: str | None = None, output: str | None = None
) -> Settings:
    """Flags beat BLDST_API_URL/BLDST_API_KEY/BLDST_OUTPUT, which beat the config file."""
    file_settings: dict[str, str] | None = None

    def from_file(key: str) -> str | None:
        nonlocal file_settings
        if file_settings is None:
            file_settings = load_config()
        return file_settings.get(key) or None

    url = api_url or os.environ.get("BLDST_API_URL") or from_file("api_url") or DEFAULT_API_URL
    key = api_key or os.environ.get("BLDST_API_KEY") or from_file("api_key")
    key = validate_api_key(key)
    fmt = output
    if fmt is None:
        fmt = os.environ.get("BLDST_OUTPUT") or from_file("output")
        if fmt is not None and fmt not in OUTPUT_FORMATS:
            raise UsageError(f"default output must be one of {', '.join(OUTPUT_FORMATS)} (got {fmt!r})")
    return Settings(
        api_url=validate_api_url(url),
        api_key=key,
        output=fmt,
        timeout=_env_float("BLDST_TIMEOUT", 30.0),
        retries=int(_env_float("BLDST_RETRIES", 3)),
        backoff=_env_float("BLDST_BACKOFF", 0.5),
    )

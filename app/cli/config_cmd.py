"""`bldst config`: the settings file (api_url, api_key, output), written with mode 0600."""

from __future__ import annotations

import getpass
import sys
from typing import Annotated, Optional

import typer

from app.cli import config, output
from app.cli.common import Output
from app.cli.errors import UsageError

app = typer.Typer(
    help="Read and write the settings file.\n\nSettings file ($BLDST_CONFIG, else ~/.config/bldst/config.toml). Flags and BLDST_* variables override it.",
    no_args_is_help=True,
)

KEYS_HELP = "Setting: " + ", ".join(config.CONFIG_KEYS) + "."
Key = Annotated[str, typer.Argument(help=KEYS_HELP, show_default=False, metavar="KEY")]
MASK = "********"


def _shown(key: str, value: str) -> str:
    return MASK if key == "api_key" else value


@app.command("set")
def set_(
    key: Key,
    value: Annotated[Optional[str], typer.Argument(help="Value; omit it to read it from stdin (hidden prompt on a terminal), which keeps a key out of shell history.", show_default=False)] = None,
) -> None:
    """Store a setting in the config file (mode 0600)."""
    if key not in config.CONFIG_KEYS:
        raise UsageError(f"unknown setting {key!r}; known settings: {', '.join(config.CONFIG_KEYS)}")
    if value is None:
        value = getpass.getpass(f"{key}: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\r\n")
    if not value:
        raise UsageError(f"no value given for {key}")
    value = config.validate_setting(key, value)
    data = config.load_config()
    data[key] = value
    path = config.save_config(data)
    print(f"{key} set in {path}", file=sys.stderr)


@app.command("get")
def get(key: Key) -> None:
    """Print a setting from the config file (the API key is shown masked)."""
    if key not in config.CONFIG_KEYS:
        raise UsageError(f"unknown setting {key!r}; known settings: {', '.join(config.CONFIG_KEYS)}")
    value = config.load_config().get(key)
    if value is None:
        raise UsageError(f"{key} is not set in {config.config_path()}")
    print(_shown(key, value))


@app.command("unset")
def unset(key: Key) -> None:
    """Remove a setting from the config file."""
    data = config.load_config()
    if data.pop(key, None) is None:
        raise UsageError(f"{key} is not set in {config.config_path()}")
    path = config.save_config(data)
    print(f"{key} removed from {path}", file=sys.stderr)


@app.command("list")
def list_settings(
    fmt: Annotated[Optional[Output], typer.Option("--output", "-o", help="Output format [default: table on a terminal, json when piped].", show_default=False)] = None,
) -> None:
    """Show the config file's settings (the API key masked)."""
    data = {key: _shown(key, value) for key, value in sorted(config.load_config().items())}
    output.emit(data, output.default_format(fmt.value if fmt else None))


@app.command("path")
def path() -> None:
    """Print the config file's path."""
    print(config.config_path())

"""Printing results: table (rich, colour only on a terminal), JSON, YAML, and shell `env` lines."""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # rich and yaml are imported when a table or YAML is printed
    from rich.console import Console
    from rich.table import Table

FORMATS = ("table", "json", "yaml", "env")
PIPED_WIDTH = 1000


def default_format(configured: str | None) -> str:
    """The configured default, else a table on a terminal and JSON when piped."""
    if configured:
        return configured
    return "table" if sys.stdout.isatty() else "json"


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"


def to_yaml(data: Any) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str) if value else ""
    return str(value)


def _console() -> Console:
    from rich.console import Console

    # rich decides on colour by itself: none when stdout is not a terminal, none with NO_COLOR.
    # A terminal (or $COLUMNS) sets the width; piped tables are as wide as their content.
    width = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else PIPED_WIDTH
    return Console(soft_wrap=False, highlight=False, width=width)


def list_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None, title: str | None = None) -> Table:
    from rich.table import Table

    if columns is None:
        columns = []
        for row in rows:
            for key, value in row.items():
                if key not in columns and not isinstance(value, (dict, list)):
                    columns.append(key)
    table = Table(title=title, header_style="bold", title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(cell(row.get(column)) for column in columns))
    return table


def object_table(obj: Mapping[str, Any], title: str | None = None) -> Table:
    from rich.table import Table

    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in obj.items():
        table.add_row(key, cell(value))
    return table


def print_tables(*tables: Table) -> None:
    console = _console()
    for table in tables:
        console.print(table)


def emit(data: Any, fmt: str, *, columns: Sequence[str] | None = None, title: str | None = None) -> None:
    """Print `data` (a JSON-like object or list) in the chosen format on stdout."""
    if fmt == "json":
        sys.stdout.write(to_json(data))
    elif fmt == "yaml":
        sys.stdout.write(to_yaml(data))
    elif isinstance(data, list):
        if not data:
            sys.stdout.write("(none)\n")
        else:
            print_tables(list_table(data, columns, title))
    elif isinstance(data, Mapping):
        print_tables(object_table(data, title))
    else:
        sys.stdout.write(f"{cell(data)}\n")


# -- env: lines a POSIX shell can eval ------------------------------------------------------------


def env_name(text: str) -> str:
    """Upper-case a name and replace everything but ASCII letters and digits with `_`."""
    return re.sub(r"[^A-Z0-9]", "_", str(text).upper())


def env_value(value: Any) -> str:
    if value is None:
        text = ""
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (dict, list)):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    else:
        text = str(value)
    return shlex.quote(text)


def env_lines(pairs: Iterable[tuple[str, Any]], *, export: bool = False) -> list[str]:
    prefix = "export " if export else ""
    return [f"{prefix}{name}={env_value(value)}" for name, value in pairs]


def context_env_pairs(context: Mapping[str, Any]) -> tuple[list[tuple[str, Any]], list[str]]:
    """Variables for a resume context; also returns warnings about names that collided."""
    pairs: list[tuple[str, Any]] = [
        ("BLDST_BUILD_ID", context.get("build_id")),
        ("BLDST_RESUME_FROM_STATE", context.get("resume_from_state")),
        ("BLDST_CURRENT_STATE", context.get("current_state")),
        ("BLDST_LAST_SUCCESSFUL_STATE", context.get("last_successful_state")),
        ("BLDST_FAILED_STATE", context.get("failed_state")),
        ("BLDST_CAN_RESUME", bool(context.get("can_resume"))),
        ("BLDST_MISSING_ARTIFACTS", ",".join(map(str, context.get("missing_artifacts") or []))),
        ("BLDST_MISSING_VARIABLES", ",".join(map(str, context.get("missing_variables") or []))),
        ("BLDST_BLOCKERS", "; ".join(map(str, context.get("blockers") or []))),
    ]
    config = context.get("resumable_state_config") or {}
    pairs += [
        ("BLDST_RESUME_STRATEGY", config.get("resume_strategy")),
        ("BLDST_RESUME_COMMAND", config.get("resume_command")),
    ]
    taken = {name for name, _ in pairs}
    warnings: list[str] = []

    def add(name: str, value: Any, origin: str) -> None:
        if name in taken:
            warnings.append(f"{origin} would set {name} again; skipped")
            return
        taken.add(name)
        pairs.append((name, value))

    for key, value in sorted((context.get("variables") or {}).items()):
        add(f"BLDST_VAR_{env_name(key)}", value, f"variable {key!r}")
    for artifact in context.get("artifacts") or []:
        name = env_name(artifact.get("artifact_name", ""))
        add(f"BLDST_ARTIFACT_{name}_PATH", artifact.get("artifact_path"), f"artifact {artifact.get('artifact_name')!r}")
        add(f"BLDST_ARTIFACT_{name}_TYPE", artifact.get("artifact_type"), f"artifact {artifact.get('artifact_name')!r}")
    return pairs, warnings

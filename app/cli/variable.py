"""`bldst variable`: what a build learned (VM ids, network ids, ...), needed to resume it."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Optional

import typer

from app.cli.common import command, drop_none, q, session
from app.cli.errors import ServiceError
from app.cli.params import parse_pairs

app = typer.Typer(help="Set and read a build's key/value context.\n\nVariables: key/value context a build recorded (set is an upsert).", no_args_is_help=True)

COLUMNS = ["variable_key", "variable_value", "variable_type", "set_at_state", "is_sensitive", "is_required_for_resume", "updated_at"]

BuildId = Annotated[str, typer.Argument(help="Build id (UUID).", show_default=False, metavar="BUILD")]
Key = Annotated[str, typer.Argument(help="Variable key.", show_default=False, metavar="KEY")]
Reveal = Annotated[bool, typer.Option("--reveal", help="Show sensitive values in clear (admin key; the read is audited).")]


class VariableType(str, Enum):
    string = "string"
    json = "json"
    encrypted = "encrypted"


@command(app, "set")
def set_variables(
    build_id: BuildId,
    pairs: Annotated[list[str], typer.Argument(help="One or more KEY=VALUE (the value may be empty or contain '=').", show_default=False, metavar="KEY=VALUE")],
    state: Annotated[Optional[int], typer.Option("--state", help="State code at which it was learned.")] = None,
    required_for_resume: Annotated[
        Optional[bool],
        typer.Option("--required-for-resume/--not-required-for-resume", help="A resume needs it [kept as it was when not given].", show_default=False),
    ] = None,
    sensitive: Annotated[
        Optional[bool],
        typer.Option("--sensitive/--not-sensitive", help="Encrypt at rest and mask it [kept as it was when not given].", show_default=False),
    ] = None,
    variable_type: Annotated[Optional[VariableType], typer.Option("--type", help="Value type [service default: string].")] = None,
) -> None:
    """Set (create or replace) variables, one request per KEY=VALUE.

    Prints the variable, or a list of them when several are given. All pairs are checked
    before anything is sent.
    """
    values = parse_pairs(pairs)
    s = session()
    results = []
    for key, value in values.items():
        body = drop_none(
            variable_key=key, variable_value=value, variable_type=variable_type.value if variable_type else None,
            set_at_state=state, is_sensitive=sensitive, is_required_for_resume=required_for_resume,
        )
        try:
            results.append(s.client.post(f"/builds/{q(build_id)}/variables", body))
        except ServiceError as exc:
            done = f"; already set: {', '.join(list(values)[: len(results)])}" if results else ""
            raise ServiceError(f"variable {key!r}: {exc.message}{done}", exc.status) from None
    s.emit(results[0] if len(results) == 1 else results, COLUMNS)


@command(app, "list")
def list_variables(build_id: BuildId, reveal: Reveal = False) -> None:
    """List a build's variables (sensitive values masked unless --reveal)."""
    s = session()
    s.emit(s.client.get(f"/builds/{q(build_id)}/variables", reveal=reveal or None), COLUMNS)


@command(app, "get")
def get(build_id: BuildId, key: Key, reveal: Reveal = False) -> None:
    """Show one variable (a sensitive value masked unless --reveal)."""
    s = session()
    s.emit(s.client.get(f"/builds/{q(build_id)}/variables/{q(key)}", reveal=reveal or None))


@command(app, "delete")
def delete(build_id: BuildId, key: Key) -> None:
    """Delete a variable."""
    s = session()
    answer = s.client.delete(f"/builds/{q(build_id)}/variables/{q(key)}")
    s.emit(answer if isinstance(answer, dict) else {"variable_key": key, "deleted": True})

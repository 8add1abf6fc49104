"""`bldst state-code`: the numbered states of a project's builds."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from app.cli.common import command, drop_none, q, session

app = typer.Typer(
    help="Define a project's numbered build states.\n\nState codes: a project's numbered build states (ordered by code). Optional: without them any integer is accepted.",
    no_args_is_help=True,
)

COLUMNS = ["code", "name", "is_initial", "is_final", "is_error", "description"]
ProjectId = Annotated[str, typer.Argument(help="Project id.", show_default=False, metavar="PROJECT")]


@command(app, "create")
def create(
    project_id: ProjectId,
    code: Annotated[int, typer.Option("--code", help="State code (unique in the project).", show_default=False)],
    name: Annotated[str, typer.Option("--name", help="State name, e.g. install-packages.", show_default=False)],
    description: Annotated[Optional[str], typer.Option("--description", help="Free text.")] = None,
    initial: Annotated[bool, typer.Option("--initial", help="The state a build starts in.")] = False,
    final: Annotated[bool, typer.Option("--final", help="Completing this state completes the build.")] = False,
    error: Annotated[bool, typer.Option("--error", help="An error state.")] = False,
) -> None:
    """Define a state code for a project."""
    s = session()
    body = drop_none(code=code, name=name, description=description, is_initial=initial, is_final=final, is_error=error)
    s.emit(s.client.post(f"/projects/{q(project_id)}/state-codes", body))


@command(app, "list")
def list_codes(project_id: ProjectId) -> None:
    """List a project's state codes."""
    s = session()
    s.emit(s.client.get(f"/projects/{q(project_id)}/state-codes"), COLUMNS)

"""`bldst resumable-state`: per project and state, whether and how a build can resume there."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any, Optional

import typer

from app.cli.common import command, drop_none, q, session
from app.cli.errors import UsageError
from app.cli.params import split_list

app = typer.Typer(help="Configure where and how builds can resume.\n\nResumable-state configs: per project state, the resume strategy and what it requires.", no_args_is_help=True)

COLUMNS = ["state_code", "is_resumable", "resume_strategy", "required_artifacts", "required_variables", "resume_command", "resume_timeout_seconds"]

ProjectId = Annotated[str, typer.Argument(help="Project id.", show_default=False, metavar="PROJECT")]
StateArg = Annotated[int, typer.Argument(help="State code.", show_default=False, metavar="STATE")]


class Strategy(str, Enum):
    from_artifact = "from_artifact"
    rerun_state = "rerun_state"
    skip_to_next = "skip_to_next"


Resumable = Annotated[Optional[bool], typer.Option("--resumable/--not-resumable", help="Whether builds may resume at this state [service default: resumable].", show_default=False)]
StrategyOpt = Annotated[Optional[Strategy], typer.Option("--strategy", help="How to resume [service default: from_artifact].")]
RequiredArtifacts = Annotated[Optional[str], typer.Option("--required-artifacts", help="Comma-separated artifact names or types a resume needs.", metavar="A,B")]
RequiredVariables = Annotated[Optional[str], typer.Option("--required-variables", help="Comma-separated variable keys a resume needs.", metavar="X,Y")]
Command = Annotated[Optional[str], typer.Option("--command", help="Command the resume job runs.")]
Timeout = Annotated[Optional[int], typer.Option("--timeout", min=1, help="Resume timeout in seconds [service default: 3600].")]
Description = Annotated[Optional[str], typer.Option("--description", help="Free text.")]
Notes = Annotated[Optional[str], typer.Option("--notes", help="Free text for operators.")]


def _fields(resumable: Any, strategy: Any, required_artifacts: Any, required_variables: Any,
            command_: Any, timeout: Any, description: Any, notes: Any) -> dict[str, Any]:
    return drop_none(
        is_resumable=resumable, resume_strategy=strategy.value if strategy else None,
        required_artifacts=split_list(required_artifacts), required_variables=split_list(required_variables),
        resume_command=command_, resume_timeout_seconds=timeout, description=description, notes=notes,
    )


@command(app, "create")
def create(
    project_id: ProjectId,
    state: Annotated[int, typer.Option("--state", help="State code this config is for.", show_default=False)],
    resumable: Resumable = None,
    strategy: StrategyOpt = None,
    required_artifacts: RequiredArtifacts = None,
    required_variables: RequiredVariables = None,
    command_: Command = None,
    timeout: Timeout = None,
    description: Description = None,
    notes: Notes = None,
) -> None:
    """Define how builds of a project resume at a state."""
    body = {"state_code": state} | _fields(resumable, strategy, required_artifacts, required_variables, command_, timeout, description, notes)
    s = session()
    s.emit(s.client.post(f"/projects/{q(project_id)}/resumable-states", body))


@command(app, "list")
def list_states(project_id: ProjectId) -> None:
    """List a project's resumable-state configs."""
    s = session()
    s.emit(s.client.get(f"/projects/{q(project_id)}/resumable-states"), COLUMNS)


@command(app, "get")
def get(project_id: ProjectId, state: StateArg) -> None:
    """Show the config of one state."""
    s = session()
    s.emit(s.client.get(f"/projects/{q(project_id)}/resumable-states/{state}"))


@command(app, "update")
def update(
    project_id: ProjectId,
    state: StateArg,
    resumable: Resumable = None,
    strategy: StrategyOpt = None,
    required_artifacts: RequiredArtifacts = None,
    required_variables: RequiredVariables = None,
    command_: Command = None,
    timeout: Timeout = None,
    description: Description = None,
    notes: Notes = None,
) -> None:
    """Change a state's config; options not given keep their current values."""
    changes = _fields(resumable, strategy, required_artifacts, required_variables, command_, timeout, description, notes)
    if not changes:
        raise UsageError("nothing to change: give at least one option (see `bldst resumable-state update --help`)")
    s = session()
    # The service's PUT replaces only the fields it is given.
    s.emit(s.client.put(f"/projects/{q(project_id)}/resumable-states/{state}", changes))

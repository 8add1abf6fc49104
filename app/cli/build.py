"""`bldst build`: create builds, move them through states, record failures.

The resume commands of the same group live in build_resume.py.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Optional

import typer

from app.cli.common import command, drop_none, q, session
from app.cli.params import parse_json_object

app = typer.Typer(help="Create builds, record states and failures, resume.\n\nBuilds: create, inspect, move through states, record failures, resume.", no_args_is_help=True)

COLUMNS = [
    "id", "project_id", "build_number", "status", "current_state",
    "last_successful_state", "failed_state", "resume_count", "created_at",
]
STATE_COLUMNS = ["created_at", "state_code", "status", "message", "error_message", "error_code", "retryable"]

BuildId = Annotated[str, typer.Argument(help="Build id (UUID).", show_default=False, metavar="BUILD")]
Metadata = Annotated[Optional[str], typer.Option("--metadata", help="JSON object, or @FILE to read one.", metavar="JSON")]


class BuildStatus(str, Enum):
    pending = "pending"
    running = "running"
    failed = "failed"
    completed = "completed"
    cancelled = "cancelled"


class StateStatus(str, Enum):
    in_progress = "in_progress"
    completed = "completed"
    failed = "failed"


@command(app, "create")
def create(
    project_id: Annotated[str, typer.Option("--project-id", help="Project the build belongs to.", show_default=False)],
    build_number: Annotated[int, typer.Option("--build-number", help="The CI's build number.", show_default=False)],
    platform: Annotated[Optional[str], typer.Option("--platform", help="Label, e.g. aws.")] = None,
    os_version: Annotated[Optional[str], typer.Option("--os-version", help="Label, e.g. rhel9.")] = None,
    image_type: Annotated[Optional[str], typer.Option("--image-type", help="Label, e.g. ami.")] = None,
    metadata: Metadata = None,
) -> None:
    """Create a build (status pending)."""
    s = session()
    body = drop_none(
        project_id=project_id, build_number=build_number, platform=platform,
        os_version=os_version, image_type=image_type, metadata=parse_json_object(metadata),
    )
    s.emit(s.client.post("/builds", body))


@command(app, "get")
def get(build_id: BuildId) -> None:
    """Show one build."""
    s = session()
    s.emit(s.client.get(f"/builds/{q(build_id)}"))


@command(app, "list")
def list_builds(
    project_id: Annotated[Optional[str], typer.Option("--project-id", help="Only this project's builds.")] = None,
    status: Annotated[Optional[BuildStatus], typer.Option("--status", help="Only builds in this status.")] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="At most this many.")] = None,
    offset: Annotated[Optional[int], typer.Option("--offset", min=0, help="Skip this many.")] = None,
) -> None:
    """List builds, newest first."""
    s = session()
    rows = s.client.get("/builds", project_id=project_id, status=status.value if status else None, limit=limit, offset=offset)
    s.emit(rows, COLUMNS)


@command(app, "update-state")
def update_state(
    build_id: BuildId,
    state: Annotated[int, typer.Option("--state", help="State code.", show_default=False)],
    status: Annotated[StateStatus, typer.Option("--status", help="What happened at that state.", show_default=False)],
    message: Annotated[Optional[str], typer.Option("--message", help="Free text for the history.")] = None,
    metadata: Metadata = None,
) -> None:
    """Record a state transition (in_progress, completed or failed)."""
    s = session()
    body = drop_none(state_code=state, status=status.value, message=message, metadata=parse_json_object(metadata))
    s.emit(s.client.post(f"/builds/{q(build_id)}/state", body))


@command(app, "states")
def states(build_id: BuildId) -> None:
    """Show a build's state history, oldest first."""
    s = session()
    s.emit(s.client.get(f"/builds/{q(build_id)}/states"), STATE_COLUMNS)


@command(app, "record-failure")
def record_failure(
    build_id: BuildId,
    error: Annotated[str, typer.Option("--error", help="What went wrong.", show_default=False)],
    state: Annotated[Optional[int], typer.Option("--state", help="State code that failed [default: the current state].", show_default=False)] = None,
    error_code: Annotated[Optional[str], typer.Option("--error-code", help="Machine-readable error code.")] = None,
    retryable: Annotated[
        Optional[bool],
        typer.Option("--retryable/--not-retryable", help="Whether retrying can help (lets auto-resume act).", show_default=False),
    ] = None,
    metadata: Metadata = None,
) -> None:
    """Mark a build failed at a state, with the error."""
    s = session()
    body = drop_none(
        state_code=state, error_message=error, error_code=error_code,
        retryable=retryable, metadata=parse_json_object(metadata),
    )
    s.emit(s.client.post(f"/builds/{q(build_id)}/failure", body))

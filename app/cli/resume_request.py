"""`bldst resume-request`: follow and update resume requests (status machine, CI job links)."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Optional

import typer

from app.cli.build_resume import REQUEST_COLUMNS
from app.cli.common import command, drop_none, q, session
from app.cli.errors import UsageError
from app.cli.params import parse_json_object

app = typer.Typer(
    help="Follow and update resume requests.\n\nResume requests: pending -> triggered -> running -> completed | failed; pending/triggered -> cancelled.",
    no_args_is_help=True,
)

RequestId = Annotated[str, typer.Argument(help="Resume request id (UUID).", show_default=False, metavar="REQUEST")]


class RequestStatus(str, Enum):
    pending = "pending"
    triggered = "triggered"
    running = "running"
    completed = "completed"
    failed = "failed"
    cancelled = "cancelled"


@command(app, "get")
def get(request_id: RequestId) -> None:
    """Show one resume request."""
    s = session()
    s.emit(s.client.get(f"/resume-requests/{q(request_id)}"))


@command(app, "list")
def list_requests(build_id: Annotated[str, typer.Argument(help="Build id (UUID).", show_default=False, metavar="BUILD")]) -> None:
    """List a build's resume requests (same as `bldst build resume-requests`)."""
    s = session()
    s.emit(s.client.get(f"/builds/{q(build_id)}/resume-requests"), REQUEST_COLUMNS)


@command(app, "update")
def update(
    request_id: RequestId,
    status: Annotated[Optional[RequestStatus], typer.Option("--status", help="New status (moves outside the machine are refused).")] = None,
    job_id: Annotated[Optional[str], typer.Option("--job-id", help="Orchestration (CI) job id.")] = None,
    job_url: Annotated[Optional[str], typer.Option("--job-url", help="Orchestration (CI) job URL.")] = None,
    orchestration_status: Annotated[Optional[str], typer.Option("--orchestration-status", help="The CI's own status text.")] = None,
    error: Annotated[Optional[str], typer.Option("--error", help="Error message (e.g. with --status failed).")] = None,
    metadata: Annotated[Optional[str], typer.Option("--metadata", help="JSON object, or @FILE to read one.", metavar="JSON")] = None,
) -> None:
    """Update a resume request's status or CI job details (only the options given)."""
    body = drop_none(
        status=status.value if status else None, orchestration_job_id=job_id, orchestration_job_url=job_url,
        orchestration_status=orchestration_status, error_message=error, metadata=parse_json_object(metadata),
    )
    if not body:
        raise UsageError("nothing to change: give at least one option (see `bldst resume-request update --help`)")
    s = session()
    s.emit(s.client.patch(f"/resume-requests/{q(request_id)}", body))

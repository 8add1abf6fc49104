"""`bldst job`: the CI/CD jobs (Jenkins, Concourse, ...) that ran a build or resumed it."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any, Optional

import typer

from app.cli.common import command, drop_none, q, session
from app.cli.errors import UsageError
from app.cli.params import parse_timestamp

app = typer.Typer(help="Link CI/CD jobs to builds and track them.\n\nBuild jobs: link CI/CD jobs to a build and track their status.", no_args_is_help=True)

COLUMNS = ["id", "platform", "pipeline_name", "job_name", "build_number", "status", "trigger_source", "is_resume_job", "job_url", "started_at"]

BuildId = Annotated[str, typer.Argument(help="Build id (UUID).", show_default=False, metavar="BUILD")]


class JobStatus(str, Enum):
    pending = "pending"
    running = "running"
    success = "success"
    failed = "failed"
    aborted = "aborted"


class TriggerSource(str, Enum):
    manual = "manual"
    webhook = "webhook"
    schedule = "schedule"
    resume = "resume"


Status = Annotated[Optional[JobStatus], typer.Option("--status", help="Job status.")]
Url = Annotated[Optional[str], typer.Option("--url", help="Job URL.")]
StartedAt = Annotated[Optional[str], typer.Option("--started-at", help="ISO-8601 start time.")]
CompletedAt = Annotated[Optional[str], typer.Option("--completed-at", help="ISO-8601 end time.")]


def _times(started_at: Any, completed_at: Any) -> dict[str, Any]:
    return drop_none(started_at=parse_timestamp(started_at, "--started-at"), completed_at=parse_timestamp(completed_at, "--completed-at"))


@command(app, "link")
def link(
    build_id: BuildId,
    platform: Annotated[str, typer.Option("--platform", help="concourse, jenkins, gitlab-ci, github-actions, ...", show_default=False)],
    pipeline: Annotated[Optional[str], typer.Option("--pipeline", help="Pipeline name.")] = None,
    job: Annotated[Optional[str], typer.Option("--job", help="Job name.")] = None,
    url: Url = None,
    job_id: Annotated[Optional[str], typer.Option("--job-id", help="The CI's id for the job.")] = None,
    build_number: Annotated[Optional[str], typer.Option("--build-number", help="The CI's build number of the job.")] = None,
    triggered_by: Annotated[Optional[str], typer.Option("--triggered-by", help="Who or what triggered it.")] = None,
    trigger_source: Annotated[Optional[TriggerSource], typer.Option("--trigger-source", help="Why it ran [service default: manual].")] = None,
    status: Status = None,
    resume_job: Annotated[Optional[bool], typer.Option("--resume-job/--not-resume-job", help="The job resumes the build.", show_default=False)] = None,
    resumed_from_state: Annotated[Optional[int], typer.Option("--resumed-from-state", help="State a resume job started from.")] = None,
    parent_job_id: Annotated[Optional[str], typer.Option("--parent-job-id", help="Job this one continues.")] = None,
    resume_request_id: Annotated[Optional[str], typer.Option("--resume-request-id", help="Resume request that caused it.")] = None,
    started_at: StartedAt = None,
) -> None:
    """Link a CI/CD job to a build."""
    body = drop_none(
        platform=platform, pipeline_name=pipeline, job_name=job, job_url=url, job_id=job_id,
        build_number=build_number, triggered_by=triggered_by,
        trigger_source=trigger_source.value if trigger_source else None, status=status.value if status else None,
        is_resume_job=resume_job, resumed_from_state=resumed_from_state, parent_job_id=parent_job_id,
        resume_request_id=resume_request_id,
    ) | _times(started_at, None)
    s = session()
    s.emit(s.client.post(f"/builds/{q(build_id)}/jobs", body))


@command(app, "list")
def list_jobs(build_id: BuildId) -> None:
    """List the jobs linked to a build."""
    s = session()
    s.emit(s.client.get(f"/builds/{q(build_id)}/jobs"), COLUMNS)


@command(app, "update")
def update(
    build_id: BuildId,
    job_id: Annotated[str, typer.Argument(help="Build job id (the id bldst job link printed).", show_default=False, metavar="JOB")],
    status: Status = None,
    url: Url = None,
    ci_job_id: Annotated[Optional[str], typer.Option("--job-id", help="The CI's id for the job.")] = None,
    build_number: Annotated[Optional[str], typer.Option("--build-number", help="The CI's build number of the job.")] = None,
    started_at: StartedAt = None,
    completed_at: CompletedAt = None,
) -> None:
    """Update a linked job's status, URL, CI ids or times (only the options given)."""
    body = drop_none(
        status=status.value if status else None, job_url=url, job_id=ci_job_id, build_number=build_number,
    ) | _times(started_at, completed_at)
    if not body:
        raise UsageError("nothing to change: give at least one option (see `bldst job update --help`)")
    s = session()
    s.emit(s.client.patch(f"/builds/{q(build_id)}/jobs/{q(job_id)}", body))

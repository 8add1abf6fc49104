"""`bldst build resume-context | resume | resume-requests | cancel-resume`."""

from __future__ import annotations

import getpass
import os
import re
import sys
import time
from typing import Annotated, Any, Optional

import typer

from app.cli import output
from app.cli.build import BuildId, app
from app.cli.common import command, drop_none, q, session
from app.cli.errors import ServiceError
from app.cli.params import parse_pairs

# The whole resume context in ONE query.
RESUME_CONTEXT_QUERY = """
query($id: ID!){ build(id: $id){ resumeContext { buildId currentState lastSuccessfulState
failedState resumeFromState canResume blockers missingArtifacts missingVariables
artifacts { id artifactName artifactType stateCode artifactPath storageBackend storageRegion
storageBucket storageKey isResumable isFinal checksum sizeBytes metadata }
variables { key value }
resumableStateConfig { stateCode isResumable resumeStrategy requiredArtifacts requiredVariables
resumeCommand resumeTimeoutSeconds } } } }
"""

OPEN_STATUSES = ("pending", "triggered", "running")
WAITING_STATUSES = ("pending", "triggered")
REQUEST_COLUMNS = [
    "id", "status", "resume_from_state", "resume_to_state", "requested_by",
    "request_source", "orchestration_status", "created_at",
]
ARTIFACT_COLUMNS = ["artifact_name", "artifact_type", "state_code", "artifact_path", "storage_backend", "is_final"]


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def context_from_graphql(ctx: dict[str, Any]) -> dict[str, Any]:
    """GraphQL's camelCase resume context -> the REST shape (snake_case, variables as an object).

    Only field names are converted: artifact `metadata` is the user's own JSON, kept as it is.
    """
    result: dict[str, Any] = {}
    for key, value in ctx.items():
        if key == "artifacts":
            result["artifacts"] = [{_snake(k): v for k, v in item.items()} for item in value or []]
        elif key == "variables":
            result["variables"] = {item["key"]: item["value"] for item in value or []}
        elif key == "resumableStateConfig":
            result["resumable_state_config"] = None if value is None else {_snake(k): v for k, v in value.items()}
        else:
            result[_snake(key)] = value
    return result


def fetch_context(client: Any, build_id: str) -> dict[str, Any]:
    data = client.graphql(RESUME_CONTEXT_QUERY, {"id": build_id})
    build = data.get("build")
    if build is None:
        raise ServiceError(f"build {build_id} not found")
    if build.get("resumeContext") is None:
        raise ServiceError(f"build {build_id} has no resume context")
    return context_from_graphql(build["resumeContext"])


def _print_context_tables(ctx: dict[str, Any]) -> None:
    summary = {k: v for k, v in ctx.items() if k not in ("artifacts", "variables", "resumable_state_config")}
    tables = [output.object_table(summary, title="Resume context")]
    if ctx.get("artifacts"):
        tables.append(output.list_table(ctx["artifacts"], ARTIFACT_COLUMNS, title="Artifacts"))
    if ctx.get("variables"):
        rows = [{"key": k, "value": v} for k, v in ctx["variables"].items()]
        tables.append(output.list_table(rows, ["key", "value"], title="Variables"))
    if ctx.get("resumable_state_config"):
        tables.append(output.object_table(ctx["resumable_state_config"], title="Resumable state config"))
    output.print_tables(*tables)


@command(app, "resume-context", env_output=True)
def resume_context(
    build_id: BuildId,
    export: Annotated[bool, typer.Option("--export", help="With --output env: prefix each line with `export `.")] = False,
) -> None:
    """Everything needed to continue a build: states, artifacts, variables, what is missing.

    `--output env` prints lines a shell can eval: BLDST_BUILD_ID, BLDST_RESUME_FROM_STATE,
    BLDST_CURRENT_STATE, BLDST_LAST_SUCCESSFUL_STATE, BLDST_FAILED_STATE, BLDST_CAN_RESUME
    (true/false), BLDST_MISSING_ARTIFACTS, BLDST_MISSING_VARIABLES, BLDST_BLOCKERS,
    BLDST_RESUME_STRATEGY, BLDST_RESUME_COMMAND, one BLDST_VAR_<KEY> per variable and
    BLDST_ARTIFACT_<NAME>_PATH / _TYPE per artifact (names upper-cased, other characters
    turned into _). Values are shell-quoted; null is the empty string.

    Example:  eval "$(bldst build resume-context "$BUILD_ID" --output env)"
    """
    s = session(allow_env=True)
    ctx = fetch_context(s.client, build_id)
    if s.format == "env":
        pairs, warnings = output.context_env_pairs(ctx)
        for warning in warnings:
            print(f"bldst: warning: {warning}", file=sys.stderr)
        sys.stdout.write("".join(line + "\n" for line in output.env_lines(pairs, export=export)))
    elif s.format == "table":
        _print_context_tables(ctx)
    else:
        s.emit(ctx)


def _wait(client: Any, request: dict[str, Any], timeout: float, interval: float) -> tuple[dict[str, Any], bool]:
    """Poll until the request leaves pending/triggered; returns (last answer, whether it did)."""
    from rich.console import Console

    request_id = request.get("id") or request.get("resume_request_id")
    deadline = time.monotonic() + timeout
    console = Console(stderr=True)
    status_text = lambda r: f"resume request {request_id}: {r.get('status')} (waiting up to {timeout:g}s)"  # noqa: E731
    spinner = console.status(status_text(request)) if console.is_terminal else None
    if spinner:
        spinner.start()
    try:
        while request.get("status") in WAITING_STATUSES:
            if time.monotonic() >= deadline:
                return request, False
            time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
            request = client.get(f"/resume-requests/{q(request_id)}")
            if spinner:
                spinner.update(status_text(request))
    finally:
        if spinner:
            spinner.stop()
    return request, True


@command(app, "resume")
def resume(
    build_id: BuildId,
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit trail).", show_default=False)],
    from_state: Annotated[Optional[int], typer.Option("--from-state", help="State to resume from [default: the service's resume_from_state].", show_default=False)] = None,
    to_state: Annotated[Optional[int], typer.Option("--to-state", help="Stop after this state [default: to the end].", show_default=False)] = None,
    requested_by: Annotated[Optional[str], typer.Option("--requested-by", help="Who asks [default: $USER].", show_default=False)] = None,
    platform: Annotated[Optional[str], typer.Option("--platform", help="CI platform for the resume job, e.g. jenkins.")] = None,
    pipeline: Annotated[Optional[str], typer.Option("--pipeline", help="CI pipeline name.")] = None,
    job: Annotated[Optional[str], typer.Option("--job", help="CI job name.")] = None,
    override: Annotated[
        Optional[list[str]],
        typer.Option("--override", help="KEY=VALUE variable override applied on resume (repeatable).", metavar="KEY=VALUE"),
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Follow the request until it leaves pending/triggered.")] = False,
    wait_timeout: Annotated[float, typer.Option("--wait-timeout", min=0, help="With --wait: give up (exit 1) after this many seconds.")] = 600.0,
    poll_interval: Annotated[float, typer.Option("--poll-interval", min=0.05, help="With --wait: seconds between polls.")] = 2.0,
) -> None:
    """Request a resume of a failed (or cancelled) build.

    The service refuses (exit 1, saying what is missing) when the state is not resumable or
    required artifacts/variables are absent. With --wait, follows the request (a spinner on a
    terminal) and exits 1 if it ends failed or cancelled, or the wait times out; the request is
    printed in every case.
    """
    overrides = parse_pairs(override)
    s = session()
    orchestration = drop_none(platform=platform, pipeline=pipeline, job=job)
    body = drop_none(
        resume_from_state=from_state,
        resume_to_state=to_state,
        resume_reason=reason,
        requested_by=requested_by or os.environ.get("USER") or _user(),
        request_source="cli",
        orchestration_config=orchestration or None,
        variable_overrides=overrides or None,
    )
    request = s.client.post(f"/builds/{q(build_id)}/resume", body)
    settled = True
    if wait:
        request, settled = _wait(s.client, request, wait_timeout, poll_interval)
    s.emit(request)  # printed in every case, so that a script has the request's id
    if not settled:
        raise ServiceError(
            f"timed out after {wait_timeout:g}s waiting for resume request {request.get('id')}"
            f" (still {request.get('status')})"
        )
    if wait and request.get("status") in ("failed", "cancelled"):
        detail = f": {request['error_message']}" if request.get("error_message") else ""
        raise ServiceError(f"resume request {request.get('id')} ended {request['status']}{detail}")


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        return "bldst"


@command(app, "resume-requests")
def resume_requests(build_id: BuildId) -> None:
    """List a build's resume requests."""
    s = session()
    s.emit(s.client.get(f"/builds/{q(build_id)}/resume-requests"), REQUEST_COLUMNS)


@command(app, "cancel-resume")
def cancel_resume(build_id: BuildId) -> None:
    """Cancel the build's open (pending or triggered) resume request."""
    s = session()
    requests = s.client.get(f"/builds/{q(build_id)}/resume-requests") or []
    open_ones = [r for r in requests if r.get("status") in OPEN_STATUSES]
    if not open_ones:
        raise ServiceError(f"build {build_id} has no open resume request")
    request = open_ones[0]
    if request["status"] not in WAITING_STATUSES:
        raise ServiceError(f"resume request {request['id']} is already {request['status']} and cannot be cancelled")
    s.emit(s.client.patch(f"/resume-requests/{q(request['id'])}", {"status": "cancelled"}))

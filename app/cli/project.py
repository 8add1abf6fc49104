"""`bldst project`: create, list and show projects."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from app.cli.common import command, drop_none, q, session

app = typer.Typer(help="Create, list and show projects.\n\nProjects: the top-level grouping of builds (id is a slug such as rhel9-base).", no_args_is_help=True)

COLUMNS = ["id", "name", "description", "auto_resume", "max_auto_resumes", "created_at"]
ProjectId = Annotated[str, typer.Argument(help="Project id (a slug, e.g. rhel9-base).", show_default=False, metavar="PROJECT")]


@command(app, "create")
def create(
    project_id: ProjectId,
    name: Annotated[str, typer.Option("--name", help="Human-readable name.", show_default=False)],
    description: Annotated[Optional[str], typer.Option("--description", help="Free text.")] = None,
    auto_resume: Annotated[
        Optional[bool],
        typer.Option("--auto-resume/--no-auto-resume", help="Let the orchestrator resume retryable failures by itself.", show_default=False),
    ] = None,
    max_auto_resumes: Annotated[Optional[int], typer.Option("--max-auto-resumes", min=0, help="Cap on automatic resumes per build.")] = None,
    default_platform: Annotated[Optional[str], typer.Option("--default-platform", help="CI platform resume jobs use by default, e.g. jenkins.")] = None,
) -> None:
    """Create a project."""
    s = session()
    body = drop_none(
        id=project_id, name=name, description=description, auto_resume=auto_resume,
        max_auto_resumes=max_auto_resumes, default_platform=default_platform,
    )
    s.emit(s.client.post("/projects", body))


@command(app, "list")
def list_projects() -> None:
    """List projects."""
    s = session()
    s.emit(s.client.get("/projects"), COLUMNS)


@command(app, "get")
def get(project_id: ProjectId) -> None:
    """Show one project."""
    s = session()
    s.emit(s.client.get(f"/projects/{q(project_id)}"))

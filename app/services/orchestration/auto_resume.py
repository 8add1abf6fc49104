"""Automatic resume: a retryable failure files a request when the project's policy allows."""

from __future__ import annotations

from tortoise.exceptions import IntegrityError

from app.services.actor import SCOPES, Actor
from app.services.commands import RecordFailure, RequestResume, RequestSource
from app.services.common import record_event
from app.services.errors import DomainError
from db.models import Build, Project, ResumeRequest

AUTO_REQUESTER = "auto-resume"


def _auto_actor(caller: Actor) -> Actor:
    return Actor(name=AUTO_REQUESTER, scopes=frozenset(SCOPES), kind="system",
                 request_id=caller.request_id)


async def auto_resume_after_failure(
    *, actor: Actor, build: Build, command: RecordFailure, failed_state: int
) -> ResumeRequest | None:
    """Call inside the failure's transaction, after it is recorded. Files a request with
    `request_source: auto` (through `request_resume`, so the same checks apply) when the
    failure is retryable and the project allows another automatic resume; otherwise records a
    `resume.auto_skipped` event saying why. Never raises for an unmet precondition."""
    from app.services.resume import request_resume  # resume imports builds, which calls us

    project = await Project.get(id=build.project_id)
    if not project.auto_resume:
        return None
    used = await ResumeRequest.filter(build_id=build.id, request_source="auto").count()
    reason: str | None = None
    if not command.retryable:
        reason = "the failure is not retryable"
    elif used >= project.max_auto_resumes:
        reason = (f"the build has used {used} of its {project.max_auto_resumes} "
                  "automatic resumes")
    else:
        text = (f"automatic resume {used + 1}/{project.max_auto_resumes} after a retryable "
                f"failure at state {failed_state}: {command.error_message}")
        try:
            return await request_resume(
                actor=_auto_actor(actor), build_id=str(build.id),
                command=RequestResume(
                    resume_reason=text[:4000], requested_by=AUTO_REQUESTER,
                    request_source=RequestSource.auto,
                ),
            )
        except DomainError as exc:
            reason = exc.message
        except IntegrityError:
            reason = "another resume request was filed at the same moment"
    await record_event(
        actor, "resume.auto_skipped", target_type="build", target_id=build.id,
        project_id=build.project_id, build_id=build.id, reason=reason,
        data={"failed_state": failed_state, "retryable": command.retryable,
              "auto_resumes_used": used, "max_auto_resumes": project.max_auto_resumes},
    )
    return None

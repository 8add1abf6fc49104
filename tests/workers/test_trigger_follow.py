"""A failed build's resume request is triggered once on a fake CI, followed, and completed."""

from __future__ import annotations

import httpx

from app.services import jobs
from app.services.commands import LinkJob
from app.services.orchestration.runtime import Runtime
from db.models import BuildJob, ResumeRequest, TriggerAttempt
from tests.fakes.concourse import FakeConcourse
from tests.fakes.jenkins import FakeJenkins
from tests.workers.conftest import dispatch_once, failed_build_with_request, follow_once


async def _script_resumes(client: httpx.AsyncClient, build_id, codes=(35, 40, 100)) -> dict:
    """What the CI job's build script does: move the build through the state API."""
    for code in codes:
        for status in ("in_progress", "completed"):
            r = await client.post(f"/builds/{build_id}/state",
                                  json={"state_code": code, "status": status})
            assert r.status_code in (200, 201), r.text
    return (await client.get(f"/builds/{build_id}")).json()


async def test_jenkins_resume_triggered_once_followed_and_completed(
    rt: Runtime, jenkins: FakeJenkins, client: httpx.AsyncClient, writer
) -> None:
    jenkins.start_immediately = False  # the item waits in the queue until an executor frees
    request = await failed_build_with_request(writer, platform="jenkins")
    original = await jobs.link_job(actor=writer, build_id=str(request.build_id), command=LinkJob(
        platform="jenkins", pipeline_name="images", job_name="rhel9", build_number="41",
        status="failed"))

    assert await dispatch_once(rt) == ["triggered"]
    assert await dispatch_once(rt) == []  # nothing left to trigger
    [params] = [p for p in jenkins.triggers() if p["RESUME_REQUEST_ID"] == str(request.id)]
    assert params == {"BUILD_ID": str(request.build_id), "RESUME_MODE": "true",
                      "RESUME_FROM_STATE": "35", "RESUME_REQUEST_ID": str(request.id)}
    assert len(jenkins.trigger_calls()) == 1
    assert jenkins.trigger_calls()[0].path == "/job/images/job/rhel9/buildWithParameters"

    row = await ResumeRequest.get(id=request.id)
    assert (row.status, row.attempts, row.orchestration_status) == ("triggered", 1, "queued")
    job = await BuildJob.get(resume_request_id=request.id)
    assert (job.is_resume_job, job.resumed_from_state, job.parent_job_id, job.trigger_source,
            job.status, job.platform) == (True, 35, original.id, "resume", "pending", "jenkins")
    assert await follow_once(rt) == ["queued"]

    jenkins.start_queued()  # queue item -> build number 1, running
    assert await follow_once(rt) == ["running"]
    row = await ResumeRequest.get(id=request.id)
    assert (row.status, row.orchestration_job_id) == ("running", "1")
    assert row.orchestration_job_url == f"{jenkins.url}/job/images/job/rhel9/1/"
    job = await BuildJob.get(id=job.id)
    assert (job.status, job.build_number, job.job_url) == ("running", "1", row.orchestration_job_url)

    build = await _script_resumes(client, request.build_id)
    assert build["status"] == "completed" and build["resume_count"] == 1
    assert (await ResumeRequest.get(id=request.id)).status == "completed"

    jenkins.finish(str(request.id), "SUCCESS")
    assert await follow_once(rt) == ["success"]
    assert (await BuildJob.get(id=job.id)).status == "success"
    assert await follow_once(rt) == []  # followed to its end, then left alone
    attempts = await TriggerAttempt.filter(resume_request_id=request.id)
    assert [(a.attempt, a.status) for a in attempts] == [(1, "succeeded")]
    assert len(jenkins.trigger_calls()) == 1


async def test_concourse_resume_followed_by_polling(
    rt: Runtime, concourse: FakeConcourse, client: httpx.AsyncClient, writer
) -> None:
    request = await failed_build_with_request(writer, platform="concourse", pipeline="images",
                                              job="resume-rhel9")
    assert await dispatch_once(rt) == ["triggered"]
    mine = [p for p in concourse.triggers() if p["RESUME_REQUEST_ID"] == str(request.id)]
    assert len(mine) == 1 and mine[0]["RESUME_MODE"] == "true"
    assert mine[0]["BUILD_ID"] == str(request.build_id) and mine[0]["RESUME_FROM_STATE"] == "35"
    row = await ResumeRequest.get(id=request.id)
    # The fake starts builds at once, so the request is already running.
    assert row.status == "running" and row.orchestration_job_url.endswith(
        "/teams/main/pipelines/images/jobs/resume-rhel9/builds/1")

    build = await _script_resumes(client, request.build_id)
    assert build["status"] == "completed"
    concourse.finish(str(request.id), "succeeded")
    assert await follow_once(rt) == ["success"]
    job = await BuildJob.get(resume_request_id=request.id)
    assert job.status == "success" and job.is_resume_job
    assert len(concourse.calls("POST")) == 1


async def test_jenkins_job_failure_fails_the_request(
    rt: Runtime, jenkins: FakeJenkins, writer
) -> None:
    request = await failed_build_with_request(writer)
    await dispatch_once(rt)
    jenkins.finish(str(request.id), "FAILURE")
    assert await follow_once(rt) == ["failed"]
    row = await ResumeRequest.get(id=request.id)
    assert row.status == "failed" and row.error_message == "the CI job ended failed"
    assert (await BuildJob.get(resume_request_id=request.id)).status == "failed"


async def test_jenkins_crumb_when_asked(rt: Runtime, jenkins: FakeJenkins, writer) -> None:
    jenkins.require_crumb = True
    request = await failed_build_with_request(writer)
    assert await dispatch_once(rt) == ["triggered"]
    calls = jenkins.trigger_calls()
    assert [c.headers.get("jenkins-crumb") for c in calls] == [None, "fake-crumb-0123"]
    assert [p["RESUME_REQUEST_ID"] for p in jenkins.triggers()] == [str(request.id)]

"""Inbound webhooks (signed), automatic resume, stall detection."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager

from app.services import builds, resumable, webhooks
from app.services.commands import DefineResumableState, RecordFailure, TransitionBuild
from app.services.orchestration.follow import detect_stalls
from app.services.orchestration.runtime import Runtime
from app.settings import Settings
from db.models import BuildJob, Event, ResumeRequest
from tests import factories
from tests.conftest import WRITE_KEY
from tests.fakes.jenkins import FakeJenkins
from tests.workers.conftest import dispatch_once, failed_build_with_request

SECRET = "inbound-shared-secret-0123456789abcdef"


@pytest.fixture
async def signed_client(orch_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    from app.main import create_app

    app = create_app(orch_settings.model_copy(update={"webhook_inbound_secret": SECRET}),
                     manage_db=False)
    async with LifespanManager(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://testserver") as http:
            yield http


async def _post(http: httpx.AsyncClient, path: str, payload: dict, *, secret: str = SECRET,
                style: str = "standard") -> httpx.Response:
    body = json.dumps(payload).encode()
    if style == "standard":
        headers = webhooks.signed_headers(secret, f"msg_{time.time_ns()}", body)
    elif style == "hub":
        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        headers = {"X-Hub-Signature-256": f"sha256={digest}", "content-type": "application/json"}
    else:
        headers = {"content-type": "application/json"}
    return await http.post(path, content=body, headers=headers)


async def _running_build(writer, **project_kw):
    pid = await factories.project(writer, **project_kw)
    build = await factories.build(writer, pid)
    for code in (10, 20, 30):
        await factories.move(writer, build.id, code, "completed")
    return build


async def _fail(writer, build_id, *, retryable: bool = True, code: int = 35):
    return await builds.record_failure(actor=writer, build_id=str(build_id), command=RecordFailure(
        state_code=code, error_message="spot instance reclaimed", retryable=retryable))


async def _skips(build_id) -> list[str]:
    rows = await Event.filter(build_id=build_id, action="resume.auto_skipped").order_by("id")
    return [r.reason for r in rows]


async def test_build_failure_webhook_files_an_automatic_resume(
    signed_client: httpx.AsyncClient, writer
) -> None:
    build = await _running_build(writer, auto_resume=True, max_auto_resumes=2)
    payload = {"build_id": str(build.id), "state_code": 35, "error_message": "apt mirror down",
               "error_code": "NET", "retryable": True}
    for style in ("none", "wrong"):
        r = await _post(signed_client, "/webhooks/build-failure", payload,
                        style="standard" if style == "wrong" else style,
                        secret="not-the-secret-at-all-0000000000")
        assert r.status_code == 401, r.text
    assert (await ResumeRequest.filter(build_id=build.id).count()) == 0

    r = await _post(signed_client, "/webhooks/build-failure", payload)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["status"] == "failed" and answer["failed_state"] == 35
    request = await ResumeRequest.get(id=answer["resume_request_id"])
    assert (request.request_source, request.requested_by, request.status,
            request.resume_from_state) == ("auto", "auto-resume", "pending", 35)

    other = await _running_build(writer, auto_resume=True)
    r = await _post(signed_client, "/webhooks/build-failure", {
        "project_id": other.project_id, "build_number": other.build_number,
        "error_message": "disk full", "retryable": False}, style="hub")
    assert r.status_code == 200 and r.json()["resume_request_id"] is None
    assert await _skips(other.id) == ["the failure is not retryable"]
    missing = await _post(signed_client, "/webhooks/build-failure", {
        "build_id": "00000000-0000-0000-0000-000000000000", "error_message": "x"})
    assert missing.status_code == 404


async def test_auto_resume_stops_at_the_projects_limit(writer) -> None:
    build = await _running_build(writer, auto_resume=True, max_auto_resumes=2)
    for round_ in (1, 2):
        await _fail(writer, build.id)
        [request] = await ResumeRequest.filter(build_id=build.id, status="pending")
        assert request.request_source == "auto" and f"{round_}/2" in request.resume_reason
        # The resumed job reports progress: the build reopens (the request runs) ...
        await builds.transition_build(actor=writer, build_id=str(build.id),
                                      command=TransitionBuild(state_code=35, status="in_progress"))
    await _fail(writer, build.id)  # ... and fails again: the running request fails with it
    assert await ResumeRequest.filter(build_id=build.id, request_source="auto").count() == 2
    assert await ResumeRequest.filter(build_id=build.id, status="pending").count() == 0
    assert await _skips(build.id) == ["the build has used 2 of its 2 automatic resumes"]


async def test_auto_resume_records_why_it_could_not(writer) -> None:
    build = await _running_build(writer, auto_resume=True)
    await resumable.define_resumable_state(
        actor=writer, project_id=build.project_id,
        command=DefineResumableState(state_code=35, required_artifacts=["golden-image"]))
    failed = await _fail(writer, build.id)
    assert failed.status == "failed" and failed.failed_state == 35  # the failure is recorded
    [reason] = await _skips(build.id)
    assert "golden-image" in reason
    assert await ResumeRequest.filter(build_id=build.id).count() == 0

    plain = await _running_build(writer)  # auto_resume off: nothing filed, nothing to say
    await _fail(writer, plain.id)
    assert await _skips(plain.id) == [] and not await ResumeRequest.exists(build_id=plain.id)


async def test_jenkins_and_concourse_status_webhooks_move_the_request(
    signed_client: httpx.AsyncClient, rt: Runtime, jenkins: FakeJenkins, writer
) -> None:
    jenkins.start_immediately = False
    request = await failed_build_with_request(writer)
    assert await dispatch_once(rt) == ["triggered"]
    started = {"name": "rhel9", "build": {
        "number": 7, "phase": "STARTED", "parameters": {"RESUME_REQUEST_ID": str(request.id)}}}
    r = await _post(signed_client, "/webhooks/jenkins", started)
    assert r.json() == {"matched": True, "resume_request_id": str(request.id), "status": "running"}
    job = await BuildJob.get(resume_request_id=request.id)
    assert (job.status, job.build_number) == ("running", "7")
    done = {"name": "rhel9", "build": {"number": 7, "phase": "COMPLETED", "status": "ABORTED",
                                       "parameters": {"RESUME_REQUEST_ID": str(request.id)}}}
    assert (await _post(signed_client, "/webhooks/jenkins", done)).json()["status"] == "failed"
    assert (await BuildJob.get(id=job.id)).status == "aborted"
    late = await _post(signed_client, "/webhooks/jenkins", started)  # a stale, late message
    assert late.json()["status"] == "failed"
    assert (await BuildJob.get(id=job.id)).status == "aborted"
    assert (await ResumeRequest.get(id=request.id)).orchestration_status == "aborted"
    unknown = await _post(signed_client, "/webhooks/jenkins", {"build": {"phase": "STARTED"}})
    assert unknown.json() == {"matched": False, "resume_request_id": None, "status": None}
    assert (await _post(signed_client, "/webhooks/jenkins", started, style="none")
            ).status_code == 401

    other = await failed_build_with_request(writer, platform="concourse", job="resume")
    assert await dispatch_once(rt) == ["triggered"]
    for status, expected in (("started", "running"), ("succeeded", "completed")):
        r = await _post(signed_client, "/webhooks/concourse", {
            "build_id": "1000", "build_name": "1", "status": status,
            "resume_request_id": str(other.id)})
        assert r.json()["status"] == expected


async def test_a_stalled_request_is_marked_with_a_reason(
    rt: Runtime, jenkins: FakeJenkins, writer, client: httpx.AsyncClient
) -> None:
    request = await failed_build_with_request(writer)
    await dispatch_once(rt)
    rt.settings = rt.settings.model_copy(update={"stall_timeout_seconds": 0.3})
    await detect_stalls(rt)
    assert (await ResumeRequest.get(id=request.id)).stalled_at is None
    await asyncio.sleep(0.4)
    assert await detect_stalls(rt) >= 1
    row = await ResumeRequest.get(id=request.id)
    assert row.stalled_at is not None and row.status == "triggered"
    assert row.error_message.startswith("stalled: no state change for")
    await detect_stalls(rt)
    assert await Event.filter(target_id=str(request.id), action="resume.stalled").count() == 1

    r = await client.post(f"/builds/{request.build_id}/state",
                          json={"state_code": 35, "status": "in_progress"},
                          headers={"X-API-Key": WRITE_KEY})
    assert r.status_code in (200, 201)
    await detect_stalls(rt)
    row = await ResumeRequest.get(id=request.id)
    assert row.stalled_at is None and row.error_message is None

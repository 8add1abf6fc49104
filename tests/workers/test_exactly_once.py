"""A worker that dies mid-trigger: whoever takes the request over never triggers it twice."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from app.services.common import utcnow
from app.services.orchestration.dispatch import claim_pending, trigger_request
from app.services.orchestration.runtime import Runtime
from app.settings import Settings
from db.models import ResumeRequest, TriggerAttempt
from tests.fakes.concourse import FakeConcourse
from tests.fakes.jenkins import FakeJenkins
from tests.fakes.receiver import WebhookReceiver
from tests.workers.conftest import dispatch_once, failed_build_with_request


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs, no handler sees it."""


class DiesAfterSending:
    def __init__(self, real, *, reach_ci: bool) -> None:
        self.real, self.reach_ci = real, reach_ci
        self.name, self.can_find, self.can_poll = real.name, real.can_find, real.can_poll

    async def trigger(self, target, params):
        if self.reach_ci:
            await self.real.trigger(target, params)
        raise Killed()


async def _die_mid_trigger(settings: Settings, http, request_id, *, reach_ci: bool) -> None:
    dying = Runtime(settings=settings, http=http, worker="orchestrator:dying")
    platform = dying.platform("jenkins" if settings.jenkins_url else "concourse")
    dying._platforms[platform.name] = DiesAfterSending(platform, reach_ci=reach_ci)
    assert request_id in await claim_pending(dying, 100)
    with pytest.raises(Killed):
        await trigger_request(dying, request_id)
    attempt = await TriggerAttempt.get(resume_request_id=request_id, attempt=1)
    assert attempt.status == "sending"  # committed before the CI call, as promised
    # Time passes: the dead worker's lease runs out.
    await ResumeRequest.filter(id=request_id).update(lease_expires_at=utcnow() - timedelta(seconds=1))


async def test_takeover_adopts_the_job_the_dead_worker_started(
    rt: Runtime, jenkins: FakeJenkins, orch_settings: Settings, writer
) -> None:
    request = await failed_build_with_request(writer)
    await _die_mid_trigger(orch_settings, rt.http, request.id, reach_ci=True)
    assert len(jenkins.triggers()) == 1

    assert await dispatch_once(rt) == ["adopted"]
    assert len(jenkins.triggers()) == 1 and len(jenkins.trigger_calls()) == 1
    row = await ResumeRequest.get(id=request.id)
    assert row.status == "running" and row.orchestration_job_id == "1" and row.attempts == 1
    [attempt] = await TriggerAttempt.filter(resume_request_id=request.id)
    assert attempt.status == "succeeded" and attempt.response["adopted"] is True


async def test_takeover_adopts_a_job_still_in_the_jenkins_queue(
    rt: Runtime, jenkins: FakeJenkins, orch_settings: Settings, writer
) -> None:
    jenkins.start_immediately = False
    request = await failed_build_with_request(writer)
    await _die_mid_trigger(orch_settings, rt.http, request.id, reach_ci=True)
    assert await dispatch_once(rt) == ["adopted"]
    row = await ResumeRequest.get(id=request.id)
    assert (row.status, row.orchestration_status) == ("triggered", "queued")
    assert len(jenkins.trigger_calls()) == 1


async def test_takeover_triggers_once_when_the_ci_never_got_it(
    rt: Runtime, jenkins: FakeJenkins, orch_settings: Settings, writer
) -> None:
    request = await failed_build_with_request(writer)
    await _die_mid_trigger(orch_settings, rt.http, request.id, reach_ci=False)
    assert jenkins.triggers() == []
    assert await dispatch_once(rt) == ["triggered"]
    assert [p["RESUME_REQUEST_ID"] for p in jenkins.triggers()] == [str(request.id)]
    attempts = await TriggerAttempt.filter(resume_request_id=request.id).order_by("attempt")
    assert [(a.attempt, a.status) for a in attempts] == [(1, "failed"), (2, "succeeded")]
    assert "stopped mid-trigger" in attempts[0].error


async def test_takeover_waits_when_the_ci_cannot_be_asked(
    rt: Runtime, jenkins: FakeJenkins, orch_settings: Settings, writer
) -> None:
    request = await failed_build_with_request(writer)
    await _die_mid_trigger(orch_settings, rt.http, request.id, reach_ci=True)
    jenkins.stop()
    assert await dispatch_once(rt) == ["retry"]  # unknown outcome: do not send again
    jenkins.start()
    row = await ResumeRequest.get(id=request.id)
    assert row.status == "pending" and "could not ask jenkins" in row.error_message
    await ResumeRequest.filter(id=request.id).update(next_attempt_at=None)
    assert await dispatch_once(rt) == ["adopted"]
    assert len(jenkins.trigger_calls()) == 1


async def test_concourse_takeover_adopts(
    database: Settings, concourse: FakeConcourse, writer
) -> None:
    from tests.workers.conftest import FAST

    settings = database.model_copy(update={
        **FAST, "concourse_url": concourse.url, "concourse_token": concourse.token})
    request = await failed_build_with_request(writer, platform="concourse", job="resume")
    async with httpx.AsyncClient() as http:
        await _die_mid_trigger(settings, http, request.id, reach_ci=True)
        assert await dispatch_once(Runtime(settings=settings, http=http)) == ["adopted"]
    assert len(concourse.calls("POST")) == 1
    assert (await ResumeRequest.get(id=request.id)).orchestration_job_id == "1000"


async def test_generic_webhook_trigger_is_signed_and_resent_with_the_same_id(
    database: Settings, writer
) -> None:
    from tests.workers.conftest import FAST

    with WebhookReceiver(secret="generic-shared-secret-0123456789") as receiver:
        receiver.answer = {"job_id": "gen-7", "job_url": "https://ci.example/jobs/7"}
        settings = database.model_copy(update={
            **FAST, "generic_trigger_url": receiver.url + "/trigger",
            "generic_trigger_secret": receiver.secret})
        request = await failed_build_with_request(writer, platform="generic")
        async with httpx.AsyncClient() as http:
            rt = Runtime(settings=settings, http=http)
            receiver.failing = True
            assert await dispatch_once(rt) == ["retry"]
            receiver.failing = False
            await ResumeRequest.filter(id=request.id).update(next_attempt_at=None)
            assert await dispatch_once(rt) == ["triggered"]
        [got] = receiver.delivered()
        assert got.verified and got.msg_id == f"resume_{request.id}"
        assert got.payload["data"]["RESUME_REQUEST_ID"] == str(request.id)
        assert got.payload["data"]["BUILD_ID"] == str(request.build_id)
        row = await ResumeRequest.get(id=request.id)
        assert (row.status, row.orchestration_job_id, row.next_attempt_at) == (
            "triggered", "gen-7", None)  # nothing to poll: the state API moves it on

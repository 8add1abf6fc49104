"""Retries with backoff, giving up with the error, bad configuration, a CI that is down."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from app.services.commands import OrchestrationConfig
from app.services.orchestration.backoff import RateLimiter, retry_delay
from app.services.orchestration.runtime import Runtime
from app.settings import Settings
from app.workers import orchestrator
from db.models import ResumeRequest, TriggerAttempt
from tests.fakes.concourse import FakeConcourse
from tests.fakes.jenkins import FakeJenkins
from tests.workers.conftest import dispatch_once, failed_build_with_request


async def _until_due(request_id) -> None:
    row = await ResumeRequest.get(id=request_id)
    if row.next_attempt_at is not None:
        from app.services.common import utcnow

        await asyncio.sleep(max(0.0, (row.next_attempt_at - utcnow()).total_seconds()) + 0.01)


async def test_fails_twice_then_succeeds(rt: Runtime, jenkins: FakeJenkins, writer) -> None:
    jenkins.fail_next = 2
    request = await failed_build_with_request(writer)
    outcomes = []
    for _ in range(3):
        outcomes += await dispatch_once(rt)
        row = await ResumeRequest.get(id=request.id)
        if row.status == "pending":
            assert row.next_attempt_at is not None and row.orchestration_status == "retry_wait"
            assert "HTTP 500" in row.error_message
        await _until_due(request.id)
    assert outcomes == ["retry", "retry", "triggered"]
    row = await ResumeRequest.get(id=request.id)
    assert (row.status, row.attempts, row.error_message) == ("triggered", 3, None)
    attempts = await TriggerAttempt.filter(resume_request_id=request.id).order_by("attempt")
    assert [(a.attempt, a.status) for a in attempts] == [
        (1, "failed"), (2, "failed"), (3, "succeeded")]
    assert "HTTP 500" in attempts[0].error and attempts[2].response["job"]["queue_id"] == "1"
    assert len(jenkins.trigger_calls()) == 3 and len(jenkins.triggers()) == 1


async def test_trigger_attempts_are_readable_through_rest_and_graphql(
    rt: Runtime, jenkins: FakeJenkins, writer, client
) -> None:
    jenkins.fail_next = 1
    request = await failed_build_with_request(writer)
    for _ in range(2):
        await dispatch_once(rt)
        await _until_due(request.id)
    rest = await client.get(f"/resume-requests/{request.id}/trigger-attempts")
    assert rest.status_code == 200, rest.text
    assert [(a["attempt"], a["status"], a["platform"]) for a in rest.json()] == [
        (1, "failed", "jenkins"), (2, "succeeded", "jenkins")]
    assert "HTTP 500" in rest.json()[0]["error"] and rest.json()[1]["finished_at"]
    query = """query($id: ID!) { resumeRequest(id: $id) { attempts
        triggerAttempts { attempt status error worker response } } }"""
    answer = (await client.post("/graphql", json={"query": query,
                                                  "variables": {"id": str(request.id)}})).json()
    got = answer["data"]["resumeRequest"]
    assert got["attempts"] == 2
    assert [(a["attempt"], a["status"]) for a in got["triggerAttempts"]] == [
        (1, "failed"), (2, "succeeded")]
    assert got["triggerAttempts"][1]["response"]["job"]["queue_id"]
    missing = await client.get("/resume-requests/00000000-0000-0000-0000-000000000000"
                               "/trigger-attempts")
    assert missing.status_code == 404


async def test_always_failing_trigger_ends_failed_with_the_error(
    rt: Runtime, jenkins: FakeJenkins, writer
) -> None:
    jenkins.fail_always = True
    request = await failed_build_with_request(writer)
    outcomes = []
    for _ in range(4):
        outcomes += await dispatch_once(rt)
        await _until_due(request.id)
    assert outcomes == ["retry", "retry", "failed"]
    row = await ResumeRequest.get(id=request.id)
    assert row.status == "failed" and row.attempts == 3
    assert row.error_message.startswith("trigger failed after 3 attempt(s): Jenkins")
    assert "HTTP 500" in row.error_message and row.completed_at is not None
    attempts = await TriggerAttempt.filter(resume_request_id=request.id)
    assert sorted(a.status for a in attempts) == ["failed"] * 3
    assert jenkins.triggers() == []


async def test_a_4xx_is_not_retried(rt: Runtime, jenkins: FakeJenkins, writer) -> None:
    jenkins.token = "rotated"  # our credentials are now wrong: 401
    request = await failed_build_with_request(writer)
    assert await dispatch_once(rt) == ["failed"]
    row = await ResumeRequest.get(id=request.id)
    assert row.attempts == 1 and "HTTP 401" in row.error_message


@pytest.mark.parametrize("config, message", [
    ({"platform": "jenkins", "pipeline": "../../script"}, "not a safe name"),
    ({"platform": "jenkins", "job": "a/b"}, "not a safe name"),
    ({"platform": "gitlab"}, "not one the orchestrator triggers"),
    ({"platform": "generic"}, "not configured"),
    ({"platform": "concourse", "job": None}, "needs orchestration_config.job"),
])
async def test_bad_orchestration_config_fails_without_any_call(
    rt: Runtime, jenkins: FakeJenkins, concourse: FakeConcourse, writer, config, message
) -> None:
    # The API refuses most of these up front (test below); the worker still checks what is
    # stored (rows from before that check, a project's default platform) before any call.
    request = await failed_build_with_request(writer, platform=None)
    stored = {"pipeline": "images", "job": "rhel9", **config}
    await ResumeRequest.filter(id=request.id).update(orchestration_config=stored)
    assert await dispatch_once(rt) == ["failed"]
    row = await ResumeRequest.get(id=request.id)
    assert row.status == "failed" and message in row.error_message
    assert jenkins.ledger == [] and concourse.ledger == []


@pytest.mark.parametrize("config, field", [
    ({"platform": "jenkins", "pipeline": "../../script"}, "pipeline"),
    ({"platform": "jenkins", "job": "a/b"}, "job"),
    ({"platform": "jenkins", "job": "a..b"}, "job"),
    ({"platform": "gitlab"}, "platform"),
])
def test_the_api_refuses_an_orchestration_config_the_worker_could_not_use(config, field):
    with pytest.raises(ValidationError) as caught:
        OrchestrationConfig(**config)
    assert [e["loc"][0] for e in caught.value.errors()] == [field]
    assert OrchestrationConfig(platform="Jenkins", pipeline="images", job="rhel-9.4").platform \
        == "jenkins"


async def test_a_request_nobody_routed_is_left_to_people(rt: Runtime, jenkins, writer) -> None:
    request = await failed_build_with_request(writer, platform=None)
    assert await dispatch_once(rt) == ["manual"]
    assert await dispatch_once(rt) == []
    row = await ResumeRequest.get(id=request.id)
    assert (row.status, row.orchestration_status, row.attempts) == ("pending", "manual", 0)
    assert jenkins.ledger == []


async def test_ci_down_does_not_wedge_the_worker(
    orch_settings: Settings, jenkins: FakeJenkins, concourse: FakeConcourse, writer
) -> None:
    """The real loops: Jenkins is down, Concourse work still flows; Jenkins back, it catches up."""
    settings = orch_settings.model_copy(update={
        "trigger_max_attempts": 50, "trigger_retry_delays": (0.1,), "retry_jitter": 0.0,
    })
    jenkins.stop()
    on_jenkins = await failed_build_with_request(writer, platform="jenkins")
    stop = asyncio.Event()
    worker = asyncio.create_task(orchestrator.serve(settings, stop))
    try:
        await _wait(lambda: _attempts(on_jenkins.id, at_least=2))
        on_concourse = await failed_build_with_request(writer, platform="concourse", job="j")
        await _wait(lambda: _status(on_concourse.id, "running"))
        assert (await ResumeRequest.get(id=on_jenkins.id)).status == "pending"
        jenkins.start()
        await _wait(lambda: _status(on_jenkins.id, "running"))
    finally:
        stop.set()
        await asyncio.wait_for(worker, 10)
    assert [p["RESUME_REQUEST_ID"] for p in jenkins.triggers()] == [str(on_jenkins.id)]
    row = await ResumeRequest.get(id=on_jenkins.id)
    assert row.lease_owner is None and row.attempts >= 3
    assert "ConnectError" in (await TriggerAttempt.get(resume_request_id=row.id, attempt=1)).error


async def _attempts(request_id, at_least: int) -> bool:
    return (await ResumeRequest.get(id=request_id)).attempts >= at_least


async def _status(request_id, status: str) -> bool:
    return (await ResumeRequest.get(id=request_id)).status == status


async def _wait(check, timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "timed out waiting"
        await asyncio.sleep(0.05)


def test_retry_delays_back_off_with_jitter() -> None:
    delays = (60.0, 300.0, 900.0)
    assert [retry_delay(n, delays, 0.0) for n in (1, 2, 3, 4, 5)] == [60, 300, 900, 1800, 3600]
    spread = {round(retry_delay(1, delays, 0.2)) for _ in range(200)}
    assert min(spread) >= 48 and max(spread) <= 72 and len(spread) > 5


async def test_rate_limit_per_platform() -> None:
    limiter = RateLimiter(per_minute=600.0, burst=2)  # 10 per second after a burst of 2
    waits = [await limiter.acquire("jenkins") for _ in range(4)]
    assert waits[:2] == [0.0, 0.0] and 0.05 < waits[2] <= 0.2 and waits[3] > 0.05
    assert await limiter.acquire("concourse") == 0.0  # a separate bucket


async def test_triggers_on_one_platform_are_rate_limited(
    orch_settings: Settings, jenkins: FakeJenkins, writer
) -> None:
    import httpx

    settings = orch_settings.model_copy(update={
        "trigger_rate_per_minute": 300.0, "trigger_rate_burst": 1})  # one per 0.2 s
    for _ in range(3):
        await failed_build_with_request(writer)
    async with httpx.AsyncClient() as http:
        assert await dispatch_once(Runtime(settings=settings, http=http)) == ["triggered"] * 3
    times = [c.at for c in jenkins.trigger_calls()]
    assert times[2] - times[0] >= 0.35

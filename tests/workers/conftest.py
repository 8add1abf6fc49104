"""Fixtures for the orchestrator and webhook tests: fake CIs on 127.0.0.1 and tiny delays."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from app.services import resume
from app.services.actor import Actor
from app.services.commands import OrchestrationConfig, RequestResume
from app.services.orchestration.dispatch import claim_pending, trigger_request
from app.services.orchestration.follow import claim_followed, follow_request
from app.services.orchestration.runtime import Runtime
from app.settings import Settings
from db.models import ResumeRequest, WebhookDelivery, WebhookSubscription
from tests import factories
from tests.fakes.concourse import FakeConcourse
from tests.fakes.jenkins import FakeJenkins

FAST = {
    "trigger_retry_delays": (0.05, 0.1, 0.2),
    "retry_jitter": 0.1,
    "trigger_timeout_seconds": 2.0,
    "trigger_rate_per_minute": 60_000.0,
    "trigger_rate_burst": 100,
    "orchestrator_lease_seconds": 30.0,
    "orchestrator_idle_seconds": 0.05,
    "job_poll_seconds": 0.0,
    "webhook_retry_delays": (0.05, 0.1, 0.2),
    "webhook_timeout_seconds": 2.0,
    "webhook_idle_seconds": 0.05,
    "event_gap_seconds": 0.2,
}


@pytest.fixture
def jenkins() -> Iterator[FakeJenkins]:
    with FakeJenkins() as fake:
        yield fake


@pytest.fixture
def concourse() -> Iterator[FakeConcourse]:
    with FakeConcourse() as fake:
        yield fake


@pytest.fixture
def orch_settings(database: Settings, jenkins: FakeJenkins, concourse: FakeConcourse) -> Settings:
    return database.model_copy(update={
        **FAST,
        "jenkins_url": jenkins.url, "jenkins_user": jenkins.user, "jenkins_token": jenkins.token,
        "concourse_url": concourse.url, "concourse_team": concourse.team,
        "concourse_token": concourse.token,
    })


@pytest.fixture
async def rt(orch_settings: Settings) -> AsyncIterator[Runtime]:
    async with httpx.AsyncClient() as http:
        yield Runtime(settings=orch_settings, http=http)


@pytest.fixture(autouse=True)
async def _park_foreign_work(database: Settings) -> None:
    """What other tests left behind is not these tests' to act on: pending requests are not
    triggered, and webhook subscriptions (the REST fuzzer creates some, with URLs anywhere)
    receive nothing; only 127.0.0.1 is ever called."""
    await ResumeRequest.filter(status="pending").update(orchestration_status="manual")
    await ResumeRequest.filter(next_attempt_at__isnull=False).update(next_attempt_at=None)
    await WebhookSubscription.filter(active=True).update(active=False)
    await WebhookDelivery.filter(status="pending").update(
        status="failed", last_error="parked by the test suite")


async def failed_build_with_request(
    actor: Actor, *, platform: str | None = "jenkins", pipeline: str = "images",
    job: str | None = "rhel9", project_kw: dict | None = None,
) -> ResumeRequest:
    _, build = await factories.seed_failed_build(actor)
    config = OrchestrationConfig(platform=platform, pipeline=pipeline, job=job) if platform else None
    return await resume.request_resume(
        actor=actor, build_id=str(build.id),
        command=RequestResume(resume_reason="network flake", orchestration_config=config),
    )


async def dispatch_once(rt: Runtime) -> list[str]:
    ids = await claim_pending(rt, 100)
    return [await trigger_request(rt, i) for i in ids]


async def follow_once(rt: Runtime) -> list[str | None]:
    ids = await claim_followed(rt, 100)
    return [await follow_request(rt, i) for i in ids]

"""BUILDSTATE_ORCHESTRATOR=embedded: the API process runs the orchestrator and the sender."""

from __future__ import annotations

import asyncio
import time

from asgi_lifespan import LifespanManager

from app.settings import Settings
from db.models import ResumeRequest
from tests.fakes.jenkins import FakeJenkins
from tests.workers.conftest import failed_build_with_request


async def test_embedded_orchestrator_triggers_and_stops_with_the_app(
    orch_settings: Settings, jenkins: FakeJenkins, writer
) -> None:
    from app.main import create_app

    request = await failed_build_with_request(writer)
    app = create_app(orch_settings.model_copy(update={"orchestrator": "embedded"}),
                     manage_db=False)
    async with LifespanManager(app, shutdown_timeout=30):
        deadline = time.monotonic() + 20
        while (await ResumeRequest.get(id=request.id)).status == "pending":
            assert time.monotonic() < deadline, "the embedded orchestrator did not trigger"
            await asyncio.sleep(0.05)
    assert [p["RESUME_REQUEST_ID"] for p in jenkins.triggers()] == [str(request.id)]
    assert (await ResumeRequest.get(id=request.id)).lease_owner is None

"""The resume-context answer is written straight from the service's records (orjson): it must be
byte for byte what the declared response model, `ResumeContextOut`, would write."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import orjson

from app.rest.resume import resume_context_json, resume_context_response
from app.rest.schemas import ArtifactOut, ResumableStateOut, ResumeContextOut
from app.services import artifacts, context, variables
from app.services.commands import RegisterArtifact, SetVariable
from tests import factories as f
from tests.conftest import ADMIN_KEY


def _through_the_model(ctx: context.ResumeContext) -> bytes:
    """What FastAPI wrote when the handler returned the response model."""
    config = ctx.resumable_state_config
    return ResumeContextOut(
        build_id=ctx.build_id, current_state=ctx.current_state,
        last_successful_state=ctx.last_successful_state, failed_state=ctx.failed_state,
        resume_from_state=ctx.resume_from_state,
        artifacts=[ArtifactOut.model_validate(a) for a in ctx.artifacts],
        variables=ctx.variables,
        resumable_state_config=ResumableStateOut.model_validate(config) if config else None,
        missing_artifacts=ctx.missing_artifacts, missing_variables=ctx.missing_variables,
        can_resume=ctx.can_resume, blockers=ctx.blockers,
    ).model_dump_json().encode()


async def test_same_bytes_as_the_response_model(database, client, writer, admin) -> None:
    _, b = await f.seed_failed_build(writer, configure=True)
    soon = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=2)
    await artifacts.register_artifact(actor=writer, build_id=str(b.id), command=RegisterArtifact(
        state_code=30, artifact_name="big", artifact_type="disk_image", artifact_path="s3://b/big",
        size_bytes=3 * 2**40, expires_at=soon, checksum="c0ffee",
        metadata={"float": 0.1, "unicode": "Zürich ✓", "nested": [{"a": None}]}))
    await variables.set_variable(actor=writer, build_id=str(b.id), command=SetVariable(
        variable_key="secret", variable_value="s3cr3t", is_sensitive=True))

    answer = await client.get(f"/builds/{b.id}/resume-context")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    ctx = await context.get_resume_context(actor=writer, build_id=str(b.id))
    assert answer.content == _through_the_model(ctx)
    # The fast path itself, not the fallback through the model: every value is orjson's.
    assert orjson.dumps(resume_context_json(ctx), option=orjson.OPT_UTC_Z) == answer.content
    assert answer.json()["variables"]["secret"] == "******"
    assert len(answer.json()["artifacts"]) == 2

    revealed = await client.get(f"/builds/{b.id}/resume-context?reveal=true",
                                headers={"X-API-Key": ADMIN_KEY})
    ctx = await context.get_resume_context(actor=admin, build_id=str(b.id), reveal=True)
    assert revealed.content == _through_the_model(ctx)
    assert revealed.json()["variables"]["secret"] == "s3cr3t"
    assert (await client.get(f"/builds/{b.id}/resume-context?reveal=true")).status_code == 403


async def test_unknown_build_is_404(database, client) -> None:
    answer = await client.get("/builds/00000000-0000-0000-0000-000000000000/resume-context")
    assert answer.status_code == 404 and answer.json()["code"] == "NOT_FOUND"


async def test_records_are_written_as_they_are(database, writer) -> None:
    """orjson writes the records themselves (no dict per record), and what it refuses goes
    through the response model with the same records."""
    _, b = await f.seed_failed_build(writer, configure=True)
    ctx = await context.get_resume_context(actor=writer, build_id=str(b.id))
    payload = resume_context_json(ctx)
    assert payload["artifacts"] is ctx.artifacts
    assert payload["resumable_state_config"] is ctx.resumable_state_config is not None
    assert resume_context_response(ctx).body == _through_the_model(ctx)

    # An integer beyond 64 bits (orjson refuses it): pydantic writes the answer.
    huge = dataclasses.replace(ctx.artifacts[0], metadata={"n": 2**70, "x": [1.5, None]})
    odd = dataclasses.replace(ctx, artifacts=[huge, *ctx.artifacts[1:]])
    body = resume_context_response(odd).body
    assert body == _through_the_model(odd)
    assert b'"n":1180591620717411303424' in body

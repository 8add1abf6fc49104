"""Bad input gets a clear 4xx with {"detail": ...} and leaves the database as it was."""

from __future__ import annotations

import pytest

from db.models import Artifact, Build, BuildState, Event
from tests.conftest import ADMIN_KEY, READ_KEY, unique
from tests.rest.test_seed_flow import ARTIFACT, RESUME, make_failed_build


async def test_no_key_bad_key_and_missing_scope(client):
    r = await client.get("/builds", headers={"X-API-Key": ""})
    assert r.status_code == 401 and "credential" in r.json()["detail"]
    r = await client.get("/builds", headers={"X-API-Key": "wrong-key"})
    assert r.status_code == 401 and r.json()["detail"] == "invalid or revoked API key"
    assert "wrong-key" not in r.text
    r = await client.get("/builds", headers={"Authorization": "Basic abc"})
    assert r.status_code == 401
    _, build_id = await make_failed_build(client)
    r = await client.delete(f"/builds/{build_id}/artifacts/00000000-0000-0000-0000-000000000000")
    assert r.status_code == 403 and "admin" in r.json()["detail"]


@pytest.mark.parametrize("path", ["/health", "/ready", "/docs", "/openapi.json"])
async def test_open_paths(client, path):
    r = await client.get(path, headers={"X-API-Key": ""})
    assert r.status_code == 200


async def test_docs_assets_are_local(client):
    html = (await client.get("/docs")).text
    assert "/static/swagger/swagger-ui-bundle.js" in html and "cdn" not in html.lower()
    assert (await client.get("/static/swagger/swagger-ui-bundle.js")).status_code == 200


async def test_unknown_and_malformed_ids_are_404(client):
    for path in ("/builds/00000000-0000-0000-0000-000000000000", "/builds/not-a-uuid",
                 "/builds/not-a-uuid/resume-context", "/resume-requests/%27%3B--",
                 "/projects/nope", "/projects/nope/resumable-states/35"):
        r = await client.get(path)
        assert r.status_code == 404, path
        assert "not found" in r.json()["detail"]


async def test_invalid_bodies_name_the_field(client):
    _, build_id = await make_failed_build(client)
    before = await Artifact.filter(build_id=build_id).count()
    cases = [
        ({**ARTIFACT, "state_code": "twenty"}, "state_code"),
        ({**ARTIFACT, "artifact_name": ""}, "artifact_name"),
        ({k: v for k, v in ARTIFACT.items() if k != "artifact_path"}, "artifact_path"),
        ({**ARTIFACT, "size_bytes": -1}, "size_bytes"),
        ({**ARTIFACT, "metadata": "not-an-object"}, "metadata"),
        ({**ARTIFACT, "unknown_field": 1}, "unknown_field"),
        ({**ARTIFACT, "expires_at": "2026-01-01T00:00:00"}, "expires_at"),
    ]
    for body, field in cases:
        r = await client.post(f"/builds/{build_id}/artifacts", json=body)
        assert r.status_code == 422, (field, r.text)
        assert any(field in [str(x) for x in e["loc"]] for e in r.json()["detail"]), r.text
    r = await client.post(f"/builds/{build_id}/artifacts", content=b"{not json",
                          headers={"Content-Type": "application/json"})
    assert r.status_code == 422
    assert await Artifact.filter(build_id=build_id).count() == before


async def test_duplicate_artifact_is_409_naming_the_id(client):
    _, build_id = await make_failed_build(client)
    first = (await client.post(f"/builds/{build_id}/artifacts", json=ARTIFACT)).json()
    r = await client.post(f"/builds/{build_id}/artifacts", json=ARTIFACT)
    assert r.status_code == 409 and r.json()["existing_id"] == first["id"]
    assert first["id"] in r.json()["detail"]


async def test_illegal_moves_are_409_and_leave_no_trace(client):
    _, build_id = await make_failed_build(client)
    await client.post(f"/builds/{build_id}/failure", json={"state_code": 35, "error_message": "x"})
    states = await BuildState.filter(build_id=build_id).count()
    events = await Event.filter(build_id=build_id).count()
    r = await client.post(f"/builds/{build_id}/state", json={"state_code": 35, "status": "in_progress"})
    assert r.status_code == 409 and "request a resume first" in r.json()["detail"]
    r = await client.post(f"/builds/{build_id}/state", json={"state_code": 35, "status": "done"})
    assert r.status_code == 422
    req = (await client.post(f"/builds/{build_id}/resume", json=RESUME)).json()
    r = await client.post(f"/builds/{build_id}/resume", json=RESUME)
    assert r.status_code == 409 and r.json()["existing_id"] == req["id"]
    r = await client.patch(f"/resume-requests/{req['id']}", json={"status": "completed"})
    assert r.status_code == 409 and "pending resume request cannot become completed" in r.json()["detail"]
    assert await BuildState.filter(build_id=build_id).count() == states
    assert await Event.filter(build_id=build_id).count() == events + 1  # only resume.requested


async def test_not_resumable_is_422_listing_what_is_missing(client):
    pid, build_id = await make_failed_build(client)
    await client.post(f"/projects/{pid}/resumable-states", json={
        "state_code": 35, "required_artifacts": ["golden-ami"], "required_variables": ["vpc_id"]})
    await client.post(f"/builds/{build_id}/failure", json={"state_code": 35, "error_message": "x"})
    r = await client.post(f"/builds/{build_id}/resume", json=RESUME)
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "NOT_RESUMABLE"
    assert body["missing_artifacts"] == ["golden-ami"] and body["missing_variables"] == ["vpc_id"]
    assert "golden-ami" in body["detail"] and "vpc_id" in body["detail"]
    r = await client.post(f"/builds/{build_id}/resume", json={**RESUME, "resume_reason": ""})
    assert r.status_code == 422


async def test_an_orchestration_config_the_worker_could_not_use_is_422(client):
    _, build_id = await make_failed_build(client)
    await client.post(f"/builds/{build_id}/failure", json={"state_code": 35, "error_message": "x"})
    for config, field in [({"platform": "gitlab"}, "platform"),
                          ({"platform": "jenkins", "pipeline": "../../script"}, "pipeline"),
                          ({"platform": "jenkins", "job": "a/b"}, "job")]:
        r = await client.post(f"/builds/{build_id}/resume",
                              json={**RESUME, "orchestration_config": config})
        assert r.status_code == 422, r.text
        assert ["body", "orchestration_config", field] in [e["loc"] for e in r.json()["detail"]]
    assert (await client.get(f"/builds/{build_id}/resume-requests")).json() == []


async def test_oversized_body_is_413(client):
    _, build_id = await make_failed_build(client)
    big = {**ARTIFACT, "metadata": {"blob": "x" * (1024 * 1024 + 10)}}
    r = await client.post(f"/builds/{build_id}/artifacts", json=big)
    assert r.status_code == 413 and "larger than" in r.json()["detail"]


async def test_read_key_cannot_write(client):
    r = await client.post("/projects", json={"id": unique(), "name": "x"},
                          headers={"X-API-Key": "admin-key-99999"})
    assert r.status_code == 201
    # dev key has read+write; make a read-only key through the admin API
    r = await client.post("/auth/keys", json={"name": unique("ro"), "scopes": ["read"]},
                          headers={"X-API-Key": ADMIN_KEY})
    assert r.status_code == 201
    ro = r.json()["key"]
    assert (await client.get("/builds", headers={"X-API-Key": ro})).status_code == 200
    r = await client.post("/projects", json={"id": unique(), "name": "x"}, headers={"X-API-Key": ro})
    assert r.status_code == 403
    # revoke it: it stops working
    key_id = r = (await client.get("/auth/keys", headers={"X-API-Key": ADMIN_KEY})).json()
    mine = [k for k in key_id if k["prefix"] == ro[:8]][0]
    assert (await client.delete(f"/auth/keys/{mine['id']}", headers={"X-API-Key": ADMIN_KEY})).status_code == 200
    assert (await client.get("/builds", headers={"X-API-Key": ro})).status_code == 401
    assert READ_KEY


async def test_jwt_flow(client):
    r = await client.post("/auth/token")
    assert r.status_code == 200
    tok = r.json()
    assert tok["token_type"] == "bearer" and tok["expires_in"] > 0
    headers = {"Authorization": f"Bearer {tok['access_token']}", "X-API-Key": ""}
    assert (await client.get("/builds", headers=headers)).status_code == 200
    tampered = tok["access_token"][:-3] + ("aaa" if not tok["access_token"].endswith("aaa") else "bbb")
    r = await client.get("/builds", headers={"Authorization": f"Bearer {tampered}", "X-API-Key": ""})
    assert r.status_code == 401


async def test_build_number_must_be_unique_in_project(client):
    pid, build_id = await make_failed_build(client)
    r = await client.post("/builds", json={"project_id": pid, "build_number": 456})
    assert r.status_code == 409 and r.json()["existing_id"] == build_id
    r = await client.post("/builds", json={"project_id": "no-such-project", "build_number": 1})
    assert r.status_code == 404
    assert await Build.filter(project_id="no-such-project").count() == 0


async def test_explicit_null_on_a_required_field_is_422_not_500(client):
    _, build_id = await make_failed_build(client)
    art = (await client.post(f"/builds/{build_id}/artifacts", json=ARTIFACT)).json()
    for body in ({"is_resumable": None}, {"metadata": None}, {"artifact_name": None}):
        r = await client.patch(f"/builds/{build_id}/artifacts/{art['id']}", json=body)
        assert r.status_code == 422, r.text
        assert next(iter(body)) in r.text
    r = await client.patch(f"/builds/{build_id}/artifacts/{art['id']}", json={"checksum": None})
    assert r.status_code == 200  # nullable fields may be cleared
    job = (await client.post(f"/builds/{build_id}/jobs", json={"platform": "jenkins"})).json()
    r = await client.patch(f"/builds/{build_id}/jobs/{job['id']}", json={"status": None})
    assert r.status_code == 422


async def test_naive_cursor_is_refused(database, reader):
    import base64

    from app.services import builds
    from app.services.errors import ValidationFailed

    bad = base64.urlsafe_b64encode(b"2020-01-01T00:00:00|00000000-0000-0000-0000-000000000000").decode()
    with pytest.raises(ValidationFailed):
        await builds.list_builds(actor=reader, after=bad)

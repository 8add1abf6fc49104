"""The seed document's curl examples, verbatim, over HTTP."""

from __future__ import annotations

from tests.conftest import ADMIN_KEY, unique

ARTIFACT = {
    "state_code": 20,
    "artifact_name": "rhel9-snapshot-001",
    "artifact_type": "vm_snapshot",
    "artifact_path": "s3://my-bucket/snapshots/snapshot-001.vmdk",
    "storage_backend": "s3",
    "storage_region": "us-east-1",
    "storage_bucket": "my-bucket",
    "storage_key": "snapshots/snapshot-001.vmdk",
    "is_resumable": True,
    "metadata": {"vm_id": "i-abc123", "snapshot_id": "snap-xyz789"},
}
VARIABLE = {
    "variable_key": "vm_instance_id",
    "variable_value": "i-0123456789abcdef",
    "set_at_state": 20,
    "is_required_for_resume": True,
}
RESUME = {
    "resume_from_state": 35,
    "resume_reason": "Network timeout during package installation",
    "requested_by": "ops-team",
}


async def make_failed_build(client, *, states: bool = True) -> tuple[str, str]:
    pid = unique("rhel9-base")
    r = await client.post("/projects", json={"id": pid, "name": "RHEL 9 base image"})
    assert r.status_code == 201, r.text
    if states:
        for code, name in [(0, "pending"), (10, "provision"), (20, "packages"), (30, "configure"),
                           (35, "harden"), (100, "complete")]:
            r = await client.post(f"/projects/{pid}/state-codes",
                                  json={"code": code, "name": name, "is_final": code == 100})
            assert r.status_code == 201, r.text
    r = await client.post("/builds", json={"project_id": pid, "build_number": 456})
    assert r.status_code == 201, r.text
    build_id = r.json()["id"]
    for code in (10, 20, 30):
        for status in ("in_progress", "completed"):
            r = await client.post(f"/builds/{build_id}/state", json={"state_code": code, "status": status})
            assert r.status_code == 200, r.text
    return pid, build_id


async def test_seed_flow(client):
    pid, build_id = await make_failed_build(client)
    r = await client.post(f"/builds/{build_id}/artifacts", json=ARTIFACT)
    assert r.status_code == 201, r.text
    artifact = r.json()
    assert {k: artifact[k] for k in ARTIFACT} == ARTIFACT and artifact["id"]
    r = await client.post(f"/builds/{build_id}/variables", json=VARIABLE)
    assert r.status_code == 201
    r = await client.post(f"/builds/{build_id}/variables", json={
        "variable_key": "vpc_id", "variable_value": "vpc-123456"})
    assert r.status_code == 201
    r = await client.post(f"/builds/{build_id}/failure", json={
        "state_code": 35, "error_message": "Network timeout", "retryable": True})
    assert r.status_code == 200 and r.json()["status"] == "failed"

    r = await client.get(f"/builds/{build_id}/resume-context")
    assert r.status_code == 200
    ctx = r.json()
    assert ctx["build_id"] == build_id
    assert (ctx["current_state"], ctx["last_successful_state"], ctx["failed_state"],
            ctx["resume_from_state"]) == (30, 30, 35, 35)
    assert ctx["variables"] == {"vm_instance_id": "i-0123456789abcdef", "vpc_id": "vpc-123456"}
    assert ctx["resumable_state_config"] is None
    [a] = ctx["artifacts"]
    assert {k: a[k] for k in ("artifact_name", "artifact_type", "state_code", "artifact_path",
                              "is_resumable", "metadata")} == {
        "artifact_name": "rhel9-snapshot-001", "artifact_type": "vm_snapshot", "state_code": 20,
        "artifact_path": "s3://my-bucket/snapshots/snapshot-001.vmdk", "is_resumable": True,
        "metadata": {"vm_id": "i-abc123", "snapshot_id": "snap-xyz789"}}
    assert ctx["can_resume"] is True and ctx["missing_artifacts"] == []

    r = await client.post(f"/builds/{build_id}/resume", json=RESUME)
    assert r.status_code == 201, r.text
    req = r.json()
    assert req["resume_request_id"] == req["id"] and req["status"] == "pending"
    assert (req["resume_from_state"], req["requested_by"]) == (35, "ops-team")

    # The resume job continues the build through the state API, which reopens it.
    r = await client.post(f"/builds/{build_id}/state", json={"state_code": 35, "status": "in_progress"})
    assert r.status_code == 200 and r.json()["status"] == "running" and r.json()["resume_count"] == 1
    r = await client.get(f"/resume-requests/{req['id']}")
    assert r.json()["status"] == "running"
    r = await client.post(f"/builds/{build_id}/state", json={"state_code": 100, "status": "completed"})
    assert r.json()["status"] == "completed"
    r = await client.get(f"/builds/{build_id}/resume-requests")
    assert [x["status"] for x in r.json()] == ["completed"]


async def test_every_seed_path_answers(client):
    pid, build_id = await make_failed_build(client)
    art = (await client.post(f"/builds/{build_id}/artifacts", json=ARTIFACT)).json()
    await client.post(f"/builds/{build_id}/variables", json=VARIABLE)
    base = f"/builds/{build_id}"
    assert (await client.get(f"{base}/artifacts?artifact_type=vm_snapshot&is_resumable=true")).json()[0]["id"] == art["id"]
    assert (await client.get(f"{base}/artifacts/{art['id']}")).status_code == 200
    r = await client.patch(f"{base}/artifacts/{art['id']}", json={"metadata": {"note": "x"}})
    assert r.status_code == 200 and r.json()["metadata"] == {"note": "x"}
    assert (await client.get(f"{base}/variables")).json()[0]["variable_key"] == "vm_instance_id"
    assert (await client.get(f"{base}/variables/dict")).json() == {"vm_instance_id": "i-0123456789abcdef"}
    assert (await client.get(f"{base}/variables/vm_instance_id")).json()["set_at_state"] == 20
    r = await client.patch(f"{base}/variables/vm_instance_id", json={"variable_value": "i-2"})
    assert r.status_code == 200 and r.json()["variable_value"] == "i-2"
    r = await client.post(f"{base}/variables", json={"variable_key": "vm_instance_id", "variable_value": "i-3"})
    assert r.status_code == 200  # replaced, not created
    r = await client.post(f"/projects/{pid}/resumable-states", json={
        "state_code": 35, "resume_strategy": "from_artifact",
        "required_artifacts": ["vm_snapshot"], "required_variables": ["vm_instance_id"]})
    assert r.status_code == 201, r.text
    assert len((await client.get(f"/projects/{pid}/resumable-states")).json()) == 1
    assert (await client.get(f"/projects/{pid}/resumable-states/35")).json()["required_artifacts"] == ["vm_snapshot"]
    r = await client.put(f"/projects/{pid}/resumable-states/35", json={"resume_timeout_seconds": 600})
    assert r.json()["resume_timeout_seconds"] == 600 and r.json()["required_variables"] == ["vm_instance_id"]
    r = await client.post(f"{base}/jobs", json={"platform": "jenkins", "job_name": "rhel9", "build_number": 77})
    assert r.status_code == 201
    job = r.json()
    assert len((await client.get(f"{base}/jobs")).json()) == 1
    r = await client.patch(f"{base}/jobs/{job['id']}", json={"status": "running"})
    assert r.json()["status"] == "running" and r.json()["started_at"]
    await client.post(f"{base}/failure", json={"state_code": 35, "error_message": "x"})
    req = (await client.post(f"{base}/resume", json=RESUME)).json()
    r = await client.patch(f"/resume-requests/{req['id']}", json={"status": "triggered",
                                                                  "orchestration_job_url": "http://ci/1"})
    assert r.json()["status"] == "triggered" and r.json()["orchestration_job_url"] == "http://ci/1"
    r = await client.delete(f"{base}/artifacts/{art['id']}", headers={"X-API-Key": ADMIN_KEY})
    assert r.status_code == 200 and r.json()["deleted_at"]
    assert (await client.delete(f"{base}/variables/vpc_nope")).status_code == 404
    assert (await client.delete(f"{base}/variables/vm_instance_id")).status_code == 204
    events = (await client.get(f"{base}/events")).json()
    assert "resume.requested" in [e["action"] for e in events]

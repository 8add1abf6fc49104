"""The seed's whole flow with the real `bldst` against a real service, ending in `eval` and resume."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from .conftest import Bldst

NASTY = "it's $(touch pwned) `id`; \"quoted\" \\ and\nnewline"


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_seed_flow_create_to_resume(bldst: Bldst, project: str) -> None:
    build = bldst.ok(
        "build", "create", "--project-id", project, "--build-number", "4242",
        "--platform", "aws", "--os-version", "rhel9", "--image-type", "ami",
    )
    build_id = build["id"]
    assert build["status"] == "pending" and build["build_number"] == 4242

    # States 10 and 20; state 20 leaves a snapshot and the VM's ids behind.
    bldst.ok("build", "update-state", build_id, "--state", "10", "--status", "in_progress")
    assert bldst.ok("build", "update-state", build_id, "--state", "10", "--status", "completed")["status"] == "running"
    bldst.ok("build", "update-state", build_id, "--state", "20", "--status", "in_progress", "--message", "Installing packages")
    artifact = bldst.ok(
        "artifact", "register", build_id, "--state", "20", "--name", "rhel9-snapshot-001", "--type", "vm_snapshot",
        "--path", "s3://my-bucket/snapshots/snapshot-001.vmdk", "--backend", "s3", "--region", "us-east-1",
        "--bucket", "my-bucket", "--key", "snapshots/snapshot-001.vmdk",
        "--metadata", '{"vm_id": "i-abc123", "snapshot_id": "snap-xyz789"}',
    )
    assert artifact["is_resumable"] is True and artifact["metadata"]["snapshot_id"] == "snap-xyz789"
    variables = bldst.ok(
        "variable", "set", build_id, "vm_instance_id=i-0123456789abcdef", "vpc_id=vpc-123456",
        f"motd={NASTY}", "--state", "20", "--required-for-resume",
    )
    assert [v["variable_key"] for v in variables] == ["vm_instance_id", "vpc_id", "motd"]
    assert all(v["is_required_for_resume"] and v["set_at_state"] == 20 for v in variables)
    bldst.ok("build", "update-state", build_id, "--state", "20", "--status", "completed")
    bldst.ok("build", "update-state", build_id, "--state", "30", "--status", "in_progress")
    bldst.ok("build", "update-state", build_id, "--state", "30", "--status", "completed")

    # State 35 breaks: the seed's example (current 30, last successful 30, failed 35).
    failed = bldst.ok(
        "build", "record-failure", build_id, "--state", "35",
        "--error", "Network timeout during package installation", "--error-code", "NET_TIMEOUT", "--retryable",
    )
    assert failed["status"] == "failed"
    assert (failed["current_state"], failed["last_successful_state"], failed["failed_state"]) == (30, 30, 35)

    context = bldst.ok("build", "resume-context", build_id, "--output", "json")
    assert context["build_id"] == build_id
    assert (context["current_state"], context["last_successful_state"], context["failed_state"]) == (30, 30, 35)
    assert context["resume_from_state"] == 35 and context["can_resume"] is True
    assert context["variables"] == {"vm_instance_id": "i-0123456789abcdef", "vpc_id": "vpc-123456", "motd": NASTY}
    assert [a["artifact_name"] for a in context["artifacts"]] == ["rhel9-snapshot-001"]
    assert context["artifacts"][0]["artifact_path"] == "s3://my-bucket/snapshots/snapshot-001.vmdk"

    # The resume script: eval the env lines in bash, exactly as a build script would.
    script = r"""
set -eu
eval "$("$BLDST" build resume-context "$BUILD_ID" --output env)"
printf '%s\0' "$BLDST_BUILD_ID" "$BLDST_RESUME_FROM_STATE" "$BLDST_CURRENT_STATE" \
  "$BLDST_LAST_SUCCESSFUL_STATE" "$BLDST_FAILED_STATE" "$BLDST_CAN_RESUME" \
  "$BLDST_VAR_VM_INSTANCE_ID" "$BLDST_VAR_VPC_ID" "$BLDST_VAR_MOTD" \
  "$BLDST_ARTIFACT_RHEL9_SNAPSHOT_001_PATH" "$BLDST_ARTIFACT_RHEL9_SNAPSHOT_001_TYPE" "$BLDST_MISSING_VARIABLES"
"""
    env = bldst.env(BLDST=bldst.exe, BUILD_ID=build_id)
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, cwd=bldst.home, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\0")[:-1] == [
        build_id, "35", "30", "30", "35", "true",
        "i-0123456789abcdef", "vpc-123456", NASTY,
        "s3://my-bucket/snapshots/snapshot-001.vmdk", "vm_snapshot", "",
    ]
    assert not (bldst.home / "pwned").exists()

    # Resume from the failed state.
    request = bldst.ok(
        "build", "resume", build_id, "--from-state", "35", "--reason", "Network timeout during package installation",
        "--requested-by", "ops-team", "--platform", "jenkins", "--pipeline", "rhel9", "--job", "build-image",
    )
    assert request["status"] == "pending" and request["resume_request_id"] == request["id"]
    assert (request["resume_from_state"], request["requested_by"], request["request_source"]) == (35, "ops-team", "cli")
    assert request["orchestration_config"] == {"platform": "jenkins", "pipeline": "rhel9", "job": "build-image"}
    listed = bldst.ok("build", "resume-requests", build_id)
    assert [r["id"] for r in listed] == [request["id"]]

    # The resume job starts at state 35: the build reopens and the request runs.
    reopened = bldst.ok("build", "update-state", build_id, "--state", "35", "--status", "in_progress")
    assert reopened["status"] == "running" and reopened["resume_count"] == 1
    assert bldst.ok("resume-request", "get", request["id"])["status"] == "running"
    bldst.ok("build", "update-state", build_id, "--state", "35", "--status", "completed")
    done = bldst.ok("build", "update-state", build_id, "--state", "100", "--status", "completed")
    assert done["status"] == "completed"
    assert bldst.ok("resume-request", "get", request["id"])["status"] == "completed"

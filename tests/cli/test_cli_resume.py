"""Resumable-state configs, refused and accepted resumes, resume requests, cancel and --wait."""

from __future__ import annotations

import subprocess
import time
from typing import Any

import httpx

from .conftest import Bldst, assert_one_line_error, call, fail_at_35


def test_resumable_state_commands_and_a_refused_resume(bldst: Bldst, api: httpx.Client, project: str, build: dict[str, Any]) -> None:
    created = bldst.ok(
        "resumable-state", "create", project, "--state", "35", "--strategy", "from_artifact",
        "--required-artifacts", "golden-snapshot", "--required-variables", "vm_id,ssh_key",
        "--command", "ansible-playbook harden.yml", "--timeout", "1800", "--description", "hardening",
    )
    assert (created["required_artifacts"], created["required_variables"], created["resume_timeout_seconds"]) == (
        ["golden-snapshot"], ["vm_id", "ssh_key"], 1800,
    )
    bldst.ok("resumable-state", "create", project, "--state", "30", "--not-resumable")
    assert [c["state_code"] for c in bldst.ok("resumable-state", "list", project)] == [30, 35]
    assert bldst.ok("resumable-state", "get", project, "35")["resume_command"] == "ansible-playbook harden.yml"
    updated = bldst.ok("resumable-state", "update", project, "35", "--timeout", "7200", "--notes", "n")
    assert (updated["resume_timeout_seconds"], updated["required_variables"], updated["notes"]) == (7200, ["vm_id", "ssh_key"], "n")
    assert_one_line_error(bldst("resumable-state", "get", project, "20"), 1, "(HTTP 404)")

    build_id = build["id"]
    fail_at_35(api, build_id)
    call(api, "POST", f"/builds/{build_id}/variables", {"variable_key": "vm_id", "variable_value": "i-1"})
    context = bldst.ok("build", "resume-context", build_id)
    assert context["can_resume"] is False
    assert context["missing_variables"] == ["ssh_key"] and context["missing_artifacts"] == ["golden-snapshot"]
    assert context["resumable_state_config"]["resume_strategy"] == "from_artifact"
    env = bldst("build", "resume-context", build_id, "-o", "env", "--export").stdout
    assert "export BLDST_CAN_RESUME=false\n" in env and "export BLDST_MISSING_VARIABLES=ssh_key\n" in env
    assert "export BLDST_RESUME_COMMAND='ansible-playbook harden.yml'\n" in env

    # The service says no, and the one line says what is missing.
    refused = bldst("build", "resume", build_id, "--reason", "retry")
    assert_one_line_error(refused, 1, "ssh_key", "golden-snapshot", "(HTTP 422)")
    assert_one_line_error(bldst("build", "resume", build_id, "--from-state", "30", "--reason", "r"), 1, "(HTTP 422)")

    call(api, "POST", f"/builds/{build_id}/variables", {"variable_key": "ssh_key", "variable_value": "k"})
    artifact = {"state_code": 20, "artifact_name": "golden-snapshot", "artifact_type": "vm_snapshot", "artifact_path": "p"}
    call(api, "POST", f"/builds/{build_id}/artifacts", artifact)
    assert bldst.ok("build", "resume-context", build_id)["can_resume"] is True
    request = bldst.ok("build", "resume", build_id, "--reason", "retry", "--override", "vm_id=i-2")
    assert request["resume_from_state"] == 35
    assert bldst.ok("variable", "get", build_id, "vm_id")["variable_value"] == "i-2"


def test_resume_requests_cancel_and_update(bldst: Bldst, api: httpx.Client, build: dict[str, Any]) -> None:
    build_id = build["id"]
    fail_at_35(api, build_id)
    assert_one_line_error(bldst("build", "cancel-resume", build_id), 1, "no open resume request")
    first = bldst.ok("build", "resume", build_id, "--reason", "first")
    second = bldst("build", "resume", build_id, "--reason", "second")
    assert_one_line_error(second, 1, first["id"], "(HTTP 409)")
    assert bldst.ok("resume-request", "get", first["id"])["resume_reason"] == "first"
    triggered = bldst.ok(
        "resume-request", "update", first["id"], "--status", "triggered", "--job-id", "77",
        "--job-url", "http://ci.invalid/77", "--orchestration-status", "queued", "--metadata", '{"k": 1}',
    )
    assert (triggered["status"], triggered["orchestration_job_id"], triggered["orchestration_status"]) == ("triggered", "77", "queued")
    cancelled = bldst.ok("build", "cancel-resume", build_id)
    assert (cancelled["id"], cancelled["status"]) == (first["id"], "cancelled")
    assert_one_line_error(bldst("build", "cancel-resume", build_id), 1, "no open resume request")
    assert_one_line_error(bldst("resume-request", "update", first["id"], "--status", "running"), 1, "(HTTP 409)")
    assert_one_line_error(bldst("resume-request", "update", first["id"]), 2, "nothing to change")
    assert_one_line_error(bldst("resume-request", "get", "00000000-0000-0000-0000-000000000000"), 1, "(HTTP 404)")
    statuses = [r["status"] for r in bldst.ok("resume-request", "list", build_id)]
    assert statuses == ["cancelled"]
    # A cancelled request leaves the build resumable again.
    assert bldst.ok("build", "resume", build_id, "--reason", "again")["status"] == "pending"


def test_resume_wait_follows_the_request(bldst: Bldst, api: httpx.Client, build: dict[str, Any]) -> None:
    build_id = build["id"]
    fail_at_35(api, build_id)
    # Nothing moves it within 0 seconds: exit 1, the request printed, one line on stderr.
    timed_out = bldst("build", "resume", build_id, "--reason", "r", "--wait", "--wait-timeout", "0")
    assert timed_out.returncode == 1 and "timed out" in timed_out.stderr and len(timed_out.err_lines) == 1
    assert timed_out.json()["status"] == "pending" and timed_out.json()["id"] in timed_out.stderr
    bldst.ok("build", "cancel-resume", build_id)

    waiting = subprocess.Popen(
        [bldst.exe, "build", "resume", build_id, "--reason", "r", "--wait", "--wait-timeout", "60", "--poll-interval", "0.2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=bldst.env(), cwd=bldst.home,
    )
    try:
        deadline = time.monotonic() + 30
        open_requests: list[dict[str, Any]] = []
        while not open_requests and time.monotonic() < deadline:
            open_requests = [r for r in call(api, "GET", f"/builds/{build_id}/resume-requests") if r["status"] == "pending"]
            time.sleep(0.2)
        assert open_requests, "the resume request never appeared"
        assert waiting.poll() is None  # still waiting while the request is pending
        call(api, "PATCH", f"/resume-requests/{open_requests[0]['id']}", {"status": "triggered"})
        time.sleep(0.6)
        assert waiting.poll() is None  # triggered is still waiting
        call(api, "POST", f"/builds/{build_id}/state", {"state_code": 35, "status": "in_progress"})  # the job starts
        out, err = waiting.communicate(timeout=30)
    finally:
        if waiting.poll() is None:
            waiting.kill()
            waiting.communicate()
    assert waiting.returncode == 0, err
    assert '"status": "running"' in out

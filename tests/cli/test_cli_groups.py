"""Every command group of the real `bldst` against a real service: project, state-code, build,
artifact, variable, job, auth, health."""

from __future__ import annotations

from typing import Any

import yaml

from .conftest import ADMIN_KEY, Bldst, assert_one_line_error


def test_project_commands(bldst: Bldst, project: str) -> None:
    got = bldst.ok("project", "get", project)
    assert got["id"] == project and got["name"] == f"Project {project}"
    assert project in [p["id"] for p in bldst.ok("project", "list")]
    created = bldst.ok("project", "create", f"{project}-x", "--name", "X", "--description", "d", "--auto-resume", "--max-auto-resumes", "5", "--default-platform", "jenkins")
    assert (created["auto_resume"], created["max_auto_resumes"], created["description"], created["default_platform"]) == (True, 5, "d", "jenkins")
    assert_one_line_error(bldst("project", "create", project, "--name", "again"), 1, "(HTTP 409)")
    assert_one_line_error(bldst("project", "create", "Not A Slug", "--name", "n"), 1, "id", "(HTTP 422)")
    assert_one_line_error(bldst("project", "get", "no-such-project"), 1, "(HTTP 404)")


def test_state_code_commands(bldst: Bldst, project: str) -> None:
    made = bldst.ok("state-code", "create", project, "--code", "50", "--name", "publish", "--description", "d", "--error")
    assert (made["code"], made["name"], made["is_error"], made["is_final"]) == (50, "publish", True, False)
    codes = bldst.ok("state-code", "list", project)
    assert [c["code"] for c in codes] == [10, 20, 30, 35, 50, 100]
    assert {c["code"]: c for c in codes}[100]["is_final"] is True
    assert_one_line_error(bldst("state-code", "create", project, "--code", "10", "--name", "dup"), 1, "(HTTP 409)")


def test_build_commands(bldst: Bldst, project: str) -> None:
    build = bldst.ok("build", "create", "--project-id", project, "--build-number", "7", "--metadata", '{"commit": "abc"}')
    build_id = build["id"]
    assert build["metadata"] == {"commit": "abc"}
    assert bldst.ok("build", "get", build_id)["id"] == build_id
    other = bldst.ok("build", "create", "--project-id", project, "--build-number", "8")
    listed = bldst.ok("build", "list", "--project-id", project)
    assert {b["id"] for b in listed} == {build_id, other["id"]}
    assert len(bldst.ok("build", "list", "--project-id", project, "--limit", "1")) == 1
    bldst.ok("build", "update-state", build_id, "--state", "10", "--status", "in_progress", "--metadata", '{"host": "h1"}')
    assert [b["id"] for b in bldst.ok("build", "list", "--project-id", project, "--status", "running")] == [build_id]
    bldst.ok("build", "update-state", build_id, "--state", "10", "--status", "completed", "--message", "provisioned")
    failed = bldst.ok("build", "record-failure", build_id, "--error", "disk full")  # state defaults to the current one
    assert (failed["status"], failed["failed_state"]) == ("failed", 10)
    history = bldst.ok("build", "states", build_id)
    assert [(h["state_code"], h["status"]) for h in history][:2] == [(10, "in_progress"), (10, "completed")]
    assert history[1]["message"] == "provisioned"
    assert any(h.get("error_message") == "disk full" for h in history)
    # A failed build refuses a transition until a resume is requested: the message says so.
    assert_one_line_error(bldst("build", "update-state", build_id, "--state", "20", "--status", "in_progress"), 1, "resume", "(HTTP 409)")
    duplicate = bldst("build", "create", "--project-id", project, "--build-number", "7")
    assert_one_line_error(duplicate, 1, "(HTTP 409)")


def register(bldst: Bldst, build_id: str, name: str, *extra: str, state: str = "20", kind: str = "vm_snapshot") -> dict[str, Any]:
    return bldst.ok(
        "artifact", "register", build_id, "--state", state, "--name", name, "--type", kind,
        "--path", f"s3://bucket/{name}", "--backend", "s3", *extra,
    )


def test_artifact_commands(bldst: Bldst, build: dict[str, Any]) -> None:
    build_id = build["id"]
    snap = register(bldst, build_id, "snap-1", "--size", "1024", "--checksum", "abc", "--expires-at", "2999-01-01T00:00:00Z")
    assert (snap["size_bytes"], snap["checksum"], snap["checksum_algorithm"]) == (1024, "abc", "sha256")
    image = register(bldst, build_id, "image-1", "--final", "--not-resumable", state="30", kind="ami")
    assert (image["is_final"], image["is_resumable"]) == (True, False)
    ids = lambda *args: {a["id"] for a in bldst.ok("artifact", "list", build_id, *args)}  # noqa: E731
    assert ids() == {snap["id"], image["id"]}
    assert ids("--state", "20") == {snap["id"]}
    assert ids("--type", "ami") == {image["id"]}
    assert ids("--resumable") == {snap["id"]}
    assert ids("--not-resumable") == {image["id"]}
    assert ids("--final") == {image["id"]}
    assert bldst.ok("artifact", "get", build_id, snap["id"])["artifact_name"] == "snap-1"
    assert bldst.ok("artifact", "get", build_id, "image-1")["id"] == image["id"]  # by name
    updated = bldst.ok("artifact", "update", build_id, "snap-1", "--final", "--metadata", '{"ami": "ami-1"}', "--region", "eu-west-1")
    assert (updated["is_final"], updated["metadata"], updated["storage_region"]) == (True, {"ami": "ami-1"}, "eu-west-1")
    dup = bldst("artifact", "register", build_id, "--state", "20", "--name", "snap-1", "--type", "t", "--path", "p", "--backend", "s3")
    assert_one_line_error(dup, 1, snap["id"], "(HTTP 409)")
    assert_one_line_error(bldst("artifact", "get", build_id, "no-such-name"), 1, "no artifact named 'no-such-name'")
    # Deleting needs admin.
    assert_one_line_error(bldst("artifact", "delete", build_id, snap["id"]), 1, "(HTTP 403)")
    bldst.ok("artifact", "delete", build_id, snap["id"], "--api-key", ADMIN_KEY)
    assert ids() == {image["id"]}


def test_variable_commands(bldst: Bldst, build: dict[str, Any]) -> None:
    build_id = build["id"]
    one = bldst.ok("variable", "set", build_id, "vm_id=i-abc", "--state", "20", "--required-for-resume")
    assert (one["variable_key"], one["variable_value"], one["set_at_state"], one["is_required_for_resume"]) == ("vm_id", "i-abc", 20, True)
    # Upsert: a new value, flags not given keep theirs.
    again = bldst.ok("variable", "set", build_id, "vm_id=i-def")
    assert (again["variable_value"], again["is_required_for_resume"], again["id"]) == ("i-def", True, one["id"])
    many = bldst.ok("variable", "set", build_id, "vpc_id=vpc-1", "empty=", "eq=a=b")
    assert [(v["variable_key"], v["variable_value"]) for v in many] == [("vpc_id", "vpc-1"), ("empty", ""), ("eq", "a=b")]
    secret = bldst.ok("variable", "set", build_id, "token=s3cr3t-value", "--sensitive")
    assert secret["variable_value"] == "******"
    listed = {v["variable_key"]: v["variable_value"] for v in bldst.ok("variable", "list", build_id)}
    assert listed == {"vm_id": "i-def", "vpc_id": "vpc-1", "empty": "", "eq": "a=b", "token": "******"}
    assert bldst.ok("variable", "get", build_id, "token")["variable_value"] == "******"
    assert bldst.ok("variable", "get", build_id, "token", "--reveal", "--api-key", ADMIN_KEY)["variable_value"] == "s3cr3t-value"
    assert "s3cr3t-value" not in bldst("variable", "get", build_id, "token", "--reveal").stdout
    bldst.ok("variable", "delete", build_id, "eq")
    assert_one_line_error(bldst("variable", "get", build_id, "eq"), 1, "(HTTP 404)")
    assert_one_line_error(bldst("variable", "set", build_id, "1bad=x"), 1, "variable '1bad'", "variable_key")


def test_job_commands(bldst: Bldst, build: dict[str, Any]) -> None:
    build_id = build["id"]
    job = bldst.ok(
        "job", "link", build_id, "--platform", "jenkins", "--pipeline", "rhel9", "--job", "build-image",
        "--url", "http://ci.invalid/job/1", "--job-id", "1", "--build-number", "55", "--triggered-by", "alice",
        "--trigger-source", "webhook", "--status", "running", "--started-at", "2026-01-01T00:00:00Z",
    )
    assert (job["platform"], job["pipeline_name"], job["job_name"], job["build_number"], job["trigger_source"]) == (
        "jenkins", "rhel9", "build-image", "55", "webhook",
    )
    child = bldst.ok("job", "link", build_id, "--platform", "jenkins", "--resume-job", "--resumed-from-state", "35", "--parent-job-id", job["id"])
    assert (child["is_resume_job"], child["parent_job_id"]) == (True, job["id"])
    assert {j["id"] for j in bldst.ok("job", "list", build_id)} == {job["id"], child["id"]}
    updated = bldst.ok("job", "update", build_id, job["id"], "--status", "success", "--completed-at", "2026-01-01T01:00:00Z")
    assert updated["status"] == "success" and updated["completed_at"].startswith("2026-01-01T01:00:00")
    assert_one_line_error(bldst("job", "update", build_id, job["id"], "--status", "exploded"), 2, "--status")


def test_auth_and_health(bldst: Bldst) -> None:
    token = bldst.ok("auth", "token")
    assert token["token_type"].lower() == "bearer" and token["expires_in"] > 0 and token["access_token"]
    quiet = bldst("auth", "token", "-q")
    assert quiet.returncode == 0 and quiet.stdout.count("\n") == 1 and quiet.stdout.count(".") == 2  # a JWT
    assert bldst.ok("health")["status"] == "ok"
    assert bldst.ok("health", env={"BLDST_API_KEY": None})["status"] == "ok"  # no key needed
    assert bldst.ok("health", "--ready")["status"] == "ok"


def test_output_formats(bldst: Bldst, build: dict[str, Any]) -> None:
    build_id = build["id"]
    as_yaml = yaml.safe_load(bldst("build", "get", build_id, "-o", "yaml").stdout)
    assert as_yaml["id"] == build_id
    table = bldst("build", "get", build_id, "--output", "table")
    assert table.returncode == 0 and build_id in table.stdout and "\x1b[" not in table.stdout
    listed = bldst("--output", "table", "build", "list", "--project-id", build["project_id"])
    assert listed.returncode == 0 and "build_number" in listed.stdout
    context_table = bldst("build", "resume-context", build_id, "-o", "table")
    assert context_table.returncode == 0 and "resume_from_state" in context_table.stdout
    assert yaml.safe_load(bldst("build", "resume-context", build_id, "-o", "yaml").stdout)["build_id"] == build_id

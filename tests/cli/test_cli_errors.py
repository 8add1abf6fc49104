"""Bad input against a real service: one clear line, the documented exit code, never the key."""

from __future__ import annotations

import uuid
from typing import Any

from .conftest import DEV_KEY, Bldst, assert_one_line_error, free_port

WRONG_KEY = "wrong-key-0000-abcdef"


def test_unknown_build_id(bldst: Bldst) -> None:
    missing = str(uuid.uuid4())
    assert_one_line_error(bldst("build", "get", missing), 1, missing, "(HTTP 404)")
    assert_one_line_error(bldst("build", "get", "not-a-uuid"), 1, "(HTTP 404)")
    assert_one_line_error(bldst("build", "update-state", missing, "--state", "1", "--status", "completed"), 1, "(HTTP 404)")
    assert_one_line_error(bldst("variable", "set", missing, "a=1"), 1, "(HTTP 404)")
    assert_one_line_error(bldst("artifact", "list", missing), 1, "(HTTP 404)")
    # The resume context comes from GraphQL: an unknown id is `build: null`.
    assert_one_line_error(bldst("build", "resume-context", missing), 1, f"build {missing} not found")
    assert_one_line_error(bldst("build", "resume-context", missing, "-o", "env"), 1, "not found")
    assert_one_line_error(bldst("build", "resume-context", "../../etc/passwd"), 1)


def test_wrong_or_missing_key(bldst: Bldst, build: dict[str, Any]) -> None:
    for result in (
        bldst("build", "get", build["id"], "--api-key", WRONG_KEY),
        bldst("build", "get", build["id"], env={"BLDST_API_KEY": WRONG_KEY}),
        bldst("build", "create", "--project-id", "p", "--build-number", "1", env={"BLDST_API_KEY": WRONG_KEY}),
        bldst("build", "resume-context", build["id"], env={"BLDST_API_KEY": WRONG_KEY}),
    ):
        line = assert_one_line_error(result, 1)
        assert WRONG_KEY not in result.stdout + result.stderr
        assert "401" in line or "unauth" in line.lower() or "credential" in line.lower() or "key" in line.lower()
    missing = bldst("build", "get", build["id"], env={"BLDST_API_KEY": None})
    assert_one_line_error(missing, 1, "(HTTP 401)", "no API key configured")


def test_service_validation_errors_are_one_line(bldst: Bldst, build: dict[str, Any]) -> None:
    too_big = bldst("build", "update-state", build["id"], "--state", "99999999", "--status", "in_progress")
    assert_one_line_error(too_big, 1, "state_code", "(HTTP 422)")
    empty_reason = bldst("build", "resume", build["id"], "--reason", "")
    assert_one_line_error(empty_reason, 1, "(HTTP 4")


def test_config_precedence_against_the_service(bldst: Bldst, service: str, build: dict[str, Any]) -> None:
    # The file alone is enough.
    bldst("config", "set", "api_url", service)
    bldst("config", "set", "api_key", input=DEV_KEY + "\n")
    no_env = {"BLDST_API_URL": None, "BLDST_API_KEY": None}
    assert bldst.ok("build", "get", build["id"], env=no_env)["id"] == build["id"]
    # BLDST_API_KEY beats the file...
    env_wins = bldst("build", "get", build["id"], env={"BLDST_API_URL": None, "BLDST_API_KEY": WRONG_KEY})
    assert_one_line_error(env_wins, 1, "(HTTP 401)")
    # ... and --api-key beats BLDST_API_KEY.
    flag_wins = bldst.ok("build", "get", build["id"], "--api-key", DEV_KEY, env={"BLDST_API_KEY": WRONG_KEY})
    assert flag_wins["id"] == build["id"]
    # --api-url beats BLDST_API_URL (which points where nothing listens).
    dead = f"http://127.0.0.1:{free_port()}"
    assert_one_line_error(bldst("build", "get", build["id"], env={"BLDST_API_URL": dead, "BLDST_RETRIES": "0"}), 3)
    assert bldst.ok("build", "get", build["id"], "--api-url", service, env={"BLDST_API_URL": dead})["id"] == build["id"]
    assert bldst.ok("--api-url", service, "build", "get", build["id"], env={"BLDST_API_URL": dead})["id"] == build["id"]

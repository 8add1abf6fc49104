"""One-line rendering of the service's error answers, and redaction of the API key."""

from __future__ import annotations

from app.cli.errors import ServiceError, UnreachableError, UsageError, redact, register_secret, render_detail, render_graphql_errors


def test_string_detail() -> None:
    assert render_detail("build 42 not found") == "build 42 not found"
    assert render_detail("two\nlines") == "two lines"


def test_fastapi_validation_list() -> None:
    detail = [
        {"loc": ["body", "resume_reason"], "msg": "Field required", "type": "missing"},
        {"loc": ["query", "limit"], "msg": "Input should be a valid integer", "type": "int_parsing"},
        {"loc": ["body", "metadata", "a"], "msg": "bad\nvalue"},
    ]
    assert render_detail(detail) == (
        "resume_reason: Field required; limit: Input should be a valid integer; metadata.a: bad value"
    )


def test_object_detail_lists_what_is_missing() -> None:
    detail = {"message": "cannot resume from state 35", "missing_variables": ["vpc_id", "vm_id"], "missing_artifacts": []}
    assert render_detail(detail) == "cannot resume from state 35 (missing_variables: vpc_id, vm_id)"
    assert render_detail({"code": "CONFLICT"}) == "code: CONFLICT"
    assert render_detail(None) == ""


def test_graphql_errors() -> None:
    assert render_graphql_errors([{"message": "a"}, {"message": "b", "path": ["build"]}]) == "a; b"
    assert render_graphql_errors([]) == "GraphQL error"


def test_exit_codes_and_one_line_rendering() -> None:
    assert ServiceError("x").exit_code == 1
    assert UsageError("x").exit_code == 2
    assert UnreachableError("x").exit_code == 3
    assert ServiceError("no\nsuch build", 404).render() == "no such build (HTTP 404)"


def test_registered_secrets_never_render() -> None:
    register_secret("sekrit-key-0123")
    register_secret("ab")  # too short to redact safely: ignored
    assert redact("key sekrit-key-0123 rejected") == "key *** rejected"
    assert ServiceError("invalid API key sekrit-key-0123", 401).render() == "invalid API key *** (HTTP 401)"

"""Schemathesis hooks: every schema-valid Idempotency-Key it generates becomes a fresh UUID.

The generator does not know that a key names one request: reusing "0" for different bodies
would (rightly) be answered 422. Invalid keys are left alone for the negative tests.
`map_case` runs in every phase (coverage included), unlike the per-parameter hooks."""

from __future__ import annotations

import re
import uuid

import schemathesis

from app.services.idempotency import KEY_PATTERN


@schemathesis.hook
def map_case(context, case):
    headers = case.headers or {}
    for name in list(headers):
        value = headers[name]
        if name.lower() == "idempotency-key" and isinstance(value, str) \
                and re.fullmatch(KEY_PATTERN, value):
            headers[name] = uuid.uuid4().hex
    return case


@schemathesis.check
def graphql_expected_errors_only(ctx, response, case):
    """GraphQL: every error is an expected one, with a stable `extensions.code`.

    Schemathesis's own GraphQL `not_a_server_error` reads any resolver error as a server error,
    while this API answers expected outcomes of queries (NOT_FOUND, FORBIDDEN, VALIDATION…) as
    top-level errors with codes. A server error here is a 5xx, or an error that was masked
    (INTERNAL_SERVER_ERROR) or that carries no code at all."""
    if not case.operation.label.startswith(("Query.", "Mutation.", "Subscription.")):
        return None  # a REST operation ("GET /builds"): the built-in checks cover it
    if response.status_code >= 500:
        raise AssertionError(f"server error {response.status_code}")
    try:
        payload = response.json()
    except ValueError:
        raise AssertionError("GraphQL answer is not JSON") from None
    for error in (payload or {}).get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        if code == "INTERNAL_SERVER_ERROR" or (code is None and error.get("path")):
            raise AssertionError(f"unexpected GraphQL error: {error}")
    return None

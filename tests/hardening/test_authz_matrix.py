"""Authorization matrix: every REST route and every GraphQL root field × nine credentials
matches the checked-in table `authz_matrix.json`, and a denied call leaks no data.

Outcomes: "allow" (the call got past authorization: any answer but 401/403, never a 5xx),
"401" (no valid credential), "403" (valid credential, missing scope), "denied" (401 or 403:
inbound webhooks, which take a signature instead of a credential).

The table is the reviewed specification, not a recording: when a route or a field is added, or
its scope changes, regenerate the candidate with
`python -m tests.hardening.test_authz_matrix --write` (it derives rows from the declared scopes)
and review the diff before committing it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    get_named_type,
    is_composite_type,
)
from graphql.pyutils import Undefined

from app.services import keys as key_service
from app.services import variables
from app.services.commands import LinkJob, RequestResume, SetVariable
from app.settings import Settings
from tests.conftest import ADMIN_KEY, WRITE_KEY, make_actor
from tests.factories import seed_failed_build
from tests.hardening.conftest import serve

TABLE_PATH = Path(__file__).with_name("authz_matrix.json")
CREDENTIALS = ["none", "bad_key", "revoked_key", "expired_jwt", "tampered_jwt", "alg_none_jwt",
               "read", "write", "admin"]
SECRET_VALUE = "s3cr3t-matrix-value-7f2c"
_RANK = {"public": 0, "read": 1, "write": 2, "admin": 3}
# GraphQL checks below the root: arguments that need more than the field's scope.
GRAPHQL_SPECIAL = {
    "query build.variables(reveal: true)": (
        'query { build(id: "{build_id}") { variables(reveal: true) { key value } } }', "admin"),
    "query build.resumeContext(reveal: true)": (
        'query { build(id: "{build_id}") { resumeContext(reveal: true) { canResume } } }',
        "admin"),
}
REST_SPECIAL = {"GET /builds/{build_id}/variables?reveal=true": "admin",
                "GET /builds/{build_id}/resume-context?reveal=true": "admin"}


# --- the expected table, derived from declarations (for --write) ---------------------------

def _expected_row(scope: str) -> list[str]:
    if scope == "signature":
        return ["denied"] * len(CREDENTIALS)
    row = []
    for credential in CREDENTIALS:
        if credential in ("bad_key", "revoked_key", "expired_jwt", "tampered_jwt",
                          "alg_none_jwt"):
            row.append("401")  # a bad credential is refused before any route, public ones too
        elif scope == "public":
            row.append("allow")
        elif credential == "none":
            row.append("401")
        else:
            row.append("allow" if _RANK[credential] >= _RANK[scope] else "403")
    return row


def _rest_routes() -> dict[str, str]:
    from app.rest import create_rest_app
    from tests.rest.test_route_scopes import _declared, all_routes

    app = create_rest_app(Settings())
    out = {}
    for route in all_routes(app.routes):
        if not route.include_in_schema:
            continue
        (scope,) = _declared(route) or {"?"}
        for method in sorted(route.methods - {"HEAD"}):
            out[f"{method} {route.path}"] = scope
    out.update(REST_SPECIAL)
    return out


def _graphql_fields() -> dict[str, str]:
    from schema.schema import schema

    out = {}
    for kind in ("query", "mutation", "subscription"):
        type_def = schema.get_type_by_name(kind.capitalize())
        for field in type_def.fields if type_def else ():
            classes = {cls.__name__ for cls in field.permission_classes}
            scope = ("admin" if "IsAdmin" in classes else "write" if "CanWrite" in classes
                     else "read" if "CanRead" in classes else "public")
            out[f"{kind} {schema.config.name_converter.get_graphql_name(field)}"] = scope
    out.update({name: scope for name, (_, scope) in GRAPHQL_SPECIAL.items()})
    return out


def derive_table() -> dict[str, Any]:
    return {
        "credentials": CREDENTIALS,
        "rest": {name: _expected_row(scope) for name, scope in sorted(_rest_routes().items())},
        "graphql": {name: _expected_row(scope)
                    for name, scope in sorted(_graphql_fields().items())},
    }


def _dump(table: dict[str, Any]) -> str:
    lines = ["{", f'  "credentials": {json.dumps(table["credentials"])},']
    for section in ("rest", "graphql"):
        lines.append(f'  "{section}": {{')
        rows = [f"    {json.dumps(name)}: {json.dumps(row)}" for name, row in table[section].items()]
        lines.append(",\n".join(rows))
        lines.append("  }," if section == "rest" else "  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


# --- credentials and data --------------------------------------------------------------------

def _jwt(settings: Settings, **claims: Any) -> str:
    now = int(time.time())
    base = {"sub": "admin", "scopes": ["admin"], "iat": now, "exp": now + 600,
            "iss": settings.jwt_issuer}
    return jwt.encode({**base, **claims}, settings.secret_key, algorithm="HS256")


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def _credentials(settings: Settings) -> dict[str, dict[str, str]]:
    system = make_actor("matrix-setup", "admin")
    read_key = await key_service.create_key(actor=system, name=f"matrix-read-{uuid.uuid4().hex[:6]}",
                                            scopes=["read"])
    revoked = await key_service.create_key(actor=system, name=f"matrix-rev-{uuid.uuid4().hex[:6]}",
                                           scopes=["admin"])
    await key_service.revoke_key(actor=system, key_id=str(revoked.key.id))
    expired = _jwt(settings, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)
    header, payload, signature = _jwt(settings, scopes=["read"]).split(".")
    tampered = ".".join([header, _b64({**json.loads(base64.urlsafe_b64decode(payload + "==")),
                                       "scopes": ["admin"]}), signature])
    alg_none = ".".join([_b64({"alg": "none", "typ": "JWT"}),
                         _b64({"sub": "admin", "scopes": ["admin"], "iat": int(time.time()),
                               "exp": int(time.time()) + 600, "iss": settings.jwt_issuer}), ""])
    bearer = lambda token: {"Authorization": f"Bearer {token}"}  # noqa: E731
    return {
        "none": {}, "bad_key": {"X-API-Key": "bs_not-a-key-at-all"},
        "revoked_key": {"X-API-Key": revoked.plain}, "expired_jwt": bearer(expired),
        "tampered_jwt": bearer(tampered), "alg_none_jwt": bearer(alg_none),
        "read": {"X-API-Key": read_key.plain}, "write": {"X-API-Key": WRITE_KEY},
        "admin": {"X-API-Key": ADMIN_KEY},
    }


async def _seed() -> dict[str, str]:
    actor = make_actor("matrix-seed", "admin")
    project_id, failed = await seed_failed_build(actor, configure=True)
    build_id = str(failed.id)
    await variables.set_variable(actor=actor, build_id=build_id, command=SetVariable(
        variable_key="matrix_secret", variable_value=SECRET_VALUE, is_sensitive=True))
    from app.services import artifacts, jobs, resume

    artifact = (await artifacts.list_artifacts(
        actor=actor, build_id=build_id, filter=artifacts.ArtifactFilter()))[0]
    request = await resume.request_resume(actor=actor, build_id=build_id, command=RequestResume(
        resume_from_state=35, resume_reason="matrix", requested_by="matrix"))
    job = await jobs.link_job(actor=actor, build_id=build_id,
                              command=LinkJob(platform="jenkins", job_name="matrix-job"))
    spare = await key_service.create_key(actor=actor, name=f"matrix-spare-{uuid.uuid4().hex[:6]}",
                                         scopes=["read"])
    return {
        "project_id": project_id, "build_id": build_id, "artifact_id": str(artifact.id),
        "variable_key": "matrix_secret", "request_id": str(request.id), "job_id": str(job.id),
        "state_code": "35", "key_id": str(spare.key.id),
        "subscription_id": str(uuid.uuid4()), "artifact_name": artifact.artifact_name,
    }


def _leaks(text: str, ids: dict[str, str]) -> list[str]:
    secrets = [SECRET_VALUE, ids["build_id"], ids["artifact_id"], ids["request_id"], ids["job_id"],
               ids["artifact_name"], "i-0123456789abcdef"]
    return [s for s in secrets if s in text]


def _outcome(status: int, codes: list[str]) -> str:
    if status == 401 or "UNAUTHENTICATED" in codes:
        return "401"
    if status == 403 or "FORBIDDEN" in codes:
        return "403"
    assert status < 500, f"server error {status}"
    return "allow"


def _matches(expected: str, actual: str) -> bool:
    return actual == expected or (expected == "denied" and actual in ("401", "403"))


# --- REST ------------------------------------------------------------------------------------

async def _rest_call(http: httpx.AsyncClient, name: str, ids: dict[str, str],
                     headers: dict[str, str]) -> httpx.Response:
    method, target = name.split(" ", 1)
    path, _, query = target.partition("?")
    url = path.format(**ids) + (f"?{query}" if query else "")
    body = {} if method in ("POST", "PUT", "PATCH") else None
    return await http.request(method, url, json=body, headers=headers)


async def test_rest_matrix(database: Settings):
    table = json.loads(TABLE_PATH.read_text())
    assert table["credentials"] == CREDENTIALS
    assert set(table["rest"]) == set(_rest_routes()), "routes and table differ: see --write"
    creds = await _credentials(database)
    ids = await _seed()
    mismatches, leaks = [], []
    settings = database.model_copy(update={"rate_limit_enabled": False})
    async with serve(settings, key=None) as http:
        for name, row in table["rest"].items():
            for credential, expected in zip(CREDENTIALS, row):
                answer = await _rest_call(http, name, ids, creds[credential])
                try:
                    code = answer.json().get("code") if answer.content else None
                except (ValueError, AttributeError):
                    code = None
                actual = _outcome(answer.status_code, [code] if code else [])
                if not _matches(expected, actual):
                    mismatches.append(f"{name} as {credential}: expected {expected}, got "
                                      f"{answer.status_code} {answer.text[:120]}")
                if actual != "allow":
                    if answer.content and set(answer.json()) - {"detail", "code", "scope"}:
                        leaks.append(f"{name} as {credential}: extra fields {answer.text[:200]}")
                    if found := _leaks(answer.text, ids):
                        leaks.append(f"{name} as {credential}: body names {found}")
    assert not mismatches, "\n".join(mismatches)
    assert not leaks, "\n".join(leaks)


# --- GraphQL ---------------------------------------------------------------------------------

def _literal(type_: Any, arg: str, ids: dict[str, str], field: str) -> str:
    if isinstance(type_, GraphQLNonNull):
        return _literal(type_.of_type, arg, ids, field)
    if isinstance(type_, GraphQLList):
        return f"[{_literal(type_.of_type, arg, ids, field)}]"
    if isinstance(type_, GraphQLEnumType):
        return next(iter(type_.values))
    if isinstance(type_, GraphQLInputObjectType):
        parts = [f"{name}: {_literal(f.type, name, ids, field)}"
                 for name, f in type_.fields.items() if isinstance(f.type, GraphQLNonNull)
                 and f.default_value is Undefined]
        return "{" + ", ".join(parts) + "}"
    assert isinstance(type_, GraphQLScalarType)
    name = type_.name
    if name == "ID":
        key = {"buildId": "build_id", "projectId": "project_id", "artifactId": "artifact_id",
               "jobId": "job_id"}.get(arg)
        if key is None:
            key = ("project_id" if "roject" in field else "request_id" if "esume" in field
                   else "build_id")
        return json.dumps(ids[key])
    return {"Int": "35", "Float": "1.0", "Boolean": "false", "BigInt": "1",
            "DateTime": '"2026-01-01T00:00:00+00:00"', "JSON": "{}"}.get(name, '"x"')


def _graphql_doc(kind: str, field_name: str, ids: dict[str, str]) -> str:
    from schema.schema import schema

    root = getattr(schema._schema, f"{kind}_type")
    field = root.fields[field_name]
    args = [f"{name}: {_literal(a.type, name, ids, field_name)}" for name, a in field.args.items()
            if isinstance(a.type, GraphQLNonNull) and a.default_value is Undefined]
    call = f"{field_name}({', '.join(args)})" if args else field_name
    selection = " { __typename }" if is_composite_type(get_named_type(field.type)) else ""
    return f"{kind} {{ {call}{selection} }}"


def _codes(body: dict) -> list[str]:
    return [(e.get("extensions") or {}).get("code", "") for e in body.get("errors") or []]


async def _subscription_outcome(field: str, ids: dict[str, str], headers: dict[str, str],
                                settings: Settings) -> str:
    """graphql-transport-ws authenticates at connection_init; the field checks the scope."""
    from strawberry.exceptions import ConnectionRejectionError

    from schema.context import Context
    from schema.schema import schema
    from schema.subscriptions import authenticate_connection

    context = Context(request=None, actor=None, settings=settings, connection_params=headers)
    try:
        await authenticate_connection(context, settings)
    except ConnectionRejectionError:
        return "401"
    stream = await schema.subscribe(_graphql_doc("subscription", field, ids), context_value=context)
    if not hasattr(stream, "__anext__"):
        return _outcome(200, _codes({"errors": [e.formatted for e in stream.errors or []]}))
    try:
        first = await asyncio.wait_for(stream.__anext__(), 0.3)
    except (TimeoutError, StopAsyncIteration):
        return "allow"  # subscribed: waiting for events
    finally:
        await stream.aclose()
    return _outcome(200, _codes({"errors": [e.formatted for e in first.errors or []]}))


async def test_graphql_matrix(database: Settings):
    table = json.loads(TABLE_PATH.read_text())
    assert set(table["graphql"]) == set(_graphql_fields()), "fields and table differ: see --write"
    creds = await _credentials(database)
    ids = await _seed()
    mismatches, leaks = [], []
    settings = database.model_copy(update={"rate_limit_enabled": False})
    async with serve(settings, key=None) as http:
        for name, row in table["graphql"].items():
            kind, field = name.split(" ", 1)
            for credential, expected in zip(CREDENTIALS, row):
                if kind == "subscription":
                    actual = await _subscription_outcome(field, ids, creds[credential], settings)
                    text = ""
                else:
                    special = GRAPHQL_SPECIAL.get(name)
                    doc = (special[0].replace("{build_id}", ids["build_id"]) if special
                           else _graphql_doc(kind, field, ids))
                    answer = await http.post("/graphql", json={"query": doc},
                                             headers=creds[credential])
                    body = answer.json()
                    actual = _outcome(answer.status_code, _codes(body))
                    text = answer.text
                    if actual == "allow":
                        assert "errors" not in body or all(
                            c not in ("INTERNAL_SERVER_ERROR", "") for c in _codes(body)
                        ), f"{name} as {credential}: {text[:300]}"
                if not _matches(expected, actual):
                    mismatches.append(f"{name} as {credential}: expected {expected}, got {actual}"
                                      f" {text[:160]}")
                if actual != "allow" and (found := _leaks(text, ids)):
                    leaks.append(f"{name} as {credential}: body names {found}")
    assert not mismatches, "\n".join(mismatches)
    assert not leaks, "\n".join(leaks)


if __name__ == "__main__":
    if "--write" in sys.argv:
        TABLE_PATH.write_text(_dump(derive_table()))
        print(f"wrote {TABLE_PATH}; review the diff before committing it")
    else:
        sys.stdout.write(_dump(derive_table()))

"""The error answers every route can give, declared once in /openapi.json.

Routes declare their success answers; the statuses that come from the cross-cutting layers
(authentication, rate limits, the body bound, the database, idempotency keys, optimistic
concurrency, domain errors) are added here by rule, so the document lists every status the
service can answer and no route can forget one.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from app.idempotency import HEADER as IDEMPOTENCY_HEADER
from app.idempotency import SKIP_PREFIXES as NO_IDEMPOTENCY
from app.services.idempotency import KEY_PATTERN
from app.ratelimit import EXEMPT_PATHS

WRITES = {"post", "put", "patch", "delete"}

ERROR_SCHEMA = {
    "title": "Error",
    "type": "object",
    "properties": {
        "detail": {"title": "Detail", "description": "What went wrong, for people"},
        "code": {"title": "Code", "type": "string", "description": "Stable machine-readable code"},
    },
    "required": ["detail"],
    "additionalProperties": True,
}
_ERROR_REF = {"$ref": "#/components/schemas/Error"}
_RETRY_AFTER = {
    "Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "string"}}
}

_DESCRIPTIONS = {
    "400": "The body could not be read (not JSON, or not UTF-8)",
    "401": "No valid credential (missing, unknown, revoked or expired key or token)",
    "403": "The credential lacks the scope this call needs",
    "404": "Something the call names does not exist",
    "409": "Conflicts with the current state (duplicate, invalid transition, key in use)",
    "412": "If-Match names a version that is no longer current",
    "413": "The request body is larger than 1 MiB",
    "422": "The input breaks a rule, or an Idempotency-Key was reused for another request",
    "429": "Rate limit exceeded; retry after Retry-After seconds",
    "503": "The database is unavailable or saturated; retry after Retry-After seconds",
}


def _error(code: str) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "description": _DESCRIPTIONS[code],
        "content": {"application/json": {"schema": _ERROR_REF}},
    }
    if code in ("429", "503"):
        answer["headers"] = _RETRY_AFTER
    return answer


def _statuses(path: str, method: str, op: dict[str, Any]) -> set[str]:
    params = op.get("parameters", [])
    has_body = "requestBody" in op
    codes = {"401"}  # a bad credential is refused on every path, public ones included
    if path == "/health":
        return codes
    codes.add("503")
    if path not in EXEMPT_PATHS:
        codes.add("429")
    if op.get("security"):
        codes.add("403")
    names_something = any(p.get("in") == "path" or (p.get("in") == "query"
                          and p.get("name", "").endswith("_id")) for p in params)
    if names_something or method in WRITES:
        codes.add("404")
    if method in WRITES:
        codes.add("409")
    if any(p.get("in") == "header" and p.get("name", "").lower() == "if-match" for p in params):
        codes.add("412")
    if has_body:
        codes.update(("400", "413"))
    if params or has_body:
        codes.add("422")
    return codes


def _idempotency_parameter() -> dict[str, Any]:
    return {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "description": (
            "Makes a retry safe: the same key with the same body replays the first answer "
            "(header Idempotent-Replayed: true), with another body it is a 422. Keys belong "
            "to the credential and are kept 24 hours."
        ),
        "schema": {"type": "string", "pattern": KEY_PATTERN},
    }


def _partial_updates_refuse_null(components: dict[str, Any]) -> None:
    """Partial updates read `null` as "clear" only for their `nullable` fields and refuse it
    elsewhere (omit the field to keep it): say so in the document too."""
    from app.services.commands import UpdateCommand

    pending = list(UpdateCommand.__subclasses__())
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        component = components.get(model.__name__, {})
        for name, prop in component.get("properties", {}).items():
            any_of = prop.get("anyOf")
            if name in model.nullable or not any_of or {"type": "null"} not in any_of:
                continue
            rest = [s for s in any_of if s != {"type": "null"}]
            del prop["anyOf"]
            if len(rest) == 1:
                prop.update(rest[0])
            else:
                prop["anyOf"] = rest
            if prop.get("default", "") is None:
                del prop["default"]


def _parameters_are_never_null(op: dict[str, Any]) -> None:
    """An optional header or query parameter is absent, never `null`, on the wire."""
    for param in op.get("parameters", []):
        any_of = param.get("schema", {}).get("anyOf")
        if any_of and {"type": "null"} in any_of:
            rest = [s for s in any_of if s != {"type": "null"}]
            del param["schema"]["anyOf"]
            if len(rest) == 1:
                param["schema"].update(rest[0])
            else:
                param["schema"]["anyOf"] = rest


def _link_created_resources(schema: dict[str, Any]) -> None:
    """OpenAPI links from each create (POST answering 201) to the operations under the new
    resource's path, so clients and stateful testers can follow ids: POST /builds → every
    /builds/{build_id}/… operation with build_id = the answer's `id`."""
    paths = schema.get("paths", {})
    components = schema.get("components", {}).get("schemas", {})
    for source, item in paths.items():
        created = item.get("post", {}).get("responses", {}).get("201")
        if not created:
            continue
        ref = created.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
        properties = components.get(str(ref).rsplit("/", 1)[-1], {}).get("properties", {})
        links = created.setdefault("links", {})
        for real_target, target_item in paths.items():
            target = real_target
            if (source, target) in _ELSEWHERE:
                target = target.replace(*_ELSEWHERE[(source, target)])
            rest = target[len(source):]
            if not (target.startswith(source + "/{") and "}" in rest):
                continue
            param = rest[2:rest.index("}")]
            by_name = param in properties and not param.endswith("_id")  # state_code, key
            value = f"$response.body#/{param}" if by_name else "$response.body#/id"
            parameters = {param: value}
            for name in _path_params(source):
                if name in _path_params(real_target):
                    parameters[name] = f"$request.path.{name}"
            for method, op in target_item.items():
                if isinstance(op, dict) and "operationId" in op:
                    links[op["operationId"]] = {"operationId": op["operationId"],
                                                "parameters": parameters}


# Created resources that live at a path of their own: compare as if nested under the create.
_ELSEWHERE = {("/builds/{build_id}/resume", "/resume-requests/{request_id}"):
              ("/resume-requests", "/builds/{build_id}/resume")}


def _path_params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")]


def declare_error_responses(schema: dict[str, Any]) -> dict[str, Any]:
    schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    _partial_updates_refuse_null(schema["components"]["schemas"])
    _link_created_resources(schema)
    has_validation = "HTTPValidationError" in schema["components"]["schemas"]
    for path, item in schema.get("paths", {}).items():
        for method, op in item.items():
            if method not in WRITES | {"get", "head", "options"}:
                continue
            _parameters_are_never_null(op)
            if method == "post" and not path.startswith(NO_IDEMPOTENCY) and op.get("security"):
                names = {p.get("name", "").lower() for p in op.get("parameters", [])}
                if IDEMPOTENCY_HEADER not in names:
                    op.setdefault("parameters", []).append(_idempotency_parameter())
            responses = op.setdefault("responses", {})
            for code in sorted(_statuses(path, method, op)):
                if code == "422" and code in responses and has_validation:
                    # FastAPI's own 422 (a list of problems) or a domain error ({detail, code}).
                    responses[code]["content"] = {"application/json": {"schema": {"anyOf": [
                        {"$ref": "#/components/schemas/HTTPValidationError"}, _ERROR_REF,
                    ]}}}
                    responses[code]["description"] = _DESCRIPTIONS["422"]
                elif code not in responses:
                    responses[code] = _error(code)
                elif code in ("429", "503"):
                    responses[code].setdefault("headers", _RETRY_AFTER)
    return schema


def install(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = declare_error_responses(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

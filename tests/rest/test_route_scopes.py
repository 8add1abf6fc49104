"""Every REST route declares the scope it needs (or that it is deliberately public)."""

from __future__ import annotations

from fastapi.routing import APIRoute

from app.rest import create_rest_app
from app.settings import Settings

PUBLIC = {"/health", "/ready", "/docs"}
SIGNED_PREFIX = "/webhooks/"  # inbound webhooks: authenticated by an HMAC signature


def _declared(route: APIRoute) -> set[str]:
    found = set()
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        scope = getattr(dep.call, "required_scope", None)
        if scope:
            found.add(scope)
        stack.extend(dep.dependencies)
    return found


def all_routes(routes) -> list[APIRoute]:
    """FastAPI keeps included routers as wrappers; walk down to the APIRoutes."""
    out: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            out.append(route)
        elif hasattr(route, "original_router"):
            out.extend(all_routes(route.original_router.routes))
    return out


def test_every_route_declares_a_scope() -> None:
    app = create_rest_app(Settings())
    routes = all_routes(app.routes)
    assert len(routes) > 30
    for route in routes:
        declared = _declared(route)
        assert declared, f"{route.methods} {route.path} declares no scope"
        if route.path in PUBLIC:
            assert declared == {"public"}, route.path
        elif route.path.startswith(SIGNED_PREFIX):
            assert declared == {"signature"}, route.path
        else:
            assert not declared & {"public", "signature"}, route.path
    write_methods = {"POST", "PUT", "PATCH", "DELETE"}
    for route in routes:
        if (route.methods & write_methods and route.path != "/auth/token"
                and not route.path.startswith(SIGNED_PREFIX)):
            assert _declared(route) & {"write", "admin"}, f"{route.path} writes with read scope"


def test_openapi_lists_every_seed_path() -> None:
    paths = create_rest_app(Settings()).openapi()["paths"]
    seed = {
        ("post", "/builds/{build_id}/artifacts"), ("get", "/builds/{build_id}/artifacts"),
        ("get", "/builds/{build_id}/artifacts/{artifact_id}"),
        ("patch", "/builds/{build_id}/artifacts/{artifact_id}"),
        ("delete", "/builds/{build_id}/artifacts/{artifact_id}"),
        ("post", "/builds/{build_id}/variables"), ("get", "/builds/{build_id}/variables"),
        ("get", "/builds/{build_id}/variables/dict"),
        ("get", "/builds/{build_id}/variables/{variable_key}"),
        ("patch", "/builds/{build_id}/variables/{variable_key}"),
        ("delete", "/builds/{build_id}/variables/{variable_key}"),
        ("get", "/builds/{build_id}/resume-context"), ("post", "/builds/{build_id}/resume"),
        ("get", "/builds/{build_id}/resume-requests"), ("get", "/resume-requests/{request_id}"),
        ("patch", "/resume-requests/{request_id}"),
        ("post", "/projects/{project_id}/resumable-states"),
        ("get", "/projects/{project_id}/resumable-states"),
        ("get", "/projects/{project_id}/resumable-states/{state_code}"),
        ("put", "/projects/{project_id}/resumable-states/{state_code}"),
        ("post", "/builds/{build_id}/jobs"), ("get", "/builds/{build_id}/jobs"),
        ("patch", "/builds/{build_id}/jobs/{job_id}"),
        ("post", "/projects"), ("get", "/projects"), ("get", "/projects/{project_id}"),
        ("put", "/projects/{project_id}"), ("delete", "/projects/{project_id}"),
        ("post", "/projects/{project_id}/state-codes"), ("get", "/projects/{project_id}/state-codes"),
        ("post", "/builds"), ("get", "/builds"), ("get", "/builds/{build_id}"),
        ("post", "/builds/{build_id}/state"), ("get", "/builds/{build_id}/states"),
        ("post", "/builds/{build_id}/failure"), ("get", "/health"), ("get", "/ready"),
        ("post", "/auth/token"),
    }
    missing = {(m, p) for m, p in seed if m not in paths.get(p, {})}
    assert not missing, missing
    assert "Artifacts" in {t["name"] for t in create_rest_app(Settings()).openapi()["tags"]}

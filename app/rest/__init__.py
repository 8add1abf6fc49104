"""The REST compatibility shim: the seed's paths and JSON, documented at /openapi.json and /docs."""

from __future__ import annotations

from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html

from app.rest import (
    artifacts, builds, errors, jobs, observability, openapi, projects, resume, system, variables,
)
from app.rest import webhooks
from app.rest.deps import public
from app.settings import Settings

TAGS = [
    {"name": "Artifacts", "description": "Snapshots, images and files a build produced"},
    {"name": "Variables", "description": "What a build learned: VM ids, network ids"},
    {"name": "Resume", "description": "Resume context and resume requests"},
    {"name": "Resumable States", "description": "Which states can be resumed, and how"},
    {"name": "Build Jobs", "description": "CI/CD jobs linked to builds"},
    {"name": "Builds"}, {"name": "Projects"}, {"name": "Auth"}, {"name": "Audit"},
    {"name": "System"},
]


def create_rest_app(settings: Settings) -> FastAPI:
    app = FastAPI(
        title="buildstate",
        version="0.1.0",
        description="Resumable CI/CD builds. Authenticate with `X-API-Key` or a Bearer JWT.",
        openapi_tags=TAGS,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    errors.install(app)
    openapi.install(app)  # the error answers of the cross-cutting layers, declared by rule
    for module in (system, projects, builds, artifacts, variables, resume, jobs):
        app.include_router(module.router)
    app.include_router(observability.router)
    app.include_router(webhooks.router)

    @app.get("/docs", include_in_schema=False, dependencies=[Depends(public)])
    async def swagger_ui():
        # Assets come from the service itself: build networks often have no internet.
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="buildstate API",
            swagger_js_url="/static/swagger/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger/swagger-ui.css",
            swagger_favicon_url="/static/swagger/favicon-32x32.png",
        )

    app.state.settings = settings
    return app

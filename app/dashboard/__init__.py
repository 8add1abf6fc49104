"""The dashboard page: HTML, JS and CSS served by the service itself (no CDN, no build step).

The page is open like GraphiQL's: it holds no data. It asks for a read API key, keeps it in
sessionStorage (gone when the tab closes), and sends it as the X-API-Key header to
/dashboard/summary and /projects, and in the connection_init payload of the GraphQL websocket;
never in a URL.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

ASSETS = Path(__file__).parent / "assets"

HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


async def page(request: Request) -> FileResponse:
    """The dashboard (open: it shows nothing until given a read key)."""
    return FileResponse(ASSETS / "index.html", media_type="text/html", headers=HEADERS)


def routes() -> list[BaseRoute]:
    return [
        Route("/dashboard", page, methods=["GET"]),
        Mount("/dashboard/assets", StaticFiles(directory=ASSETS), name="dashboard-assets"),
    ]

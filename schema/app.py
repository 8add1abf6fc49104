"""The ASGI GraphQL application mounted at /graphql by app.main."""

from __future__ import annotations

from pathlib import Path

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from app.settings import Settings
from schema.context import Context
from schema.loaders import Loaders
from schema.schema import schema
from schema.subscriptions import authenticate_connection

GRAPHIQL_HTML = Path(__file__).with_name("graphiql.html")


class BuildstateGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI view with a typed context and a GraphiQL page served without a CDN."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(schema, graphql_ide="graphiql", allow_queries_via_get=True)
        self.settings = settings

    def encode_json(self, data: object) -> str | bytes:
        # orjson: the same JSON several times faster (a resume context is ~26 KB). An integer
        # beyond 64 bits in a JSON scalar is the one value it refuses: the standard encoder
        # writes it as the exact number it is.
        # A str, as Strawberry's own (multipart and WebSocket paths expect one).
        try:
            return orjson.dumps(data).decode()
        except TypeError:
            return super().encode_json(data)

    async def on_ws_connect(self, context: Context) -> None:
        # Subscriptions authenticate once, with the credential in the connection_init payload.
        await authenticate_connection(context, self.settings)

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        # AuthenticationMiddleware already ran: an Actor, or an anonymous user (no credential).
        user = request.scope.get("user")
        return Context(
            request=request,
            response=response,
            actor=getattr(user, "actor", None),
            settings=self.settings,
            loaders=Loaders.create(),
        )

    @property
    def graphql_ide_html(self) -> str:
        # Loads React and GraphiQL from /static/graphiql/ (vendored in app/static/graphiql).
        return GRAPHIQL_HTML.read_text(encoding="utf-8")

    async def render_graphql_ide(self, request: Request) -> Response:
        # The page is open to everyone; every field it queries still needs a credential.
        return HTMLResponse(self.graphql_ide_html, headers={"Cache-Control": "no-store"})


def create_graphql_app(settings: Settings) -> BuildstateGraphQL:
    return BuildstateGraphQL(settings)

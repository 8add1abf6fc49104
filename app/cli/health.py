"""`bldst health`: is the service up? (No API key needed.)"""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli.common import command, session
from app.cli.errors import ServiceError


def register(app: typer.Typer) -> None:
    @command(app, "health")
    def health(
        ready: Annotated[bool, typer.Option("--ready", help="Check readiness (database reachable) instead of liveness.")] = False,
    ) -> None:
        """Check that the service answers.

        GET /health (or /ready with --ready: the database is reachable); exit 0 when ok.
        """
        s = session()
        answer = s.client.request("GET", "/ready" if ready else "/health", auth=False)
        s.emit(answer)
        if isinstance(answer, dict) and answer.get("status") not in (None, "ok", "ready"):
            raise ServiceError(f"service reports status {answer.get('status')!r}")

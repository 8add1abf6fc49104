"""`bldst auth`: trade the API key for a short-lived JWT."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from app.cli.common import command, session

app = typer.Typer(help="Exchange the API key for a short-lived token.\n\nAuthentication: exchange the API key for a short-lived bearer token.", no_args_is_help=True)


@command(app, "token")
def token(
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the token (for TOKEN=$(bldst auth token -q)).")] = False,
) -> None:
    """Get a JWT (access_token, token_type, expires_in) for the configured API key."""
    s = session()
    answer = s.client.request("POST", "/auth/token")
    if quiet:
        sys.stdout.write(f"{answer['access_token']}\n")
    else:
        s.emit(answer)

"""What every command shares: connection/output options, the session (client + format), emit."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from enum import Enum
from functools import cached_property
from typing import TYPE_CHECKING, Annotated, Any, Optional
from urllib.parse import quote

import typer

from app.cli import config, output
from app.cli.errors import UsageError

if TYPE_CHECKING:
    from app.cli.client import Client

PANEL = "Connection and output"


class Output(str, Enum):
    table = "table"
    json = "json"
    yaml = "yaml"


class ContextOutput(str, Enum):
    table = "table"
    json = "json"
    yaml = "yaml"
    env = "env"


OUTPUT_HELP = "Output format [default: table on a terminal, json when piped]."
API_URL_HELP = "Service URL [env BLDST_API_URL, config api_url; default http://127.0.0.1:8080]."
API_KEY_HELP = "API key sent as X-API-Key [env BLDST_API_KEY, config api_key]. Never printed."


@dataclass
class Globals:
    api_url: str | None = None
    api_key: str | None = None
    output: str | None = None


def _options(output_enum: type[Enum]) -> list[inspect.Parameter]:
    kw = inspect.Parameter.KEYWORD_ONLY
    return [
        inspect.Parameter(
            "bldst_output",
            kw,
            default=None,
            annotation=Annotated[
                Optional[output_enum],  # noqa: UP045 - typer needs Optional at runtime
                typer.Option("--output", "-o", help=OUTPUT_HELP, case_sensitive=False, rich_help_panel=PANEL, show_default=False),
            ],
        ),
        inspect.Parameter(
            "bldst_api_url",
            kw,
            default=None,
            annotation=Annotated[
                Optional[str],  # noqa: UP045
                typer.Option("--api-url", help=API_URL_HELP, rich_help_panel=PANEL, show_default=False, metavar="URL"),
            ],
        ),
        inspect.Parameter(
            "bldst_api_key",
            kw,
            default=None,
            annotation=Annotated[
                Optional[str],  # noqa: UP045
                typer.Option("--api-key", help=API_KEY_HELP, rich_help_panel=PANEL, show_default=False, metavar="KEY"),
            ],
        ),
    ]


def command(app: typer.Typer, name: str, *, env_output: bool = False, **kwargs: Any) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register `fn` as `name` on `app`, adding --output/--api-url/--api-key to its options."""

    def decorate(fn: Callable[..., None]) -> Callable[..., None]:
        signature = inspect.signature(fn, eval_str=True)

        @functools.wraps(fn)
        def wrapper(
            *args: Any,
            bldst_ctx: typer.Context,
            bldst_output: Any = None,
            bldst_api_url: str | None = None,
            bldst_api_key: str | None = None,
            **kw: Any,
        ) -> None:
            root = bldst_ctx.find_root().obj
            root = root if isinstance(root, Globals) else Globals()
            local_output = bldst_output.value if isinstance(bldst_output, Enum) else bldst_output
            _invocation.set(
                Globals(
                    api_url=bldst_api_url or root.api_url,
                    api_key=bldst_api_key or root.api_key,
                    output=local_output or root.output,
                )
            )
            fn(*args, **kw)

        context_param = inspect.Parameter("bldst_ctx", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)
        params = [*signature.parameters.values(), context_param, *_options(ContextOutput if env_output else Output)]
        wrapper.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
        app.command(name, **kwargs)(wrapper)
        return fn

    return decorate


# Connection and output flags of the running command (its own, else the root's).
_invocation: ContextVar[Globals] = ContextVar("bldst_invocation", default=Globals())


class Session:
    """Settings resolved for this invocation, the HTTP client, and the output format."""

    def __init__(self, flags: Globals, *, allow_env: bool = False) -> None:
        wants_env = flags.output == "env"
        if wants_env and not allow_env:
            # Only resume-context offers env; the root's --output env may reach other commands.
            raise UsageError("--output env is only available for `bldst build resume-context`")
        self.settings = config.resolve(
            api_url=flags.api_url, api_key=flags.api_key, output=None if wants_env else flags.output
        )
        self.format = "env" if wants_env else output.default_format(self.settings.output)

    @cached_property
    def client(self) -> Client:
        from app.cli.client import Client  # httpx is imported only by commands that talk to the service

        return Client(self.settings)

    def emit(self, data: Any, columns: Sequence[str] | None = None, title: str | None = None) -> None:
        output.emit(data, self.format, columns=columns, title=title)


def session(*, allow_env: bool = False) -> Session:
    return Session(_invocation.get(), allow_env=allow_env)


def drop_none(**fields: Any) -> dict[str, Any]:
    """A request body with only the fields the user gave."""
    return {key: value for key, value in fields.items() if value is not None}


def q(segment: object) -> str:
    """Quote one path segment, so that an id or key can never change the path."""
    return quote(str(segment), safe="")

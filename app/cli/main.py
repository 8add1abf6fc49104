"""`bldst`: the buildstate command-line client. Entry point: `main()`."""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from typing import Annotated, Optional

import typer

from app.cli import version as cli_version
from app.cli.common import API_KEY_HELP, API_URL_HELP, OUTPUT_HELP, ContextOutput, Globals
from app.cli.errors import EXIT_SERVICE, EXIT_USAGE, CliError, one_line, redact, register_secret

HELP = """Record build states, artifacts and variables in buildstate, and resume failed builds.

Connection: --api-url/--api-key, else BLDST_API_URL/BLDST_API_KEY, else the config file
(`bldst config set api_url http://127.0.0.1:8080`). Retries: BLDST_RETRIES (default 3),
BLDST_BACKOFF seconds (default 0.5), BLDST_TIMEOUT seconds (default 30).

Exit codes: 0 ok; 1 the service said no (the message says why); 2 usage error;
3 the service could not be reached (after retries).
"""

# Command group -> the module holding its Typer app (build_resume adds to build's app).
GROUPS = {
    "project": "app.cli.project",
    "state-code": "app.cli.state_code",
    "build": "app.cli.build_resume",
    "artifact": "app.cli.artifact",
    "variable": "app.cli.variable",
    "resumable-state": "app.cli.resumable_state",
    "resume-request": "app.cli.resume_request",
    "job": "app.cli.job",
    "auth": "app.cli.auth",
    "config": "app.cli.config_cmd",
}
ROOT_COMMANDS = ("health",)
_ROOT_OPTIONS_WITH_VALUE = ("--api-url", "--api-key", "--output", "-o")


def _show_version(value: bool) -> None:
    if value:
        print(f"bldst {cli_version()}")
        raise typer.Exit()


def root(
    ctx: typer.Context,
    api_url: Annotated[Optional[str], typer.Option("--api-url", help=API_URL_HELP, show_default=False, metavar="URL")] = None,
    api_key: Annotated[Optional[str], typer.Option("--api-key", help=API_KEY_HELP, show_default=False, metavar="KEY")] = None,
    output: Annotated[Optional[ContextOutput], typer.Option("--output", "-o", help=OUTPUT_HELP, case_sensitive=False, show_default=False)] = None,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.", callback=_show_version, is_eager=True)] = False,
) -> None:
    ctx.obj = Globals(api_url=api_url, api_key=api_key, output=output.value if output else None)


def create_app(only: str | None = None) -> typer.Typer:
    """The CLI; with `only`, just that group (typer inspects every command it is given, which
    is most of bldst's start-up time, so a run builds only the group it was asked for)."""
    cli = typer.Typer(
        name="bldst",
        help=HELP,
        no_args_is_help=True,
        pretty_exceptions_enable=False,  # never print locals (the API key) in a traceback
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    cli.callback()(root)
    for name, module in GROUPS.items():
        if only in (None, name):
            cli.add_typer(importlib.import_module(module).app, name=name)
    if only in (None, "health"):
        from app.cli import health

        health.register(cli)
    return cli


def _requested_group(argv: list[str]) -> str | None:
    """The group named on the command line, or None when the whole CLI is needed (root help,
    --version, a misspelt group: click's messages and suggestions need every name)."""
    index = 0
    while index < len(argv):
        arg = argv[index]
        if arg in _ROOT_OPTIONS_WITH_VALUE:
            index += 2
        elif arg.startswith("-"):
            if arg in ("-h", "--help", "--version"):
                return None
            index += 1
        else:
            return arg if arg in GROUPS or arg in ROOT_COMMANDS else None
    return None


def _register_key_from(args: list[str]) -> None:
    """Know the key before anything can fail, so that even a usage error cannot print it."""
    register_secret(os.environ.get("BLDST_API_KEY"))
    for index, arg in enumerate(args):
        if arg == "--api-key" and index + 1 < len(args):
            register_secret(args[index + 1])
        elif arg.startswith("--api-key="):
            register_secret(arg.split("=", 1)[1])


def __getattr__(name: str) -> typer.Typer:
    # `from app.cli.main import app`: the whole CLI, built on first use.
    if name == "app":
        return create_app()
    raise AttributeError(name)


def _usage_line(exc: typer.TyperException) -> str:
    message = exc.format_message()
    ctx = getattr(exc, "ctx", None)
    if ctx is not None:
        path = ctx.command_path
        return one_line(f"{path}: {message} (see '{path} --help')")
    return one_line(message)


def _err(line: str) -> None:
    sys.stderr.write(f"bldst: error: {redact(line)}\n")
    sys.stderr.flush()


def main(argv: list[str] | None = None) -> int:
    """Run bldst; return the exit code. Every failure is one line on stderr, never a traceback."""
    if "httpx" not in sys.modules:
        # httpx's own command-line tool (click, rich, pygments) is a third of httpx's import
        # time and bldst never uses it; httpx falls back to a stub when it cannot be imported.
        sys.modules["httpx._main"] = None  # type: ignore[assignment]
    args = sys.argv[1:] if argv is None else list(argv)
    _register_key_from(args)
    command = typer.main.get_command(create_app(_requested_group(args)))
    try:
        result = command.main(args=args, prog_name="bldst", standalone_mode=False)
        # --help, --version and typer.Exit come back as an exit code; commands return None.
        return result if isinstance(result, int) else 0
    except CliError as exc:
        _err(exc.render())
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except typer.TyperException as exc:
        # Typer vendors click; its UsageError (exit code 2) is not exported, so go by the code.
        if type(exc).__name__ == "NoArgsIsHelpError":
            sys.stderr.write(exc.format_message() + "\n")
            return EXIT_USAGE
        if exc.exit_code == EXIT_USAGE:
            _err(_usage_line(exc))
            return EXIT_USAGE
        _err(one_line(exc.format_message()))
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        _err("interrupted")
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): not an error worth a message.
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        except OSError:
            pass
        return 0
    except Exception as exc:  # noqa: BLE001 - the promise is one line, whatever happened
        if os.environ.get("BLDST_DEBUG"):
            sys.stderr.write(redact(traceback.format_exc()))
        _err(one_line(f"unexpected {type(exc).__name__}: {exc}") + " (set BLDST_DEBUG=1 for details)")
        return EXIT_SERVICE


if __name__ == "__main__":
    sys.exit(main())

"""`bldst`: the buildstate command-line client. Entry point: `main()`."""

from __future__ import annotations

import os
import sys
import traceback
from typing import Annotated, Optional

import typer

from app.cli import artifact, auth, build, build_resume, config_cmd, health, job, project
from app.cli import resumable_state, resume_request, state_code, variable
from app.cli.client import _version
from app.cli.common import API_KEY_HELP, API_URL_HELP, OUTPUT_HELP, ContextOutput, Globals
from app.cli.errors import EXIT_SERVICE, EXIT_USAGE, CliError, one_line, redact

assert build_resume  # registers the resume commands on the build group

HELP = """Record build states, artifacts and variables in buildstate, and resume failed builds.

Connection: --api-url/--api-key, else BLDST_API_URL/BLDST_API_KEY, else the config file
(`bldst config set api_url http://127.0.0.1:8080`). Retries: BLDST_RETRIES (default 3),
BLDST_BACKOFF seconds (default 0.5), BLDST_TIMEOUT seconds (default 30).

Exit codes: 0 ok; 1 the service said no (the message says why); 2 usage error;
3 the service could not be reached (after retries).
"""

app = typer.Typer(
    name="bldst",
    help=HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # never print locals (the API key) in a traceback
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(project.app, name="project")
app.add_typer(state_code.app, name="state-code")
app.add_typer(build.app, name="build")
app.add_typer(artifact.app, name="artifact")
app.add_typer(variable.app, name="variable")
app.add_typer(resumable_state.app, name="resumable-state")
app.add_typer(resume_request.app, name="resume-request")
app.add_typer(job.app, name="job")
app.add_typer(auth.app, name="auth")
app.add_typer(config_cmd.app, name="config")
health.register(app)


def _show_version(value: bool) -> None:
    if value:
        print(f"bldst {_version()}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    api_url: Annotated[Optional[str], typer.Option("--api-url", help=API_URL_HELP, show_default=False, metavar="URL")] = None,
    api_key: Annotated[Optional[str], typer.Option("--api-key", help=API_KEY_HELP, show_default=False, metavar="KEY")] = None,
    output: Annotated[Optional[ContextOutput], typer.Option("--output", "-o", help=OUTPUT_HELP, case_sensitive=False, show_default=False)] = None,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.", callback=_show_version, is_eager=True)] = False,
) -> None:
    ctx.obj = Globals(api_url=api_url, api_key=api_key, output=output.value if output else None)


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
    command = typer.main.get_command(app)
    try:
        result = command.main(args=argv, prog_name="bldst", standalone_mode=False)
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

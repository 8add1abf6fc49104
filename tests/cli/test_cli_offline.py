"""The real executable without a service: help, usage errors, service down, config file."""

from __future__ import annotations

import os
import pty
import select
import stat
import subprocess
import tomllib
from pathlib import Path

import pytest
import typer

from app.cli.main import app, main

from .conftest import Bldst, assert_one_line_error, bldst_executable, clean_env, free_port

SECRET = "top-secret-key-4242"


def command_paths() -> list[list[str]]:
    """Every group and command of the CLI, as argument lists."""
    return [path for path, _ in commands()]


def commands() -> list[tuple[list[str], object]]:
    found: list[tuple[list[str], object]] = []

    def walk(command, prefix: list[str]) -> None:
        found.append((prefix, command))
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            walk(sub, [*prefix, name])

    walk(typer.main.get_command(app), [])
    return found


ALL_PATHS = command_paths()


def test_the_design_commands_exist() -> None:
    names = {" ".join(p) for p in ALL_PATHS}
    for expected in [
        "build create", "build get", "build list", "build update-state", "build record-failure",
        "build resume-context", "build resume", "build resume-requests", "build cancel-resume",
        "artifact register", "artifact list", "artifact get", "artifact update", "artifact delete",
        "variable set", "variable list", "variable get", "variable delete",
        "resumable-state create", "resumable-state list", "resumable-state get", "resumable-state update",
        "resume-request get", "resume-request update", "resume-request list",
        "job link", "job list", "job update", "project create", "project list", "project get",
        "state-code create", "state-code list", "auth token", "health",
        "config set", "config get", "config list", "config unset", "config path",
    ]:
        assert expected in names


@pytest.mark.parametrize("path", ALL_PATHS, ids=lambda p: " ".join(p) or "bldst")
def test_every_help_is_complete(path: list[str], capsys) -> None:
    assert main([*path, "--help"]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"Usage: bldst {' '.join(path)}".rstrip())
    description = text.split("\n\n")[1].strip()
    assert description and "Options:" not in description, text


@pytest.mark.parametrize(("path", "command"), commands(), ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_every_option_and_argument_is_documented(path: list[str], command) -> None:
    assert (command.help or "").strip(), f"bldst {' '.join(path)} has no help text"
    for param in command.params:
        assert (getattr(param, "help", None) or "").strip(), f"bldst {' '.join(path)}: {param.name} has no help"


def test_help_from_the_executable(home: Path) -> None:
    result = Bldst(home)("--help")
    assert result.returncode == 0 and "Exit codes" in result.stdout and "resume-context" in Bldst(home)("build", "--help").stdout
    assert Bldst(home)("--version").stdout.startswith("bldst ")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["variable", "set", "b-1", "vm_id"], "malformed KEY=VALUE 'vm_id'"),
        (["variable", "set", "b-1", "ok=1", "=x"], "the key is empty"),
        (["build", "resume", "b-1", "--reason", "r", "--override", "novalue"], "malformed KEY=VALUE"),
        (["build", "update-state", "b-1", "--status", "completed"], "Missing option '--state'"),
        (["build", "create", "--project-id", "p"], "Missing option '--build-number'"),
        (["build", "create", "--project-id", "p", "--build-number", "seven"], "Invalid value for '--build-number'"),
        (["build", "update-state", "b-1", "--state", "1", "--status", "done"], "--status"),
        (["artifact", "register", "b-1", "--state", "1", "--name", "n", "--type", "t", "--path", "p"], "Missing option '--backend'"),
        (["build", "resume", "b-1"], "Missing option '--reason'"),
        (["build", "get"], "Missing argument 'BUILD'"),
        (["build", "get", "b-1", "--output", "env"], "--output"),
        (["-o", "env", "build", "get", "b-1"], "only available for `bldst build resume-context`"),
        (["build", "create", "--project-id", "p", "--build-number", "1", "--metadata", "{bad"], "--metadata is not valid JSON"),
        (["artifact", "update", "b-1", "a-1"], "nothing to change"),
        (["build", "frobnicate"], "No such command 'frobnicate'"),
        (["--api-url", "localhost:8080", "build", "get", "b-1"], "must start with http://"),
    ],
)
def test_usage_errors_exit_2_with_one_line(offline: Bldst, args: list[str], needle: str) -> None:
    assert_one_line_error(offline(*args), 2, needle)


def test_no_arguments_prints_help_and_exits_2(home: Path) -> None:
    result = Bldst(home)()
    assert result.returncode == 2 and "Usage: bldst" in result.stderr and "Traceback" not in result.stderr


def test_service_down_exits_3_fast_without_the_key(offline: Bldst) -> None:
    result = offline("build", "get", "b-1", "--api-key", SECRET, env={"BLDST_RETRIES": "2", "BLDST_BACKOFF": "0.01"})
    line = assert_one_line_error(result, 3, "cannot reach buildstate", "gave up after 3 attempts")
    assert SECRET not in line
    assert result.elapsed < 15
    write = offline("variable", "set", "b-1", "a=1", env={"BLDST_API_KEY": SECRET, "BLDST_RETRIES": "0"})
    assert_one_line_error(write, 3, "cannot reach")
    assert SECRET not in write.stderr


def test_service_down_for_resume_context_env(offline: Bldst) -> None:
    result = offline("build", "resume-context", "b-1", "--output", "env", env={"BLDST_RETRIES": "0"})
    assert_one_line_error(result, 3, "cannot reach")


def test_config_file_is_0600_and_never_shows_the_key(home: Path) -> None:
    cli = Bldst(home, api_key=None)
    port = free_port()
    assert cli("config", "set", "api_url", f"http://127.0.0.1:{port}").returncode == 0
    result = cli("config", "set", "api_key", input=SECRET + "\n")  # from stdin: not in shell history
    assert result.returncode == 0 and SECRET not in result.stdout + result.stderr
    path = Path(cli("config", "path").stdout.strip())
    assert path == home / ".config" / "bldst" / "config.toml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert tomllib.loads(path.read_text()) == {"api_url": f"http://127.0.0.1:{port}", "api_key": SECRET}
    shown = cli("config", "list", "-o", "json").json()
    assert shown == {"api_key": "********", "api_url": f"http://127.0.0.1:{port}"}
    assert cli("config", "get", "api_key").stdout.strip() == "********"
    # The file's URL is used (nothing listens there: exit 3), and the key is not printed.
    down = cli("build", "get", "b-1", env={"BLDST_RETRIES": "0"})
    assert_one_line_error(down, 3, f"127.0.0.1:{port}")
    assert SECRET not in down.stderr
    assert_one_line_error(cli("config", "set", "colour", "red"), 2, "unknown setting")
    assert cli("config", "unset", "api_key").returncode == 0
    assert "api_key" not in tomllib.loads(path.read_text())


def test_bldst_config_env_var_and_json_file(home: Path, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "bldst.json"
    cli = Bldst(home, api_key=None)
    result = cli("config", "set", "output", "yaml", env={"BLDST_CONFIG": str(target)})
    assert result.returncode == 0, str(result)
    assert target.read_text().strip().startswith("{") and stat.S_IMODE(target.stat().st_mode) == 0o600
    assert cli("config", "path", env={"BLDST_CONFIG": str(target)}).stdout.strip() == str(target)


def test_table_and_colour_only_on_a_terminal(home: Path) -> None:
    """On a terminal the default is a (coloured) table; piped, the default is JSON."""
    assert Bldst(home)("config", "set", "api_url", "http://127.0.0.1:8080").returncode == 0
    primary, replica = pty.openpty()
    env = clean_env(home)
    env.pop("NO_COLOR")
    env.update(TERM="xterm-256color", COLUMNS="120")
    proc = subprocess.Popen([bldst_executable(), "config", "list"], stdout=replica, stderr=replica, env=env, cwd=home)
    os.close(replica)
    chunks = b""
    while True:
        ready, _, _ = select.select([primary], [], [], 10)
        if not ready:
            break
        try:
            data = os.read(primary, 4096)
        except OSError:
            break
        if not data:
            break
        chunks += data
    proc.wait(timeout=10)
    os.close(primary)
    text = chunks.decode()
    assert proc.returncode == 0
    assert "\x1b[" in text  # colour on a terminal
    assert "┏" in text or "┃" in text or "│" in text  # a table, not JSON
    piped = Bldst(home)("config", "list")
    assert piped.json() == {"api_url": "http://127.0.0.1:8080"} and "\x1b[" not in piped.stdout


def test_the_key_is_not_echoed_by_usage_errors(offline: Bldst) -> None:
    # The key given where a number belongs still never shows up.
    result = offline("--api-key", SECRET, "build", "create", "--project-id", "p", "--build-number", SECRET)
    line = assert_one_line_error(result, 2, "--build-number")
    assert SECRET not in line
    bad = offline("build", "get", "b-1", env={"BLDST_API_KEY": "has space-" + SECRET})
    assert_one_line_error(bad, 2, "API key contains")
    assert SECRET not in bad.stderr

"""Fixtures that run the installed `bldst` executable, and a real service for it to talk to.

The service is `uvicorn app.main:app` on a free 127.0.0.1 port, over a fresh SQLite database that
`python -m db.migrate` created and whose demo keys `python -m app.manage` seeded.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
DEV_KEY = "dev-key-12345"
ADMIN_KEY = "admin-key-99999"
SERVICE_START_TIMEOUT = 60


def bldst_executable() -> str:
    candidate = Path(sys.executable).parent / "bldst"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("bldst")
    if found is None:
        pytest.fail("the bldst console script is not installed (pip install -e .)")
    return found


@dataclass
class Result:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    elapsed: float

    def json(self) -> Any:
        return json.loads(self.stdout)

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]

    def __str__(self) -> str:  # shown by pytest when an assertion fails
        return f"bldst {' '.join(self.args)} -> {self.returncode}\nstdout: {self.stdout}\nstderr: {self.stderr}"


def clean_env(home: Path) -> dict[str, str]:
    """The environment of a user with no bldst settings, and no proxy between us and 127.0.0.1."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BLDST_") and "proxy" not in k.lower()}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        NO_PROXY="127.0.0.1,localhost",
        BLDST_RETRIES="1",
        BLDST_BACKOFF="0.05",
        NO_COLOR="1",
    )
    env.pop("COLUMNS", None)
    return env


class Bldst:
    """Runs the real executable: `bldst("build", "get", build_id)`; JSON output unless told."""

    def __init__(self, home: Path, api_url: str | None = None, api_key: str | None = DEV_KEY) -> None:
        self.exe = bldst_executable()
        self.home = home
        self.api_url = api_url
        self.api_key = api_key

    def env(self, **extra: str | None) -> dict[str, str]:
        env = clean_env(self.home)
        if self.api_url:
            env["BLDST_API_URL"] = self.api_url
        if self.api_key:
            env["BLDST_API_KEY"] = self.api_key
        for key, value in extra.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env

    def __call__(self, *args: str, env: dict[str, str | None] | None = None, input: str | None = None, timeout: float = 60) -> Result:
        started = time.monotonic()
        proc = subprocess.run(
            [self.exe, *args], capture_output=True, text=True, env=self.env(**(env or {})),
            input=input, timeout=timeout, cwd=self.home,
        )
        return Result(list(args), proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)

    def ok(self, *args: str, **kw: Any) -> Any:
        """Run, insist on exit 0, and decode the JSON it printed."""
        result = self(*args, **kw)
        assert result.returncode == 0, str(result)
        return result.json() if result.stdout.strip() else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def assert_one_line_error(result: Result, code: int, *needles: str) -> str:
    """The documented exit code, one line on stderr, no traceback, nothing on stdout."""
    assert result.returncode == code, str(result)
    assert len(result.err_lines) == 1, str(result)
    assert "Traceback" not in result.stderr, str(result)
    assert result.stdout == "", str(result)
    line = result.err_lines[0]
    for needle in needles:
        assert needle.lower() in line.lower(), str(result)
    return line


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "home").mkdir()
    return tmp_path / "home"


@pytest.fixture
def offline(home: Path) -> Bldst:
    """bldst pointed at a port where nothing listens."""
    return Bldst(home, api_url=f"http://127.0.0.1:{free_port()}")


def _seed_demo_keys(env: dict[str, str], log: list[str]) -> None:
    # `prepare` (what `make run` uses: migrate + demo keys); `seed-demo-keys` is the older name.
    for command in (["prepare"], ["seed-demo-keys"]):
        proc = subprocess.run([sys.executable, "-m", "app.manage", *command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        log.append(f"app.manage {' '.join(command)} -> {proc.returncode}\n{proc.stdout}{proc.stderr}")
        if proc.returncode == 0:
            return
    pytest.fail("could not create the demo keys:\n" + "\n".join(log))


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real buildstate service on 127.0.0.1 with a fresh SQLite database; yields its URL."""
    if not (ROOT / "app" / "main.py").exists():
        pytest.skip("the service (app/main.py) does not exist yet")
    if os.environ.get("BUILDSTATE_TEST_BACKEND", "sqlite") != "sqlite":
        # bldst only speaks HTTP: its end-to-end tests run once, in the SQLite half of `make test`.
        pytest.skip("bldst end-to-end tests run in the SQLite half of the suite")
    workdir = tmp_path_factory.mktemp("bldst-service")
    url = f"sqlite://{workdir}/x.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUILDSTATE_")}
    env.update(BUILDSTATE_DATABASE_URL=url, BUILDSTATE_ENV="development")
    log: list[str] = []
    proc = subprocess.run([sys.executable, "-m", "db.migrate", url], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        pytest.fail(f"migration failed:\n{proc.stdout}{proc.stderr}")
    _seed_demo_keys(env, log)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = workdir / "uvicorn.log"
    with open(log_path, "w") as log_file:
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + SERVICE_START_TIMEOUT
        while True:
            if server.poll() is not None:
                pytest.fail(f"the service exited with {server.returncode}:\n{log_path.read_text()}")
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the service did not answer /health within {SERVICE_START_TIMEOUT}s:\n{log_path.read_text()}")
            time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture
def bldst(service: str, home: Path) -> Bldst:
    """bldst configured through BLDST_API_URL/BLDST_API_KEY (dev key: read + write)."""
    return Bldst(home, api_url=service, api_key=DEV_KEY)


@pytest.fixture(scope="session")
def api(service: str) -> Iterator[httpx.Client]:
    """Plain HTTP to the service, for setting the scene quickly (what is under test goes through bldst)."""
    with httpx.Client(base_url=service, headers={"X-API-Key": DEV_KEY}, timeout=30) as client:
        yield client


def call(api: httpx.Client, method: str, path: str, body: Any = None) -> Any:
    response = api.request(method, path, json=body)
    assert response.is_success, f"{method} {path}: {response.status_code} {response.text}"
    return response.json()


_counter = iter(range(1, 10**9))
STATES = ((10, "provision"), (20, "install-packages"), (30, "configure"), (35, "harden"), (100, "complete"))


@pytest.fixture
def project(api: httpx.Client) -> str:
    """A fresh project with state codes 10, 20, 30, 35 and 100 (final)."""
    project_id = f"proj-{os.getpid()}-{next(_counter)}"
    call(api, "POST", "/projects", {"id": project_id, "name": f"Project {project_id}"})
    for code, name in STATES:
        call(api, "POST", f"/projects/{project_id}/state-codes", {"code": code, "name": name, "is_final": code == 100, "is_initial": code == 10})
    return project_id


@pytest.fixture
def build(api: httpx.Client, project: str) -> dict[str, Any]:
    return call(api, "POST", "/builds", {"project_id": project, "build_number": next(_counter)})


def fail_at_35(api: httpx.Client, build_id: str) -> None:
    """States 10, 20 and 30 completed, then a failure at 35."""
    for code in (10, 20, 30):
        call(api, "POST", f"/builds/{build_id}/state", {"state_code": code, "status": "completed"})
    call(api, "POST", f"/builds/{build_id}/failure", {"state_code": 35, "error_message": "boom"})

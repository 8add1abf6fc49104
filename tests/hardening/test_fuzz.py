"""Schemathesis against /openapi.json (every check, all phases) and against the exported SDL,
both at once, against a real server process on 127.0.0.1 using the test database.

Pass criteria: zero failures — in particular zero server errors and zero undocumented status
codes. The few per-operation allowances are explained in schemathesis.toml and
schemathesis-graphql.toml. Example counts are bounded (about a minute per backend);
BUILDSTATE_FUZZ_EXAMPLES / BUILDSTATE_FUZZ_SEED change them for a longer or different run.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import httpx

from app.settings import Settings
from tests.conftest import ADMIN_KEY
from tests.hardening.conftest import server_env, uvicorn_server

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
EXAMPLES = os.environ.get("BUILDSTATE_FUZZ_EXAMPLES", "4")
SEED = os.environ.get("BUILDSTATE_FUZZ_SEED", "20261128")


async def _schemathesis(args: list[str], config: str, cwd: Path) -> tuple[int, str]:
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.hardening.st_hooks",
           "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(HERE / config), "run",
        *args, "--workers", "1", "--seed", SEED, "--no-color",
        cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 600)
    return proc.returncode, out.decode(errors="replace")


def _summary(output: str) -> str:
    tail = output[output.find("SUMMARY"):] if "SUMMARY" in output else output[-3000:]
    return "\n".join(line for line in tail.splitlines() if line.strip())


async def test_schemathesis_rest_and_graphql(database: Settings, tmp_path: Path):
    env = server_env(database, rate_limit_enabled="false")
    async with uvicorn_server(env) as (base, _):
        async with httpx.AsyncClient(base_url=base) as http:
            token = (await http.post("/auth/token", headers={"X-API-Key": ADMIN_KEY})).json()
        auth = ["-H", f"X-API-Key: {ADMIN_KEY}", "-H", f"Authorization: Bearer {token['access_token']}"]
        (rest_code, rest), (gql_code, gql) = await asyncio.gather(
            _schemathesis([f"{base}/openapi.json", *auth, "--max-examples", EXAMPLES],
                          "schemathesis.toml", tmp_path),
            _schemathesis([str(ROOT / "schema" / "schema.graphql"), "--url", f"{base}/graphql",
                           *auth, "--max-examples", str(int(EXAMPLES) * 3)],
                          "schemathesis-graphql.toml", tmp_path),
        )
    print("\n--- REST (/openapi.json) ---\n" + _summary(rest))
    print("\n--- GraphQL (schema/schema.graphql) ---\n" + _summary(gql))
    for name, code, output in (("REST", rest_code, rest), ("GraphQL", gql_code, gql)):
        assert code == 0, f"{name} fuzzing found problems:\n{output[-20000:]}"
        assert re.search(r"\d+ generated, \d+ passed", output), output[-3000:]

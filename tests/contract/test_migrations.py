"""Models and migrations agree, for both dialects: a model change without a migration fails here."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from db.config import MIGRATIONS_ROOT

CHECK = textwrap.dedent(
    """
    import asyncio, sys
    from aerich import Command
    from tortoise import Tortoise
    from db.config import tortoise_config

    async def main(url, location):
        cmd = Command(tortoise_config=tortoise_config(url), app="models", location=location)
        await cmd.init(offline=True)
        diff = await cmd.migrate(name="drift", no_input=True, offline=True)
        await Tortoise.close_connections()
        print("DRIFT:" + (diff or ""))

    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


@pytest.mark.parametrize("dialect", ["sqlite", "postgres"])
def test_models_match_the_latest_migration(dialect: str, tmp_path: Path) -> None:
    if dialect == "postgres":
        url = "postgres://postgres@127.0.0.1:5432/postgres"  # offline: no statement is sent
    else:
        url = f"sqlite://{tmp_path}/drift.db"
    location = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_ROOT / dialect, location / "x", dirs_exist_ok=True)
    result = subprocess.run(
        [sys.executable, "-c", CHECK, url, str(location / "x")],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    drift = result.stdout.strip().rsplit("DRIFT:", 1)[-1]
    written = sorted(p.name for p in (location / "x" / "models").glob("*.py"))
    assert drift == "", (
        f"models changed without a migration for {dialect}: aerich would write {drift} "
        f"({written}); run `aerich migrate` for both dialects (see README)"
    )


def test_partial_unique_indexes_are_in_both_initial_migrations() -> None:
    for dialect in ("sqlite", "postgres"):
        text = "".join(p.read_text() for p in (MIGRATIONS_ROOT / dialect / "models").glob("*.py"))
        assert "uq_build_artifacts_live_name" in text and "uq_resume_requests_open" in text

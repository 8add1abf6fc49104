"""Output formats, and the `env` lines that a shell evaluates."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import yaml

from app.cli import output
from app.cli.build_resume import context_from_graphql

NASTY = [
    "",
    "plain",
    "with space",
    "it's",
    'double "quotes"',
    "$(touch /tmp/bldst-pwned) `id` $HOME ${PATH}",
    "line1\nline2",
    "semi; rm -rf /; echo",
    "back\\slash",
    "ünïcødé ✓",
    "-n",
    "*",
    "a=b",
]


def test_env_name() -> None:
    assert output.env_name("vm_instance_id") == "VM_INSTANCE_ID"
    assert output.env_name("rhel9-snapshot-001") == "RHEL9_SNAPSHOT_001"
    assert output.env_name("a.b c/ü") == "A_B_C__"


def test_env_value_types() -> None:
    assert output.env_value(None) == "''"
    assert output.env_value(True) == "true"
    assert output.env_value(35) == "35"
    assert output.env_value({"b": 1}) == """'{"b": 1}'"""


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize("value", NASTY)
def test_env_lines_survive_eval(value: str, tmp_path) -> None:
    lines = output.env_lines([("BLDST_VAR_X", value), ("BLDST_EMPTY", None)], export=True)
    script = "\n".join(lines) + '\nprintf "%s" "$BLDST_VAR_X"; printf "|%s|" "$BLDST_EMPTY"'
    result = subprocess.run(["bash", "-c", 'eval "$1"', "bash", script], capture_output=True, text=True, cwd=tmp_path, check=True)
    assert result.stdout == f"{value}||"
    assert not (tmp_path / "bldst-pwned").exists()


def test_context_env_pairs() -> None:
    ctx = {
        "build_id": "b-1", "current_state": 30, "last_successful_state": 30, "failed_state": 35,
        "resume_from_state": 35, "can_resume": False, "blockers": ["missing variable vpc_id"],
        "missing_artifacts": [], "missing_variables": ["vpc_id"],
        "artifacts": [
            {"artifact_name": "rhel9-snapshot-001", "artifact_type": "vm_snapshot", "artifact_path": "s3://b/k"},
            {"artifact_name": "rhel9_snapshot_001", "artifact_type": "ami", "artifact_path": "ami-1"},
        ],
        "variables": {"vm-id": "i-1", "vm_id": "i-2"},
        "resumable_state_config": None,
    }
    pairs, warnings = output.context_env_pairs(ctx)
    env = dict(pairs)
    assert env["BLDST_BUILD_ID"] == "b-1"
    assert env["BLDST_RESUME_FROM_STATE"] == 35
    assert env["BLDST_CAN_RESUME"] is False
    assert env["BLDST_MISSING_VARIABLES"] == "vpc_id"
    assert env["BLDST_RESUME_COMMAND"] is None
    assert env["BLDST_VAR_VM_ID"] == "i-1"  # first (sorted) key wins; the other is reported
    assert env["BLDST_ARTIFACT_RHEL9_SNAPSHOT_001_PATH"] == "s3://b/k"
    assert env["BLDST_ARTIFACT_RHEL9_SNAPSHOT_001_TYPE"] == "vm_snapshot"
    assert len(warnings) == 3
    assert len(env) == len(pairs)


def test_context_from_graphql_keeps_user_metadata() -> None:
    gql = {
        "buildId": "b", "resumeFromState": 35, "canResume": True, "missingArtifacts": [],
        "artifacts": [{"artifactName": "snap", "stateCode": 20, "metadata": {"vmId": "i-1"}}],
        "variables": [{"key": "vm_id", "value": "i-1"}],
        "resumableStateConfig": {"stateCode": 35, "resumeTimeoutSeconds": 3600},
    }
    ctx = context_from_graphql(gql)
    assert ctx["build_id"] == "b" and ctx["resume_from_state"] == 35 and ctx["can_resume"] is True
    assert ctx["artifacts"] == [{"artifact_name": "snap", "state_code": 20, "metadata": {"vmId": "i-1"}}]
    assert ctx["variables"] == {"vm_id": "i-1"}
    assert ctx["resumable_state_config"] == {"state_code": 35, "resume_timeout_seconds": 3600}
    assert context_from_graphql({"resumableStateConfig": None, "variables": None})["variables"] == {}


def test_emit_formats(capsys) -> None:
    data = {"id": "x", "n": 1, "tags": ["a"], "none": None}
    output.emit(data, "json")
    assert json.loads(capsys.readouterr().out) == data
    output.emit(data, "yaml")
    assert yaml.safe_load(capsys.readouterr().out) == data
    output.emit([data, {"id": "y"}], "table", columns=["id", "n"])
    table = capsys.readouterr().out
    assert "x" in table and "y" in table and "\x1b[" not in table  # no colour when not a terminal
    output.emit([], "table")
    assert capsys.readouterr().out == "(none)\n"


def test_default_format(monkeypatch) -> None:
    assert output.default_format("yaml") == "yaml"
    monkeypatch.setattr("sys.stdout.isatty", lambda: False)
    assert output.default_format(None) == "json"
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    assert output.default_format(None) == "table"

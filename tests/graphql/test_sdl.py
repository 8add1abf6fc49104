"""The committed SDL is the schema's contract: it must match what the code builds."""

from __future__ import annotations

import subprocess
import sys

from schema.export import SDL_PATH, sdl


def test_committed_sdl_matches_the_schema() -> None:
    committed = SDL_PATH.read_text(encoding="utf-8")
    assert committed == sdl(), (
        "schema/schema.graphql is out of date: run `python -m schema.export --write` and commit it"
    )


def test_export_prints_the_sdl() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "schema.export"], capture_output=True, text=True, check=True
    ).stdout
    assert out == sdl()


def test_contract_names_are_in_the_sdl() -> None:
    text = sdl()
    for needle in (
        "build(id: ID!): Build",
        "builds(projectId: ID = null, status: BuildStatus = null, first: Int! = 20, after: String = null): BuildConnection!",
        "project(id: ID!): Project",
        "projects(",
        "resumeRequest(id: ID!): ResumeRequest",
        "artifacts(stateCode: Int = null, artifactType: String = null, isResumable: Boolean = null, isFinal: Boolean = null): [Artifact!]!",
        "registerArtifact(buildId: ID!, input: RegisterArtifactInput!, idempotencyKey: String = null): RegisterArtifactResult!",
        "interface Error {",
        "type NotResumableError implements Error {",
        "scalar JSON",
    ):
        assert needle in text, needle

"""POST /builds/{id}/artifacts answers with orjson straight from the row: it must be byte for
byte what the declared response model, `ArtifactOut`, writes (what FastAPI wrote when the
handler returned the row), for every kind of value an artifact holds."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import orjson
import pytest

from app.rest.artifacts import artifact_json
from app.rest.schemas import ArtifactOut
from app.services import artifacts
from db.models import Artifact
from tests import factories as f
from tests.conftest import unique


def _through_the_model(row: Artifact) -> bytes:
    return ArtifactOut.model_validate(row).model_dump_json().encode()


BODIES = [
    {"state_code": 20, "artifact_name": "plain", "artifact_type": "vm_snapshot",
     "artifact_path": "s3://b/plain"},
    {"state_code": 30, "artifact_name": "full", "artifact_type": "disk_image",
     "artifact_path": "s3://b/full", "storage_backend": "s3", "storage_region": "eu-west-1",
     "storage_bucket": "b", "storage_key": "k/ü", "size_bytes": 2**63 - 1, "checksum": "c0ffee",
     "checksum_algorithm": "md5", "is_resumable": False, "is_final": True,
     "expires_at": "2031-05-06T07:08:09.5+02:00",
     "metadata": {"float": 0.1, "exp": 1e16, "whole": 2.0, "neg": -0.0, "unicode": "Zürich ✓ 🚀",
                  "ctrl": "a\u0001b\tc\n\"q\" \\ \u007f \u2028", "nested": [{"a": None}, [1, True]],
                  "int": -(2**63)}},
    {"state_code": 40, "artifact_name": "at-second", "artifact_type": "ami",
     "artifact_path": "ami-1", "expires_at": "2031-05-06T07:08:09Z"},
]


@pytest.mark.parametrize("body", BODIES, ids=[b["artifact_name"] for b in BODIES])
async def test_same_bytes_as_the_response_model(
    database, client, writer, body, monkeypatch
) -> None:
    """The handler used to return the service's row to FastAPI, which wrote
    `ArtifactOut.model_validate(row)` (the row as registered: metadata in the caller's key order,
    which a JSONB column does not keep; a read answers the stored document)."""
    registered: list[Artifact] = []
    service = artifacts.register_artifact

    async def keep(**kw):
        registered.append(await service(**kw))
        return registered[-1]

    monkeypatch.setattr(artifacts, "register_artifact", keep)
    pid = await f.project(writer)
    build = await f.build(writer, pid)
    answer = await client.post(f"/builds/{build.id}/artifacts", json=body)
    assert answer.status_code == 201, answer.text
    assert answer.headers["content-type"] == "application/json"
    (row,) = registered
    assert answer.content == _through_the_model(row)
    # The fast path itself, not the fallback through the model: every value is orjson's.
    fields = {k: getattr(row, k) for k in ArtifactOut.model_fields}
    assert orjson.dumps(fields, option=orjson.OPT_UTC_Z) == answer.content
    # And it is the stored row (same values; a JSONB document has its own key order).
    stored = ArtifactOut.model_validate(await Artifact.get(id=row.id)).model_dump(mode="json")
    assert orjson.loads(answer.content) == stored


def test_what_orjson_refuses_goes_through_the_model() -> None:
    row = Artifact(build_id=uuid.uuid4(), state_code=1, artifact_name="n", artifact_type="t",
                   artifact_path="p", metadata={"huge": 2**70})
    row.created_at = row.updated_at = datetime.now(timezone.utc)
    assert artifact_json(row) == _through_the_model(row)
    assert b"1180591620717411303424" in artifact_json(row)


async def test_duplicate_is_409_naming_the_existing_id_with_and_without_a_key(
    database, client, writer
) -> None:
    pid = await f.project(writer)
    build = await f.build(writer, pid)
    body = {"state_code": 20, "artifact_name": "dup", "artifact_type": "ami", "artifact_path": "a"}
    first = await client.post(f"/builds/{build.id}/artifacts", json=body)
    assert first.status_code == 201
    for headers in ({}, {"Idempotency-Key": unique("k")}):
        again = await client.post(f"/builds/{build.id}/artifacts", json=body, headers=headers)
        assert again.status_code == 409, again.text
        assert first.json()["id"] in again.text
    # The key's transaction is still usable after the refusal: a new name under a new key.
    other = await client.post(f"/builds/{build.id}/artifacts", headers={"Idempotency-Key": unique("k")},
                              json=body | {"artifact_name": "dup-2"})
    assert other.status_code == 201, other.text
    assert other.content == _through_the_model(await Artifact.get(id=other.json()["id"]))


async def test_unknown_build_is_404(database, client) -> None:
    body = {"state_code": 20, "artifact_name": "x", "artifact_type": "ami", "artifact_path": "a"}
    for build_id in ("00000000-0000-4000-8000-000000000000", "nope"):
        answer = await client.post(f"/builds/{build_id}/artifacts", json=body)
        assert answer.status_code == 404, answer.text

"""Artifacts and variables through mutations."""

from __future__ import annotations

import uuid

from db.models import Artifact, Event, Variable
from tests import factories
from tests.graphql.support import context_for, error, ok, outcome

ARTIFACT_FIELDS = "id artifactName artifactType stateCode isResumable storageRegion sizeBytes metadata version deletedAt"

REGISTER = f"""
mutation($id: ID!, $input: RegisterArtifactInput!) {{
  registerArtifact(buildId: $id, input: $input) {{
    {outcome("NotFoundError", "ConflictError", "ValidationError")}
    ... on Artifact {{ {ARTIFACT_FIELDS} }}
  }}
}}"""

SEED_ARTIFACT = {
    "stateCode": 20, "artifactName": "rhel9-snapshot-001", "artifactType": "vm_snapshot",
    "artifactPath": "s3://my-bucket/snapshots/snapshot-001.vmdk", "storageBackend": "s3",
    "storageRegion": "us-east-1", "storageBucket": "my-bucket",
    "storageKey": "snapshots/snapshot-001.vmdk", "isResumable": True,
    "metadata": {"vm_id": "i-abc123", "snapshot_id": "snap-xyz789"},
}


async def _build(writer):
    pid = await factories.project(writer)
    return await factories.build(writer, pid)


async def test_register_artifact(database, writer) -> None:
    b = await _build(writer)
    out = (await ok(REGISTER, writer, {"id": str(b.id), "input": {**SEED_ARTIFACT, "sizeBytes": "8589934592"}}))
    art = out["registerArtifact"]
    assert art["__typename"] == "Artifact"
    assert art["metadata"] == SEED_ARTIFACT["metadata"] and art["sizeBytes"] == 8589934592
    assert (art["version"], art["deletedAt"]) == (1, None)

    dup = (await ok(REGISTER, writer, {"id": str(b.id), "input": SEED_ARTIFACT}))["registerArtifact"]
    assert (dup["__typename"], dup["code"], dup["existingId"]) == ("ConflictError", "CONFLICT", art["id"])
    gone = (await ok(REGISTER, writer, {"id": str(uuid.uuid4()), "input": SEED_ARTIFACT}))
    assert gone["registerArtifact"]["__typename"] == "NotFoundError"
    assert await Artifact.filter(build_id=b.id).count() == 1


async def test_register_artifact_validation(database, writer) -> None:
    b = await _build(writer)
    cases = [
        ({"expiresAt": "2030-01-01T00:00:00"}, "expiresAt"),  # no timezone
        ({"sizeBytes": -1}, "sizeBytes"),
        ({"artifactName": ""}, "artifactName"),
        ({"metadata": "not an object"}, "metadata"),
        ({"isResumable": None}, "isResumable"),
    ]
    for change, field in cases:
        out = (await ok(REGISTER, writer, {"id": str(b.id), "input": {**SEED_ARTIFACT, **change}}))
        out = out["registerArtifact"]
        assert (out["__typename"], out["field"]) == ("ValidationError", field), change
    assert await Artifact.filter(build_id=b.id).count() == 0
    # A value GraphQL itself cannot coerce is a top-level GraphQL error, not a 500.
    err = await error(REGISTER, writer, {"id": str(b.id), "input": {**SEED_ARTIFACT, "sizeBytes": "lots"}})
    assert "sizeBytes" in err["message"] and "Unexpected" not in err["message"]


async def test_mutations_clear_what_the_request_already_loaded(database, writer) -> None:
    b = await _build(writer)
    doc = f"""mutation($id: ID!, $a: RegisterArtifactInput!, $b: RegisterArtifactInput!) {{
      first: registerArtifact(buildId: $id, input: $a) {{ ... on Artifact {{ build {{ artifacts {{ artifactName }} }} }} }}
      second: registerArtifact(buildId: $id, input: $b) {{ ... on Artifact {{ build {{ artifacts {{ artifactName }} }} }} }}
    }}"""
    data = await ok(doc, writer, {"id": str(b.id), "a": {**SEED_ARTIFACT, "artifactName": "a"},
                                  "b": {**SEED_ARTIFACT, "artifactName": "b"}})
    assert data["first"]["build"]["artifacts"] == [{"artifactName": "a"}]
    assert data["second"]["build"]["artifacts"] == [{"artifactName": "a"}, {"artifactName": "b"}]


async def test_a_write_alone_makes_no_loaders(database, writer) -> None:
    b = await _build(writer)
    context = context_for(writer)
    data = await ok(REGISTER, writer, {"id": str(b.id), "input": SEED_ARTIFACT}, context)
    assert data["registerArtifact"]["artifactName"] == SEED_ARTIFACT["artifactName"]
    assert context.loaders_made() is None  # nothing was loaded, so nothing to forget
    assert context.loaders is context.loaders_made()  # made on first use, then kept


UPDATE = f"""
mutation($build: ID!, $id: ID!, $input: UpdateArtifactInput!, $version: Int) {{
  updateArtifact(buildId: $build, artifactId: $id, input: $input, expectedVersion: $version) {{
    {outcome("NotFoundError", "ConflictError", "ValidationError", "PreconditionFailedError")}
    ... on Artifact {{ {ARTIFACT_FIELDS} }}
  }}
}}"""


async def test_update_artifact(database, writer) -> None:
    b = await _build(writer)
    first = (await ok(REGISTER, writer, {"id": str(b.id), "input": SEED_ARTIFACT}))["registerArtifact"]
    other = (await ok(REGISTER, writer, {"id": str(b.id), "input": {**SEED_ARTIFACT, "artifactName": "other"}}))
    other = other["registerArtifact"]

    def vars(input, version=None, ident=first["id"]):
        return {"build": str(b.id), "id": ident, "input": input, "version": version}

    out = (await ok(UPDATE, writer, vars({"isResumable": False, "storageRegion": None, "metadata": {"k": 1}}, 1)))
    out = out["updateArtifact"]
    assert (out["isResumable"], out["storageRegion"], out["metadata"], out["version"]) == (False, None, {"k": 1}, 2)

    stale = (await ok(UPDATE, writer, vars({"checksum": "abc"}, 1)))["updateArtifact"]
    assert (stale["__typename"], stale["code"], stale["currentVersion"]) == (
        "PreconditionFailedError", "PRECONDITION_FAILED", 2)
    clash = (await ok(UPDATE, writer, vars({"artifactName": "other"})))["updateArtifact"]
    assert (clash["__typename"], clash["existingId"]) == ("ConflictError", other["id"])
    null = (await ok(UPDATE, writer, vars({"isResumable": None})))["updateArtifact"]
    assert (null["__typename"], null["field"]) == ("ValidationError", "isResumable")
    for ident in (str(uuid.uuid4()), "nope"):
        missing = (await ok(UPDATE, writer, vars({"checksum": "x"}, ident=ident)))["updateArtifact"]
        assert missing["__typename"] == "NotFoundError"
    row = await Artifact.get(id=first["id"])
    assert (row.artifact_name, row.is_resumable, row.version, row.checksum) == (
        "rhel9-snapshot-001", False, 2, None)


DELETE = f"""
mutation($build: ID!, $id: ID!) {{
  deleteArtifact(buildId: $build, artifactId: $id) {{
    {outcome("NotFoundError")} ... on Artifact {{ id deletedAt build {{ artifacts {{ id }} }} }}
  }}
}}"""


async def test_delete_artifact_is_an_admin_soft_delete(database, writer, admin) -> None:
    b = await _build(writer)
    art = (await ok(REGISTER, writer, {"id": str(b.id), "input": SEED_ARTIFACT}))["registerArtifact"]
    refused = await error(DELETE, writer, {"build": str(b.id), "id": art["id"]})
    assert refused["extensions"]["code"] == "FORBIDDEN"

    out = (await ok(DELETE, admin, {"build": str(b.id), "id": art["id"]}))["deleteArtifact"]
    assert out["__typename"] == "Artifact" and out["deletedAt"] is not None
    assert out["build"]["artifacts"] == []
    again = (await ok(DELETE, admin, {"build": str(b.id), "id": art["id"]}))["deleteArtifact"]
    assert again["__typename"] == "NotFoundError"
    assert await Artifact.filter(id=art["id"]).count() == 1  # kept for the audit trail
    # The name is free again once the artifact is deleted.
    reused = (await ok(REGISTER, writer, {"id": str(b.id), "input": SEED_ARTIFACT}))["registerArtifact"]
    assert reused["__typename"] == "Artifact"


SET = f"""
mutation($id: ID!, $input: SetVariableInput!) {{
  setVariable(buildId: $id, input: $input) {{
    {outcome("NotFoundError", "ValidationError")}
    ... on VariableSet {{ created variable {{ key value type setAtState isSensitive isRequiredForResume }} }}
  }}
}}"""


async def test_set_variable_upserts_and_masks(database, writer) -> None:
    b = await _build(writer)
    made = (await ok(SET, writer, {"id": str(b.id), "input": {
        "key": "vm_instance_id", "value": "i-0123456789abcdef", "setAtState": 20,
        "isRequiredForResume": True}}))["setVariable"]
    assert made == {"__typename": "VariableSet", "created": True, "variable": {
        "key": "vm_instance_id", "value": "i-0123456789abcdef", "type": "string",
        "setAtState": 20, "isSensitive": False, "isRequiredForResume": True}}
    replaced = (await ok(SET, writer, {"id": str(b.id), "input": {"key": "vm_instance_id", "value": "i-2"}}))
    replaced = replaced["setVariable"]
    assert replaced["created"] is False
    assert replaced["variable"]["isRequiredForResume"] is True  # flags not given are kept
    secret = (await ok(SET, writer, {"id": str(b.id), "input": {"key": "pw", "value": "hunter2", "type": "encrypted"}}))
    assert secret["setVariable"]["variable"]["value"] == "******"
    assert secret["setVariable"]["variable"]["isSensitive"] is True
    stored = await Variable.get(build_id=b.id, variable_key="pw")
    assert "hunter2" not in stored.variable_value  # encrypted at rest
    events = await Event.filter(build_id=b.id, action="variable.set")
    assert "hunter2" not in str([e.data for e in events])


async def test_set_variable_errors(database, writer) -> None:
    b = await _build(writer)
    bad = (await ok(SET, writer, {"id": str(b.id), "input": {"key": "has space", "value": "x"}}))
    assert (bad["setVariable"]["__typename"], bad["setVariable"]["field"]) == ("ValidationError", "key")
    assert bad["setVariable"]["message"].startswith("key:")
    gone = (await ok(SET, writer, {"id": "garbage", "input": {"key": "k", "value": "x"}}))
    assert gone["setVariable"]["__typename"] == "NotFoundError"
    assert await Variable.filter(build_id=b.id).count() == 0


DELETE_VARIABLE = f"""
mutation($id: ID!, $key: String!) {{
  deleteVariable(buildId: $id, key: $key) {{ {outcome("NotFoundError")} ... on VariableDeleted {{ buildId key }} }}
}}"""


async def test_delete_variable(database, writer) -> None:
    b = await _build(writer)
    await ok(SET, writer, {"id": str(b.id), "input": {"key": "k", "value": "v"}})
    out = (await ok(DELETE_VARIABLE, writer, {"id": str(b.id), "key": "k"}))["deleteVariable"]
    assert out == {"__typename": "VariableDeleted", "buildId": str(b.id), "key": "k"}
    again = (await ok(DELETE_VARIABLE, writer, {"id": str(b.id), "key": "k"}))["deleteVariable"]
    assert (again["__typename"], again["code"]) == ("NotFoundError", "NOT_FOUND")

"""Every root field declares the scope it needs; missing credentials and scopes are refused."""

from __future__ import annotations

import pytest
from strawberry.permission import PermissionExtension
from strawberry.types.base import StrawberryObjectDefinition

from schema.permissions import CanRead, CanWrite, IsAdmin, ScopePermission
from schema.schema import schema
from tests.conftest import make_actor
from tests.graphql.support import error, execute

ADMIN_ONLY = {"deleteArtifact", "createWebhookSubscription", "deleteWebhookSubscription"}
ADMIN_QUERIES = {"webhookSubscriptions", "webhookDeliveries"}  # outbound webhooks (issue 4)


def _scopes(root: str) -> dict[str, set[type[ScopePermission]]]:
    definition = schema.get_type_by_name(root)
    assert isinstance(definition, StrawberryObjectDefinition)
    out: dict[str, set[type[ScopePermission]]] = {}
    for field in definition.fields:
        name = schema.config.name_converter.get_graphql_name(field)
        # What runs is the PermissionExtension, not the declaration: walk the extensions.
        declared: set[type[ScopePermission]] = set()
        for extension in field.extensions:
            if isinstance(extension, PermissionExtension):
                declared |= {
                    type(p) for p in extension.permissions if isinstance(p, ScopePermission)
                }
        out[name] = declared
    return out


@pytest.mark.parametrize("root", ["Query", "Mutation", "Subscription"])
def test_every_root_field_declares_a_scope(root: str) -> None:
    fields = _scopes(root)
    assert fields, f"{root} has no fields?"
    missing = sorted(name for name, declared in fields.items() if not declared)
    assert not missing, f"{root} fields without a scope permission: {missing}"


def test_reads_need_read_and_writes_need_write() -> None:
    for name, declared in _scopes("Query").items():
        assert declared == ({IsAdmin} if name in ADMIN_QUERIES else {CanRead}), name
    for name, declared in _scopes("Mutation").items():
        assert declared == ({IsAdmin} if name in ADMIN_ONLY else {CanWrite}), name


def test_the_walk_covers_the_contract() -> None:
    assert set(_scopes("Query")) == {"build", "builds", "project", "projects", "resumeRequest",
                                     "auditEvents", "stats", *ADMIN_QUERIES}
    assert _scopes("Subscription") == {"buildEvents": {CanRead}, "resumeRequestUpdates": {CanRead}}
    assert {
        "createProject", "defineStateCode", "createBuild", "transitionBuild", "recordFailure",
        "cancelBuild", "registerArtifact", "updateArtifact", "deleteArtifact", "setVariable",
        "deleteVariable", "requestResume", "updateResumeRequest", "defineResumableState",
        "updateResumableState", "linkJob", "updateJob",
    } <= set(_scopes("Mutation"))


QUERY = "query { projects { id } }"
MUTATION = 'mutation { createProject(input: {id: "nope", name: "x"}) { __typename } }'
DELETE = 'mutation { deleteArtifact(buildId: "x", artifactId: "y") { __typename } }'


async def test_no_credential_is_unauthenticated(database) -> None:
    for doc in (QUERY, MUTATION, 'query { build(id: "x") { id } }'):
        err = await error(doc, None)
        assert err["extensions"]["code"] == "UNAUTHENTICATED", doc


async def test_missing_scope_is_forbidden(database) -> None:
    nobody = make_actor("nobody")  # a key with no scope at all
    assert (await error(QUERY, nobody))["extensions"]["code"] == "FORBIDDEN"
    reader = make_actor("reader", "read")
    err = await error(MUTATION, reader)
    assert err["extensions"] == {"code": "FORBIDDEN", "scope": "write"}
    assert err["path"] == ["createProject"]
    writer = make_actor("writer", "write")
    assert (await error(DELETE, writer))["extensions"]["code"] == "FORBIDDEN"


async def test_refused_mutation_changes_nothing(database) -> None:
    result = await execute(MUTATION, make_actor("reader", "read"))
    assert result.data is None
    from db.models import Project

    assert not await Project.exists(id="nope")

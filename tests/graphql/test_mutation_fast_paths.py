"""The shortcuts of the mutations' request path answer exactly as Strawberry's generic path.

- Mutation inputs are built by `built_directly` (schema/mutations/base.py), Strawberry's
  `from_input` hook, instead of Strawberry's per-field conversion: both are run here on the
  same coerced values and must build the same objects.
- Mutation arguments carry their GraphQL names from import on (`arguments_named_once`).
- registerArtifact's answers to bad input (typed errors in the result union, top-level GraphQL
  errors for what the document or its variables cannot be coerced to) are pinned as they were
  before the shortcuts.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    coerce_input_value,
    get_nullable_type,
)
from strawberry.types.arguments import convert_argument
from strawberry.types.unset import UNSET

from schema.mutations.base import arguments_named_once
from schema.schema import schema
from tests import factories
from tests.graphql.support import error, ok, outcome

SCALARS: dict[str, Any] = {
    "String": "  text  ", "Int": 7, "Float": 1.5, "Boolean": True, "ID": "id-1",
    "DateTime": "2030-01-01T00:00:00+00:00", "Date": "2030-01-01",
    "JSON": {"a": [1, None, {"b": "c"}]}, "BigInt": "8589934592",
}
MODES = ("all", "required", "nulls")


def _inputs() -> dict[str, GraphQLInputObjectType]:
    return {name: t for name, t in schema._schema.type_map.items()
            if isinstance(t, GraphQLInputObjectType)}


def _definition(t: GraphQLInputObjectType) -> Any:
    return t.extensions["strawberry-definition"]


def _mutation_inputs() -> set[str]:
    """Input types reachable from the Mutation root's arguments."""
    found: set[str] = set()

    def walk(t: Any) -> None:
        t = get_nullable_type(t)
        while isinstance(t, GraphQLList):
            t = get_nullable_type(t.of_type)
        if isinstance(t, GraphQLInputObjectType) and t.name not in found:
            found.add(t.name)
            for f in t.fields.values():
                walk(f.type)

    mutation = schema._schema.mutation_type
    assert mutation is not None
    for field in mutation.fields.values():
        for arg in field.args.values():
            walk(arg.type)
    return found


def _sample(t: Any, mode: str, depth: int = 0) -> Any:
    """A raw (JSON) value for a GraphQL input type, as a client would send it."""
    t = get_nullable_type(t)
    if isinstance(t, GraphQLList):
        return [_sample(t.of_type, mode, depth), _sample(t.of_type, mode, depth)]
    if isinstance(t, GraphQLEnumType):
        return list(t.values)[depth % len(t.values)]
    if isinstance(t, GraphQLInputObjectType):
        out = {}
        for name, f in t.fields.items():
            required = isinstance(f.type, GraphQLNonNull)
            if mode == "required" and not required:
                continue
            out[name] = None if (mode == "nulls" and not required) else _sample(
                f.type, mode, depth + 1)
        return out
    return SCALARS[t.name]


def _plain(value: Any) -> Any:
    """A comparable picture of a built input: its class and every field, recursively."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value).__qualname__,
                {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)})
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if value is UNSET:
        return "<UNSET>"
    return (type(value).__name__, value)


def _convert(value: Any, cls: type) -> Any:
    return convert_argument(value, cls, schema.schema_converter.scalar_registry, schema.config,
                            None, path=("input",))


def test_every_mutation_input_is_built_directly() -> None:
    inputs = _inputs()
    mutation_inputs = _mutation_inputs()
    assert {"RegisterArtifactInput", "RequestResumeInput", "VariableOverrideInput"} <= mutation_inputs
    for name in mutation_inputs:
        assert _definition(inputs[name]).from_input is not None, name
    # The query filters keep Strawberry's own conversion (not ours to change).
    assert _definition(inputs["EventFilter"]).from_input is None


@pytest.mark.parametrize("mode", MODES)
def test_built_directly_equals_strawberrys_conversion(mode: str) -> None:
    inputs = {name: t for name, t in _inputs().items() if _definition(t).from_input is not None}
    hooks = {name: _definition(t).from_input for name, t in inputs.items()}
    for name, t in sorted(inputs.items()):
        cls = _definition(t).origin
        coerced = coerce_input_value(_sample(t, mode), t)
        ours = _convert(coerced, cls)
        for other in inputs.values():  # Strawberry's generic path, nested inputs included
            _definition(other).from_input = None
        try:
            theirs = _convert(coerced, cls)
        finally:
            for other_name, other in inputs.items():
                _definition(other).from_input = hooks[other_name]
        assert type(ours) is cls, name
        assert _plain(ours) == _plain(theirs), (name, mode)
        # Lists are copies, as Strawberry makes them (graphql-core may share default values).
        for f in dataclasses.fields(ours):
            value = getattr(ours, f.name)
            if isinstance(value, list):
                assert not any(value is v for v in coerced.values()), (name, f.name)


def test_omitted_fields_stay_unset_and_given_nulls_stay_null() -> None:
    t = _inputs()["RegisterArtifactInput"]
    cls = _definition(t).origin
    base = {"stateCode": 20, "artifactName": "a", "artifactType": "t", "artifactPath": "p"}
    built = _convert(coerce_input_value({**base, "storageBackend": None}, t), cls)
    assert built.storage_backend is None and built.storage_region is UNSET
    assert (built.state_code, built.artifact_name) == (20, "a")


def test_arguments_carry_the_names_the_schema_gives_them() -> None:
    definition = schema.get_type_by_name("Mutation")
    assert definition is not None
    names = set()
    for field in definition.fields:
        arguments_named_once(field)  # idempotent
        for argument in field.arguments:
            assert argument.graphql_name == schema.config.name_converter.apply_naming_config(
                argument.python_name), (field.python_name, argument.python_name)
            names.add(argument.graphql_name)
    assert {"buildId", "input", "idempotencyKey"} <= names


# --- registerArtifact's answers to bad input, as before the shortcuts ----------------------

REGISTER = f"""
mutation($id: ID!, $input: RegisterArtifactInput!) {{
  registerArtifact(buildId: $id, input: $input) {{
    {outcome("NotFoundError", "ConflictError", "ValidationError")}
    ... on Artifact {{ artifactName storageBackend checksumAlgorithm isResumable metadata }}
  }}
}}"""
GOOD = {"stateCode": 20, "artifactName": "a1", "artifactType": "vm_snapshot",
        "artifactPath": "s3://b/a1.vmdk"}


async def _build(writer: Any) -> Any:
    return await factories.build(writer, await factories.project(writer))


# (input change, the ValidationError's field and message) as the base commit answered them.
REFUSED = [
    ({"checksumAlgorithm": None}, "checksumAlgorithm",
     "checksumAlgorithm: Input should be a valid string"),  # a column without NULL
    ({"isFinal": None}, "isFinal", "isFinal: Input should be a valid boolean"),
    ({"metadata": None}, "metadata", "metadata: Input should be a valid dictionary"),
    ({"artifactName": "x" * 256}, "artifactName",
     "artifactName: Value error, must be at most 255 characters"),
    ({"artifactType": "nul\x00"}, "artifactType",
     "artifactType: Value error, the value must not contain NUL characters"),
    ({"stateCode": -1}, "stateCode", "stateCode: Input should be greater than or equal to 0"),
    ({"metadata": {"n": 2**64}}, "metadata",
     "metadata: Value error, the document holds an integer outside the 64-bit range"),
]


async def test_typed_errors_for_values_the_command_refuses(database, writer) -> None:
    b = await _build(writer)
    for change, field, message in REFUSED:
        data = await ok(REGISTER, writer, {"id": str(b.id), "input": {**GOOD, **change}})
        assert data["registerArtifact"] == {
            "__typename": "ValidationError", "code": "VALIDATION", "field": field,
            "message": message}, change
    missing = await ok(REGISTER, writer, {"id": str(uuid.uuid4()), "input": GOOD})
    assert missing["registerArtifact"]["__typename"] == "NotFoundError"
    bad_id = await ok(REGISTER, writer, {"id": "not-a-uuid", "input": GOOD})
    assert bad_id["registerArtifact"]["__typename"] == "NotFoundError"


async def test_explicit_nulls_and_omissions(database, writer) -> None:
    b = await _build(writer)
    data = await ok(REGISTER, writer, {"id": str(b.id), "input": {**GOOD, "storageBackend": None}})
    assert data["registerArtifact"] == {
        "__typename": "Artifact", "artifactName": "a1", "storageBackend": None,
        "checksumAlgorithm": "sha256", "isResumable": True, "metadata": {}}


async def test_inline_input_literal_is_built_the_same(database, writer) -> None:
    b = await _build(writer)
    doc = f"""mutation {{ registerArtifact(buildId: "{b.id}", input: {{stateCode: 20,
      artifactName: "lit", artifactType: "t", artifactPath: "p", sizeBytes: "12",
      metadata: {{k: [1, "two"]}}, isResumable: false}}) {{
      __typename ... on Artifact {{ artifactName isResumable metadata }} }} }}"""
    out = (await ok(doc, writer))["registerArtifact"]
    assert out == {"__typename": "Artifact", "artifactName": "lit", "isResumable": False,
                   "metadata": {"k": [1, "two"]}}


@pytest.mark.parametrize(("change", "message"), [
    ({"bogus": 1}, "Variable '$input' has invalid value: Expected value of type "
     "'RegisterArtifactInput' not to include unknown field 'bogus', found: {'stateCode': 20, "
     "'artifactName': 'a1', 'artifactType': 'vm_snapshot', 'artifactPath': 's3://b/a1.vmdk', "
     "'bogus': 1}."),
    ({"stateCode": True}, "Variable '$input' has invalid value at .stateCode: Int cannot "
     "represent non-integer value: True"),
    ({"artifactName": None}, "Variable '$input' has invalid value at .artifactName: Expected "
     "value of non-null type 'String!' not to be None."),
])
async def test_values_graphql_cannot_coerce_are_top_level_errors(database, writer, change,
                                                                 message) -> None:
    b = await _build(writer)
    err = await error(REGISTER, writer, {"id": str(b.id), "input": {**GOOD, **change}})
    assert err == {"message": message, "locations": [{"line": 2, "column": 20}]}


async def test_permission_errors_are_unchanged(database, reader) -> None:
    err = await error(REGISTER, reader, {"id": str(uuid.uuid4()), "input": GOOD})
    assert err["message"] == "this field needs the 'write' scope"
    assert err["extensions"] == {"code": "FORBIDDEN", "scope": "write"}
    assert err["path"] == ["registerArtifact"]
    err = await error(REGISTER, None, {"id": str(uuid.uuid4()), "input": GOOD})
    assert err["extensions"] == {"code": "UNAUTHENTICATED"}
    assert err["path"] == ["registerArtifact"]

"""Running documents against the schema with a real database behind it."""

from __future__ import annotations

from typing import Any

from strawberry.types import ExecutionResult

from app.services.actor import Actor
from app.settings import Settings
from schema.context import Context
from schema.schema import schema

SETTINGS = Settings()


def context_for(actor: Actor | None) -> Context:
    return Context(request=None, actor=actor, settings=SETTINGS)


async def execute(
    doc: str, actor: Actor | None, variables: dict[str, Any] | None = None,
    context: Context | None = None,
) -> ExecutionResult:
    return await schema.execute(
        doc, variable_values=variables, context_value=context or context_for(actor)
    )


async def ok(
    doc: str, actor: Actor | None, variables: dict[str, Any] | None = None,
    context: Context | None = None,
) -> dict[str, Any]:
    """The data of a document that must run without any top-level error."""
    result = await execute(doc, actor, variables, context)
    assert result.errors is None, [
        (e.message, e.path, e.extensions, e.original_error) for e in result.errors
    ]
    assert result.data is not None
    return result.data


async def error(
    doc: str, actor: Actor | None, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The one top-level error a document must fail with, as the client would see it."""
    result = await execute(doc, actor, variables)
    assert result.errors, f"expected an error, got {result.data}"
    assert len(result.errors) == 1, [e.formatted for e in result.errors]
    return result.errors[0].formatted



def outcome(*errors: str) -> str:
    """The selection for a mutation's result: its type name, and the fields of the errors its
    union lists (GraphQL refuses fragments on types a union cannot hold)."""
    extra = {
        "ConflictError": "existingId",
        "ValidationError": "field",
        "InvalidTransitionError": "currentStatus",
        "NotResumableError": "missingArtifacts missingVariables reasons",
        "PreconditionFailedError": "currentVersion",
        "NotFoundError": "",
    }
    parts = [f"... on {name} {{ {extra[name]} }}" for name in errors if extra[name]]
    return "__typename ... on Error { message code } " + " ".join(parts)

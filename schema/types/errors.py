"""The typed outcomes of a mutation that did not succeed; all implement `Error`."""

from __future__ import annotations

import strawberry


@strawberry.interface(description="An expected failure of a mutation, with a stable code.")
class Error:
    message: str = strawberry.field(description="What went wrong, for people.")
    code: str = strawberry.field(description="Stable machine-readable code (e.g. NOT_FOUND).")


@strawberry.type(description="The id names nothing that exists (a malformed id included).")
class NotFoundError(Error):
    pass


@strawberry.type(description="A uniqueness rule: something with that name or number exists.")
class ConflictError(Error):
    existing_id: strawberry.ID | None = strawberry.field(
        default=None, description="Id of the row that is in the way, when known."
    )


@strawberry.type(description="Input that breaks a rule.")
class ValidationError(Error):
    field: str | None = strawberry.field(
        default=None, description="The input field at fault (camelCase path), when one is."
    )


@strawberry.type(description="The move is not allowed from the current status.")
class InvalidTransitionError(Error):
    current_status: str | None = strawberry.field(
        default=None, description="The status that does not allow the move."
    )


@strawberry.type(description="The build cannot be resumed from the chosen state: what is missing.")
class NotResumableError(Error):
    missing_artifacts: list[str] = strawberry.field(default_factory=list)
    missing_variables: list[str] = strawberry.field(default_factory=list)
    reasons: list[str] = strawberry.field(default_factory=list)


@strawberry.type(description="The row changed since the version the caller read.")
class PreconditionFailedError(Error):
    current_version: int | None = strawberry.field(default=None)
